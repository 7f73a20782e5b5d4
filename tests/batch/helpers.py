"""Helpers for test-send and history: the fixture manifests' time, in-process clients, batch calls.

The emulator's batch quota (``Faults.batch_qps``) refills with its monotonic clock; the tests
give it a ``tests.kit.clock.FakeClock`` whose sleeps advance that clock instead of waiting, so
the 23008 retry loop runs in microseconds while the emulator sees the seconds pass.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator
from reconciler.remote.client import EngageLabClient
from tests.kit.emulator import in_process_client

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # manifests in fixtures/ are valid at this time
BATCH_PATHS = ("/v4/batch/push/regid", "/v4/batch/push/alias")


def client_for(
    emulator: Emulator, *, app_key: str = DEMO_APP_KEY, secret: str = DEMO_MASTER_SECRET
) -> EngageLabClient:
    """A client talking to ``emulator`` in-process, without rate-limit waits."""
    return in_process_client(emulator, app_key=app_key, master_secret=secret, rate_limit=1e6)


def batch_calls(emulator: Emulator) -> list[str]:
    """Paths of the batch push calls the emulator answered, in order."""
    return [r.path for r in emulator.request_log if r.path in BATCH_PATHS]
