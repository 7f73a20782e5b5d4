"""Fixtures for the emulator conformance tests.

``api`` is an ``httpx.Client`` with the demo credentials, parametrized over two transports:
"http" (uvicorn on 127.0.0.1, a free port, via ``serve_emulator``) and "asgi" (in-process via
``httpx.ASGITransport``). Both talk to the same session-wide ``Emulator`` whose wall clock,
monotonic clock and sleep are one ``FakeClock`` (``clock``: its sleeps record the fault delays
without moving its monotonic time, which the rate-limit tests step themselves); the ``emulator``
fixture resets it and sets the time to ``START`` for every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import httpx
import pytest

from reconciler.emulator import Emulator, Faults, create_app
from reconciler.testing import serve_emulator
from tests.emulator.helpers import AUTH, START
from tests.kit.clock import FakeClock


class PortalTransport(httpx.BaseTransport):
    """A sync transport running ``httpx.ASGITransport`` on an event loop in another thread.

    Lets one synchronous test body drive both the real server and the in-process app.
    """

    def __init__(self, app: Any, portal: anyio.from_thread.BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return response.status_code, response.headers.raw, body

        status, headers, body = self._portal.call(run)
        return httpx.Response(status, headers=headers, content=body, request=request)


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock(START, advance=False)


@pytest.fixture(scope="session")
def shared_emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock.wall, sleep=clock.sleep, monotonic=clock.monotonic)


@pytest.fixture(scope="session")
def served_url(shared_emulator: Emulator) -> Iterator[str]:
    with serve_emulator(shared_emulator) as url:
        yield url


@pytest.fixture(scope="session")
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as p:
        yield p


@pytest.fixture
def emulator(shared_emulator: Emulator, clock: FakeClock) -> Emulator:
    """The session emulator, emptied, faults off, at ``START``."""
    shared_emulator.faults = Faults()
    shared_emulator.max_active = 1000
    shared_emulator.reset()
    shared_emulator.set_time(START)
    clock.sleeps.clear()
    clock.now += 1000.0  # far from any previous bucket state
    return shared_emulator


@pytest.fixture(params=["http", "asgi"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api(
    request: pytest.FixtureRequest,
    transport_kind: str,
    emulator: Emulator,
    portal: anyio.from_thread.BlockingPortal,
) -> Iterator[httpx.Client]:
    """An authenticated client of the emulator, over real HTTP or in-process."""
    if transport_kind == "http":
        url = request.getfixturevalue("served_url")
        client = httpx.Client(base_url=url, auth=AUTH, timeout=5.0)
    else:
        transport = PortalTransport(create_app(emulator), portal)
        client = httpx.Client(base_url="http://emulator", auth=AUTH, transport=transport)
    with client:
        yield client


@pytest.fixture
def anon(api: httpx.Client) -> httpx.Client:
    """The same client without credentials (control plane, auth tests)."""
    api.auth = None  # type: ignore[assignment]
    return api
