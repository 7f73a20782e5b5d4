"""Plain-data builders for planner tests: bodies, desired sets, inventories and states."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.planning import canonical
from reconciler.planning.artifact import Plan
from reconciler.planning.inputs import Desired
from reconciler.planning.planner import make_plan
from reconciler.planning.safety import PlanOptions
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.schema import State, StateEntry
from tests.kit import bodies

NOW = datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")
LINEAGE = "6f1c1f0e-0000-4000-8000-000000000001"


def body(name: str, **overrides: Any) -> dict[str, Any]:
    """A canonical schedule body (what Manifest.body gives the planner); ``overrides`` are
    those of ``tests.kit.bodies.body``."""
    return canonical.canonicalize(bodies.body(name, **overrides))


def desired(name: str, *, protected: bool = False, **kwargs: Any) -> Desired:
    return Desired(name, body(name, **kwargs), protected, f"schedules/{name}.yaml:1")


def remote(schedule_id: str, b: dict[str, Any]) -> RemoteSchedule:
    """A remote task as the server returns it (with the server's own spellings kept)."""
    return RemoteSchedule(schedule_id, b["name"], bool(b.get("enabled", True)), copy.deepcopy(b))


def inventory(*tasks: RemoteSchedule, complete: bool = True, **kwargs: Any) -> Inventory:
    return Inventory(
        schedules={t.schedule_id: t for t in tasks},
        complete=complete,
        total_count=len(tasks),
        **kwargs,
    )


def entry(schedule_id: str, b: dict[str, Any], *, protected: bool = False) -> StateEntry:
    return StateEntry(
        schedule_id=schedule_id,
        fingerprint=canonical.fingerprint(b),
        protected=protected,
        created_at=NOW,
        updated_at=NOW,
    )


def state(entries: dict[str, StateEntry] | None = None, serial: int = 3, **kwargs: Any) -> State:
    return State(lineage=LINEAGE, serial=serial, entries=entries or {}, **kwargs)


def plan(
    want: list[Desired],
    inv: Inventory | None = None,
    st: State | None = None,
    *,
    now: datetime = NOW,
    **options: Any,
) -> Plan:
    return make_plan(
        want,
        inv if inv is not None else inventory(),
        st if st is not None else state(),
        now=now,
        tz=TZ,
        options=PlanOptions(**options),
    )


def managed(
    name: str, schedule_id: str, *, protected: bool = False, **kwargs: Any
) -> tuple[Desired, RemoteSchedule, StateEntry]:
    """A schedule in sync: manifest, remote task and state entry agree."""
    d = desired(name, protected=protected, **kwargs)
    return d, remote(schedule_id, d.body), entry(schedule_id, d.body, protected=protected)


def in_sync(*names: str) -> tuple[list[Desired], Inventory, State]:
    """Several schedules, all in sync; ids are "id-<name>"."""
    ds, rs, es = [], [], {}
    for n in names:
        d, r, e = managed(n, f"id-{n}")
        ds.append(d)
        rs.append(r)
        es[n] = e
    return ds, inventory(*rs), state(es)
