"""Virtual time for the rate controller's behaviour tests: an event loop whose clock jumps.

``VirtualLoop`` is an asyncio loop whose ``time()`` is a number that advances only when every
task is waiting: instead of blocking in ``select`` for the time to the next timer, it moves the
clock there. ``asyncio.sleep``, ``asyncio.timeout`` and the client's pacing all run on it, so a
minute of traffic at 500 requests/s takes a second or two of CPU and no real sleeping.

``RateLimitedServer`` is an ``httpx`` transport with a server-side token bucket (the emulator's
own, ``reconciler.emulator.faults.TokenBucket``: one second of burst), a latency, and a choice
of refusal shape: 429 with ``Retry-After``, or 400 with code 28100 "rate limit exceeded".
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import selectors
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from reconciler.config.connection import ClientSettings
from reconciler.emulator.faults import TokenBucket
from reconciler.remote.client import EngageLabClient
from tests.client.helpers import CREDS

T = TypeVar("T")
Shape = Literal["429", "400"]


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Never blocks: a wait for ``timeout`` seconds moves the loop's virtual clock instead."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            ready = super().select(0)
            if not ready:
                raise RuntimeError("virtual time: every task waits and no timer is due (deadlock)")
            return ready  # type: ignore[no-any-return]
        if timeout > 0:
            self._loop.now += timeout
        return super().select(0)  # type: ignore[no-any-return]


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 1000.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(make: Callable[[VirtualLoop], Coroutine[Any, Any, T]]) -> T:
    """Run ``make(loop)`` to completion on a fresh virtual-time loop."""
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(make(loop))
    finally:
        loop.close()


@dataclass
class Arrival:
    at: float
    status: int


@dataclass
class RateLimitedServer(httpx.AsyncBaseTransport):
    """A schedule API that allows ``limit`` requests/s; ``errors`` maps [start, end) windows of
    virtual time to a 503 answer for every request arriving in them."""

    loop: VirtualLoop
    limit: float | None
    latency: float = 0.05
    shape: Shape = "429"
    errors: list[tuple[float, float]] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    # None: the limit is a token bucket holding a second of it (the emulator's). A number: the
    # limit is counted per calendar second instead, the seconds starting at that fraction.
    calendar: float | None = None
    _second: tuple[int, int] = (0, 0)  # (calendar second, requests accepted in it)

    def __post_init__(self) -> None:
        self._bucket = TokenBucket(self.limit, self.loop.time) if self.limit else None
        if self.calendar is not None:
            self._bucket = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.latency / 2)  # on the way in
        now = self.loop.time()
        response = self._answer(request, now)
        self.arrivals.append(Arrival(now, response.status_code))
        await asyncio.sleep(self.latency / 2)  # on the way back
        return response

    def _answer(self, request: httpx.Request, now: float) -> httpx.Response:
        if any(start <= now < end for start, end in self.errors):
            return _json(503, {"error": {"code": 28203, "message": "Execute action timeout"}})
        if (self._bucket is not None and not self._bucket.take()) or self._over_calendar(now):
            if self.shape == "429":
                retry = "1" if self._bucket is None else str(self._bucket.retry_after())
                body = {"error": {"code": 28100, "message": f"rate limit exceeded: retry {retry}"}}
                return _json(429, body, {"Retry-After": retry})
            return _json(400, {"error": {"code": 28100, "message": "rate limit exceeded"}})
        schedule_id = request.url.path.rsplit("/", 1)[-1]
        return _json(200, [{"schedule_id": schedule_id, "name": f"task_{schedule_id}"}])

    def _over_calendar(self, now: float) -> bool:
        """Counted per calendar second: the request is one more than the limit in its second."""
        if self.calendar is None or self.limit is None:
            return False
        second = math.floor(now - self.calendar)
        count = self._second[1] if self._second[0] == second else 0
        if count >= self.limit:
            return True
        self._second = (second, count + 1)
        return False

    def accepted_between(self, start: float, end: float) -> int:
        return sum(1 for a in self.arrivals if start <= a.at < end and a.status == 200)

    def refused_between(self, start: float, end: float) -> int:
        return sum(1 for a in self.arrivals if start <= a.at < end and a.status in (400, 429))


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass
class Traffic:
    """The outcome of one simulated run."""

    server: RateLimitedServer
    client: EngageLabClient
    started: float
    finished: float
    failures: int

    @property
    def refused(self) -> int:
        return sum(1 for a in self.server.arrivals if a.status in (400, 429))

    @property
    def requests(self) -> int:
        return len(self.server.arrivals)

    def accepted_rate(self, start: float, end: float) -> float:
        """Accepted requests per second in [started + start, started + end)."""
        s, e = self.started + start, self.started + end
        return self.server.accepted_between(s, e) / (e - s)

    def refused_share(self, start: float, end: float) -> float:
        s, e = self.started + start, self.started + end
        total = self.server.accepted_between(s, e) + self.server.refused_between(s, e)
        return self.server.refused_between(s, e) / max(1, total)


def commands(
    *,
    limit: float,
    requests: list[int],
    pace_file: Path | None,
    shape: Shape = "429",
    gap: float = 0.5,
    latency: float = 0.05,
) -> list[Traffic]:
    """Commands one after another against one server, as a user runs them: each a new default
    client (a new process: nothing in memory carries over) sending ``requests[i]`` detail reads
    at once, ``gap`` seconds apart (a process's start-up); only ``pace_file`` is shared."""

    async def go(loop: VirtualLoop) -> list[Traffic]:
        server = RateLimitedServer(loop, limit, latency=latency, shape=shape)
        runs: list[Traffic] = []
        for count in requests:
            await asyncio.sleep(gap)
            first = len(server.arrivals)
            client = EngageLabClient(
                ClientSettings(
                    base_url="http://sim",
                    credentials=CREDS,
                    max_retries=50,
                    retry_budget_min=10_000,
                ),
                transport=server,
                clock=loop.time,
                rng=random.Random(0),
                pace_file=pace_file,
            )
            started = loop.time()
            async with client:
                results = await asyncio.gather(
                    *(client.get_schedule(f"id{i}") for i in range(count)),
                    return_exceptions=True,
                )
            failures = sum(1 for r in results if isinstance(r, BaseException))
            # This command's arrivals only (the server object is shared).
            own = RateLimitedServer(loop, None, arrivals=server.arrivals[first:])
            runs.append(Traffic(own, client, started, loop.time(), failures))
        return runs

    return run_virtual(go)


def traffic(
    *,
    limit: float | None,
    requests: int,
    ceiling: float = 500.0,
    concurrency: int | None = None,
    latency: float = 0.05,
    shape: Shape = "429",
    errors: list[tuple[float, float]] | None = None,
) -> Traffic:
    """``requests`` detail reads at once through a default client against the server."""

    async def go(loop: VirtualLoop) -> Traffic:
        server = RateLimitedServer(
            loop, limit, latency=latency, shape=shape, errors=list(errors or [])
        )
        settings = ClientSettings(
            base_url="http://sim",
            credentials=CREDS,
            rate_limit=ceiling,
            concurrency=concurrency,
            max_retries=50,
            retry_budget_min=10_000,
        )
        client = EngageLabClient(settings, transport=server, clock=loop.time, rng=random.Random(0))
        started = loop.time()
        async with client:
            results = await asyncio.gather(
                *(client.get_schedule(f"id{i}") for i in range(requests)),
                return_exceptions=True,
            )
        failures = sum(1 for r in results if isinstance(r, BaseException))
        return Traffic(server, client, started, loop.time(), failures)

    return run_virtual(go)
