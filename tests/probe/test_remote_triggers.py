"""Probe: a server answering a managed task's detail with a trigger at the end of the calendar
(or one whose span it would walk for seconds), for ``plan`` (its "next 7 days" table) and
``drift`` (the push policies on live tasks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reconciler import render
from reconciler.config.policies.checks import check
from reconciler.config.policies.parsing import parse_policies
from reconciler.config.policies.rules import Policies
from reconciler.config.policies.subjects import LiveSubject
from reconciler.planning import timing
from reconciler.planning.inputs import Desired
from reconciler.planning.planner import make_plan
from reconciler.planning.safety import PlanOptions
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.schema import State, StateEntry
from tests.kit import bodies

NOW = datetime(2027, 1, 9, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")
FOREVER = "9999-12-31 23:59:59"
TRIGGERS: dict[str, Any] = {
    "single-9999-zone2": {"single": {"time": FOREVER, "zone_type": 2}},
    "intelligent-year-1": {"intelligent": {"backup_time": "0001-01-01 00:00:00"}},
    "never-firing-to-9999": {
        "periodical": {
            "start": "2027-01-09 10:00:00",
            "end": FOREVER,
            "time": "10:00:00",
            "time_unit": "week",
            "point": [],
            "zone_type": 1,
        },
    },
    "rare-to-9999": {
        "periodical": {
            "start": "2027-01-09 10:00:00",
            "end": FOREVER,
            "time": "10:00:00",
            "time_unit": "week",
            "point": ["MON"],
            "frequency": 99999999,
            "zone_type": 1,
        },
    },
    "periodical-not-a-mapping": {"periodical": "x"},
    "time-not-text": {"single": {"time": 12, "zone_type": 1}},
}


def _body(trigger: dict[str, Any], alert: str = "hi") -> dict[str, Any]:
    return bodies.body("a", trigger=trigger, alert=alert)


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_a_managed_task_with_an_out_of_range_trigger_is_planned_without_a_traceback(
    kind: str,
) -> None:
    """Promise: a server's answer never ends a command in a traceback.

    A managed task whose detail says ``single.time: 9999-12-31 23:59:59`` with zone_type 2 (or
    a periodical running to 9999) made ``plan`` and ``drift`` die with ``OverflowError`` while
    computing when it fires; a periodical to 9999 that never fires was walked day by day for
    5 s per task first. The plan now warns that it cannot read the trigger (the fire guard
    cannot protect that task) and replaces it with the manifest's version.
    """
    live = _body(TRIGGERS[kind])
    desired = Desired(
        name="a", body=_body({"single": {"time": "2027-01-10 12:00:00", "zone_type": 1}})
    )
    entry = StateEntry(schedule_id="t1", fingerprint="sha256:00", created_at=NOW, updated_at=NOW)
    state = State(entries={"a": entry})
    inventory = Inventory(
        schedules={"t1": RemoteSchedule(schedule_id="t1", name="a", enabled=True, body=live)}
    )
    plan = make_plan([desired], inventory, state, now=NOW, tz=TZ, options=PlanOptions())
    assert [a.kind for a in plan.actions] in (["update"], ["replace"])
    render.render_text(plan, color=False)
    render.render_markdown(plan, "plan")
    json.loads(render.render_json(plan))

    rules = parse_policies(
        {
            "quiet_hours": {"from": "22:00", "to": "08:00"},
            "frequency_cap": {"max_per_day": 1},
            "blackout_dates": {"dates": ["2027-01-10"]},
        },
        1,
    )
    assert isinstance(rules, Policies)
    subject = LiveSubject("a", live, "remote task t1", 0, 0)
    check([subject], rules, now=NOW, tz=TZ, known=["a"])


def test_a_periodical_span_longer_than_the_api_allows_is_no_readable_trigger() -> None:
    """The walk of a periodical trigger is bounded: a span past the year the API allows
    (docs/api.md 2.2) is a ValueError (an unreadable trigger) at once, not seconds of
    stepping day by day to 9999 and an OverflowError."""
    with pytest.raises(ValueError, match="more than the year"):
        timing.next_fire(_body(TRIGGERS["never-firing-to-9999"]), NOW, TZ)
