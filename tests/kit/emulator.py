"""The emulator for tests: built at a fixed time, emptied between tests, reached in-process or
over uvicorn on 127.0.0.1, with or without a data file.

The fixtures in ``tests/conftest.py`` are built from these: ``shared_emulator`` (one per session,
a ``RecordingEmulator`` unless a directory's conftest overrides it), ``served_url`` (it served
on loopback), ``emulator`` (it emptied, its clock at ``emulator_start``), ``api`` (an httpx
client of it, over HTTP and in-process). ``frozen`` builds a separate one (other credentials,
a data file); ``in_process_client`` is the project's own client talking to one without sockets.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import anyio.from_thread
import httpx

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults, create_app
from reconciler.emulator.core import Reply
from reconciler.remote.client import EngageLabClient
from tests.kit.clock import FakeClock

# Every test manifest fires in 2027; the suite starts a month earlier so nothing is near firing.
START = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
AUTH = (DEMO_APP_KEY, DEMO_MASTER_SECRET)
BASE_URL = "http://emulator.test"  # what in-process clients call it; no request leaves


def frozen(at: datetime, **kwargs: Any) -> Emulator:
    """An emulator whose base clock stands at ``at`` (it moves only by ``set_time`` and
    ``advance``); ``kwargs`` as for ``Emulator`` (credentials, ``data_path``, faults, ...)."""
    return Emulator(clock=FakeClock(at).wall, **kwargs)


def reset(emulator: Emulator, at: datetime) -> None:
    """Empty, no faults, default limits, clock at ``at``, nothing logged."""
    emulator.faults = Faults()
    emulator.max_active = 1000
    emulator.reset()
    emulator.set_time(at)
    emulator.clear_log()


def fresh(emulator: Emulator, at: datetime) -> None:
    """``reset``, and for a ``RecordingEmulator`` its bodies and held answers too."""
    if isinstance(emulator, RecordingEmulator):
        emulator.fresh(at)
    else:
        reset(emulator, at)


class RecordingEmulator(Emulator):
    """The emulator, also keeping the raw body of every create and update it was sent.

    The request log has method, path and status; the full-body-PUT tests need the body too.
    Its base clock stands at ``START``; the time moves only through ``set_time`` / ``advance``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(clock=FakeClock(START).wall, sleep=self._sleep, **kwargs)
        self.bodies: list[tuple[str, str, dict[str, Any]]] = []  # (method, id or "", body)
        self._generation = 0

    async def _sleep(self, seconds: float) -> None:
        """Fault delays (latency, held answers) that end early when the test moves on, so a
        held answer to a killed client does not keep the server busy until shutdown."""
        generation = self._generation
        deadline = time.monotonic() + seconds
        while self._generation == generation and time.monotonic() < deadline:
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def api_create(self, raw: bytes) -> Reply:
        self.bodies.append(("POST", "", json.loads(raw)))
        return super().api_create(raw)

    def api_update(self, schedule_id: str, raw: bytes) -> Reply:
        self.bodies.append(("PUT", schedule_id, json.loads(raw)))
        return super().api_update(schedule_id, raw)

    def fresh_faults(self) -> None:
        """No faults from now on, and every held answer released."""
        self._generation += 1
        self.faults = Faults()

    def fresh(self, at: datetime = START) -> None:
        """Empty, no faults, default limits, clock at ``at``, nothing logged or recorded."""
        self._generation += 1
        reset(self, at)
        self.bodies.clear()


def in_process_client(
    emulator: Emulator,
    *,
    app_key: str = DEMO_APP_KEY,
    master_secret: str = DEMO_MASTER_SECRET,
    client_options: dict[str, Any] | None = None,
    **settings: Any,
) -> EngageLabClient:
    """The project's client talking to ``emulator`` through ``httpx.ASGITransport``;
    ``settings`` override ``ClientSettings`` fields, ``client_options`` are passed to the
    client itself (``sleep``, ``rng``)."""
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "credentials": Credentials(app_key=app_key, master_secret=master_secret),
    }
    values.update(settings)
    transport = httpx.ASGITransport(app=create_app(emulator))
    return EngageLabClient(ClientSettings(**values), transport=transport, **(client_options or {}))


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
