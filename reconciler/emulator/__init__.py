"""A faithful local EngageLab Push server: schedules, message ids and batch push.

The emulator validates the wire format on its own (it never imports ``reconciler.models``), so
a client bug cannot hide behind shared code. Use it in-process through ``httpx.ASGITransport``
(``create_app``), over real HTTP (``reconciler.testing.serve_emulator`` or
``reconciler emulator serve``), and drive it from Python (``Emulator``) or from its control
plane under ``/_emulator/``.

Modules: ``wire`` (codes, formats), ``validation`` (request checks), ``firing`` (occurrences),
``store`` (data and its file), ``faults`` (fault switches), ``auth``, ``outbox`` (what is
sent: batch results, msg-id records, churn tasks), ``core`` (the rules), ``app`` /
``middleware`` / ``control`` (HTTP), ``serve`` (uvicorn).
"""

from reconciler.emulator.app import create_app
from reconciler.emulator.core import (
    DEMO_APP_KEY,
    DEMO_MASTER_SECRET,
    Emulator,
    Reply,
    RequestRecord,
)
from reconciler.emulator.faults import Faults
from reconciler.emulator.middleware import ConnectionDropped
from reconciler.emulator.wire import WireError

__all__ = [
    "DEMO_APP_KEY",
    "DEMO_MASTER_SECRET",
    "ConnectionDropped",
    "Emulator",
    "Faults",
    "Reply",
    "RequestRecord",
    "WireError",
    "create_app",
]
