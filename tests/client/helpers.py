"""Test doubles for the client: canary credentials, a scripted server, settings and clients."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.remote.client import EngageLabClient
from tests.kit import bodies
from tests.kit.clock import FakeClock

T = TypeVar("T")

# Canary credentials: no test output, message, log line or repr may ever contain these.
CANARY_KEY = "canaryAppKey0000000000XY"  # 24 characters, like a real AppKey
CANARY_SECRET = "canary-master-secret-7f3a9c"
CREDS = Credentials(app_key=CANARY_KEY, master_secret=CANARY_SECRET)
BASE = "https://pushapi-sgp.engagelab.com"

Reply = httpx.Response | Exception


def settings(**overrides: Any) -> ClientSettings:
    """Settings fast enough for tests: no rate-limit waits, small retry waits."""
    values: dict[str, Any] = {"base_url": BASE, "credentials": CREDS, "rate_limit": 1e6}
    values.update(overrides)
    return ClientSettings(**values)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def reply(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A JSON answer (``body`` None: empty body)."""
    content = b"" if body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    return httpx.Response(status, content=content, headers=hdrs)


def error(status: int, code: int, message: str, **kw: Any) -> httpx.Response:
    return reply(status, {"error": {"code": code, "message": message}}, **kw)


class UpperRng(random.Random):
    """Jitter that always picks the top of its range, so backoff caps become visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Script:
    """A server that answers each request with the next scripted reply (the last one repeats)."""

    replies: list[Reply]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(item, Exception):
            raise item
        return item

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


def client_for(
    handler: Callable[[httpx.Request], Any],
    *,
    clock: FakeClock | None = None,
    rng: random.Random | None = None,
    **overrides: Any,
) -> EngageLabClient:
    return EngageLabClient(
        settings(**overrides),
        transport=httpx.MockTransport(handler),
        sleep=(clock or FakeClock()).sleep,
        rng=rng or random.Random(0),
    )


def schedule_body(name: str = "weekly_digest") -> dict[str, Any]:
    """A valid API schedule body (docs/api.md section 2): weekly on Mondays to June."""
    trigger = bodies.periodical(end="2027-06-01 00:00:00")
    return bodies.body(name, alert="Weekly digest", trigger=trigger, sender=None)
