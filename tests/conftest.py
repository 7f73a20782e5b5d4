"""Shared fixtures for the test suite: the emulator fixture family (``tests/kit/emulator.py``).

- ``shared_emulator``: one emulator per session (a ``RecordingEmulator``); a directory whose
  tests need another kind (injected sleeps, say) overrides it in its conftest.
- ``served_url``: that emulator over real HTTP, uvicorn on 127.0.0.1 on a free port; each
  emulator is served once per session (starting uvicorn per test would dominate the run time).
- ``emulator``: that emulator emptied for the test, without faults, its clock at
  ``emulator_start`` (``START`` unless a directory's conftest says otherwise).
- ``api`` / ``anon``: an httpx client of it with (without) the demo credentials, parametrized
  over real HTTP and in-process (``httpx.ASGITransport``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime

import anyio.from_thread
import httpx
import pytest

from reconciler.emulator import Emulator, create_app
from reconciler.testing import serve_emulator
from tests.kit.emulator import AUTH, START, PortalTransport, RecordingEmulator, fresh


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's test command): one worker more than there are cores. Much of a
    workflow rehearsal is its processes (git, node, the CLI) waiting on one another, and the
    emulators add latency to answers; a third worker fills those gaps. On 2 cores: 4 min 6 s
    with two workers, 3 min 47 s with three, 3 min 55 s with four."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True)
def _no_scrubber_of_another_test() -> Iterator[None]:
    """Every test starts without the output scrubber an earlier test built
    (``redact.output_scrubber`` keeps it for the process, as a command does): one built with
    another test's credentials refused an exported manifest as holding them."""
    from reconciler import redact

    redact._output_scrubber = None
    yield
    redact._output_scrubber = None


@pytest.fixture(scope="session")
def shared_emulator() -> Emulator:
    return RecordingEmulator()


@pytest.fixture(scope="session")
def serving() -> Iterator[Callable[[Emulator], str]]:
    """Serves an emulator over HTTP on loopback (once per session); gives its base URL."""
    urls: dict[int, str] = {}
    with ExitStack() as servers:

        def serve(emulator: Emulator) -> str:
            if id(emulator) not in urls:
                urls[id(emulator)] = servers.enter_context(serve_emulator(emulator))
            return urls[id(emulator)]

        yield serve


@pytest.fixture
def served_url(serving: Callable[[Emulator], str], shared_emulator: Emulator) -> str:
    return serving(shared_emulator)


@pytest.fixture
def emulator_start() -> datetime:
    """The time each test's emulator starts at."""
    return START


@pytest.fixture
def emulator(shared_emulator: Emulator, emulator_start: datetime) -> Emulator:
    """The session's emulator, empty, without faults, its clock at ``emulator_start``."""
    fresh(shared_emulator, emulator_start)
    return shared_emulator


@pytest.fixture(scope="session")
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal() as p:
        yield p


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
