"""A faithful local EngageLab Push server: schedules, message ids and batch push.

The emulator validates the wire format on its own (it never imports
``reconciler.manifests.models``), so a client bug cannot hide behind shared code. Use it
in-process through ``httpx.ASGITransport``
(``create_app``), over real HTTP (``reconciler.testing.serve_emulator`` or
``reconciler emulator serve``), and drive it from Python (``Emulator``) or from its control
plane under ``/_emulator/``.

Modules: ``wire`` (codes, formats), ``decoding`` (request bodies as strict JSON),
``validation`` (schedule checks), ``batch_validation`` (batch push checks), ``firing``
(occurrences), ``store`` (data and its file), ``faults`` (fault switches), ``auth``,
``outbox`` (what is sent: batch results, msg-id records, churn tasks), ``core`` (the rules),
``app`` / ``middleware`` / ``control`` (HTTP), ``serve`` (uvicorn), ``demo`` (the demo
credentials).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler import lazy_names

if TYPE_CHECKING:
    from reconciler.emulator.app import create_app
    from reconciler.emulator.core import Emulator, Reply, RequestRecord
    from reconciler.emulator.demo import DEMO_APP_KEY, DEMO_MASTER_SECRET
    from reconciler.emulator.faults import Faults
    from reconciler.emulator.middleware import ConnectionDropped
    from reconciler.emulator.wire import WireError

# Loaded on first use: a command talking to a served emulator needs only the demo credentials,
# and importing the HTTP side (Starlette) for them cost 25 ms of every such command's start-up.
_HOMES = {
    "create_app": "app",
    "DEMO_APP_KEY": "demo",
    "DEMO_MASTER_SECRET": "demo",
    "Emulator": "core",
    "Reply": "core",
    "RequestRecord": "core",
    "Faults": "faults",
    "ConnectionDropped": "middleware",
    "WireError": "wire",
}


if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays an error there
    __getattr__ = lazy_names(__name__, _HOMES, globals())


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
