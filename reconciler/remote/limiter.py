"""The controller's rate and window applied to asyncio callers: a slot of the window, then a token.

- ``TokenBucket`` spaces requests at the current rate.
- ``_Gate`` is the window: a semaphore whose size follows the controller's ``window``.
- ``Limiter`` puts them together with the ``RateController`` (``ratelimit``, which decides the
  rate and the window from the answers) for the client's attempts (``transport``).

The clock and the sleep are parameters so that tests check the pacing without waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from reconciler.remote.ratelimit import Clock, Outcome, RateController, Ticket

Sleep = Callable[[float], Awaitable[None]]

# Shorter waits are not worth a trip through the event loop; the debt is not forgotten (the
# next reservation starts later), so the long-run rate still holds.
MIN_SLEEP = 0.001


class TokenBucket:
    """A token bucket of ``burst`` tokens refilled at ``rate`` per second.

    Implemented as the equivalent "generic cell rate algorithm": every caller reserves the next
    free send time synchronously, then sleeps until it. Reservations are made in call order, so
    waiting callers are served first come, first served, without a lock. A lower rate voids the
    reservations made at the old one: their holders take new ones when they wake.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._generation = 0
        self._tat = clock()  # theoretical arrival time of the next request
        self._set(rate)

    def set_rate(self, rate: float) -> None:
        """Refill at ``rate`` per second from now on.

        A higher rate keeps the reservations already made; a lower one voids them (their
        holders would otherwise still go out at the old rate, which the server just refused).
        """
        if rate < self.rate:
            self._generation += 1
            self._tat = self._clock() + 1.0 / rate
        self._set(rate)

    def _set(self, rate: float) -> None:
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (self.burst - 1) * self._interval

    def reserve(self) -> float:
        """Take one token; return how many seconds the caller must wait before using it."""
        now = self._clock()
        tat = max(self._tat, now)
        self._tat = tat + self._interval
        return max(0.0, tat - self._tolerance - now)

    async def acquire(self) -> float:
        """Wait until one request may be sent; return the time waited."""
        waited = 0.0
        while True:
            generation = self._generation
            wait = self.reserve()
            if wait >= MIN_SLEEP:
                await self._sleep(wait)
            waited += wait
            if self._generation == generation:
                return waited


class _Gate:
    """A semaphore whose size can change while tasks wait on it (first come, first served)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inside = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> None:
        while self._waiters and self._waiters[0].done():  # cancelled while waiting
            self._waiters.popleft()
        if self.inside < self.limit and not self._waiters:
            self.inside += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.leave()  # let in just before the cancellation: pass the place on
            raise

    def leave(self) -> None:
        self.inside -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        self.limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.inside < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.inside += 1
                future.set_result(None)


class Limiter:
    """The controller's rate and window applied: a slot of the window first, then a token.

    ``concurrency`` None sizes the window from the rate and the round trip; a number fixes it.
    ``limit`` is a limit remembered from an earlier run (``read_remembered_limit``).
    """

    def __init__(
        self,
        *,
        rate: float,
        concurrency: int | None = None,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        limit: float | None = None,
    ) -> None:
        self.controller = RateController(rate, concurrency=concurrency, clock=clock, limit=limit)
        self.bucket = TokenBucket(self.controller.rate, burst=burst, clock=clock, sleep=sleep)
        self._gate = _Gate(self.controller.window)
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def max_window(self) -> int:
        return self.controller.max_window

    def answered(self, ticket: Ticket, outcome: Outcome) -> None:
        self.controller.answered(ticket, outcome)
        self._apply()

    def lost(self, ticket: Ticket, *, timed_out: bool) -> None:
        self.controller.lost(ticket, timed_out=timed_out)
        self._apply()

    def refused_share(self, share: float) -> None:
        self.controller.refused_share(share)
        self._apply()

    def _apply(self) -> None:
        c = self.controller
        if c.rate != self.bucket.rate:
            self.bucket.set_rate(c.rate)
        window = c.window
        if window != self._gate.limit:
            self._gate.resize(window)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """Hold a place in the window; entered only once the rate allows a request.

        The place is taken before the token so that the token's time is the send time: a token
        taken while waiting for a place would let a burst through once places free up.
        """
        await self._gate.enter()
        try:
            await self.bucket.acquire()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield self.controller.ticket()
            finally:
                self.in_flight -= 1
        finally:
            self._gate.leave()
