"""Properties of the planner over random manifest sets, remote states and state files.

``simulate_apply`` is the apply contract in miniature (what each action kind must do to the
server and the state, as documented on the action classes); the properties check that the
planner converges under it and never touches what it does not own.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.planning.actions import (
    CreateAction,
    DeleteAction,
    ExpiredAction,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UpdateAction,
)
from reconciler.planning.artifact import Plan
from reconciler.planning.inputs import Desired
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.schema import State, StateEntry
from tests.kit.bodies import intelligent, periodical, single
from tests.plan.builders import NOW, body, entry, plan, remote

NAMES = ["alpha", "beta", "gamma", "delta", "eps"]

TRIGGERS = st.one_of(
    st.builds(
        single,
        time=st.sampled_from(["2027-02-01 10:00:00", "2026-06-01 10:00:00", "2027-06-30 23:59:59"]),
        zone_type=st.sampled_from([1, 2]),
    ),
    st.builds(
        periodical,
        time_unit=st.sampled_from(["day", "week", "month"]),
        point=st.sampled_from([["MON"], ["01", "15"], []]),
        zone_type=st.sampled_from([1, 2]),
        frequency=st.sampled_from([None, 1, 2]),
    ),
    st.builds(intelligent, backup_time=st.sampled_from(["2027-03-01 08:00:00", "now"])),
)


@st.composite
def bodies(draw: st.DrawFn, name: str) -> dict[str, Any]:
    return body(
        name,
        alert=draw(st.sampled_from(["hi", "hello"])),
        trigger=draw(TRIGGERS),
        enabled=draw(st.booleans()),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Desired], Inventory, State]:
    """Random manifests, remote tasks (managed, foreign, edited, gone) and state entries."""
    want: list[Desired] = []
    tasks: list[RemoteSchedule] = []
    entries: dict[str, StateEntry] = {}
    ids = (f"id-{n}" for n in itertools.count())
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True)):
        b = draw(bodies(name))
        if draw(st.booleans()):
            want.append(Desired(name, b, draw(st.booleans()), f"{name}.yaml:1"))
        situation = draw(st.sampled_from(["none", "managed", "edited", "gone", "foreign"]))
        sid = next(ids)
        if situation in ("managed", "edited", "gone"):
            entries[name] = entry(sid, b, protected=draw(st.booleans()))
        if situation == "managed":
            tasks.append(remote(sid, b))
        elif situation in ("edited", "foreign"):
            tasks.append(remote(sid, draw(bodies(name))))
    for i in range(draw(st.integers(0, 2))):  # strangers nobody manages
        tasks.append(remote(f"stranger-{i}", body(f"stranger {i}")))
    return (
        want,
        Inventory({t.schedule_id: t for t in tasks}, total_count=len(tasks)),
        State(lineage="l", serial=1, entries=entries),
    )


def simulate_apply(p: Plan, inv: Inventory, st_: State) -> tuple[Inventory, State]:
    """What apply does per action kind, on plain data (ignoring safety: tested elsewhere)."""
    tasks = dict(inv.schedules)
    entries = dict(st_.entries)
    new_ids = (f"new-{n}" for n in itertools.count())

    def record(name: str, sid: str, fingerprint: str, protected: bool) -> None:
        entries[name] = StateEntry(
            schedule_id=sid,
            fingerprint=fingerprint,
            protected=protected,
            created_at=NOW,
            updated_at=NOW,
        )

    for a in p.actions:
        if isinstance(a, CreateAction | RecreateAction | ReplaceAction):
            sid = next(new_ids)
            tasks[sid] = RemoteSchedule(sid, a.body["name"], a.body["enabled"], a.body)
            if isinstance(a, ReplaceAction):
                del tasks[a.old_schedule_id]
            record(a.name, sid, a.fingerprint, a.protected)
        elif isinstance(a, UpdateAction):
            tasks[a.schedule_id] = RemoteSchedule(
                a.schedule_id, a.body["name"], a.body["enabled"], a.body
            )
            record(a.name, a.schedule_id, a.fingerprint, a.protected)
        elif isinstance(a, DeleteAction):
            del tasks[a.schedule_id]
            del entries[a.name]
        elif isinstance(a, ExpiredAction) or (isinstance(a, SkipAction) and a.forget):
            del entries[a.name]
        elif isinstance(a, RefreshAction):
            record(a.name, a.schedule_id, a.fingerprint, a.protected)
    inventory_after = Inventory(tasks, total_count=len(tasks))
    return inventory_after, st_.model_copy(update={"entries": entries, "serial": st_.serial + 1})


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_applying_a_plan_then_planning_again_changes_nothing(
    world: tuple[list[Desired], Inventory, State],
) -> None:
    """Property: after apply, the next plan has no changes (it converges in one step)."""
    want, inv, st_ = world
    first = plan(want, inv, st_)
    inv2, st2 = simulate_apply(first, inv, st_)
    second = plan(want, inv2, st2)
    assert not second.has_changes, [a.kind + " " + a.name for a in second.actions]


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_tasks_the_state_does_not_own_are_never_touched(
    world: tuple[list[Desired], Inventory, State],
) -> None:
    """Property: no action writes to a remote task whose id is not in the state."""
    want, inv, st_ = world
    owned = {e.schedule_id for e in st_.entries.values()}
    for a in plan(want, inv, st_).actions:
        if isinstance(a, UpdateAction | DeleteAction):
            assert a.schedule_id in owned
        if isinstance(a, ReplaceAction):
            assert a.old_schedule_id in owned


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_no_plan_creates_a_second_task_with_an_existing_name(
    world: tuple[list[Desired], Inventory, State],
) -> None:
    """Property: creates and recreates only use names no live remote task has (no duplicates)."""
    want, inv, st_ = world
    live = {t.name for t in inv.schedules.values()}
    for a in plan(want, inv, st_).actions:
        if isinstance(a, CreateAction | RecreateAction):
            assert a.name not in live


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(NAMES), unique=True).flatmap(
        lambda names: st.tuples(*(bodies(n) for n in names))
    )
)
def test_plan_of_desired_against_its_own_image_is_empty(bs: tuple[dict[str, Any], ...]) -> None:
    """Property: manifests whose remote tasks equal them and whose state matches plan nothing
    (except reports for manifests that cannot exist remotely: skips are not changes)."""
    want = [Desired(b["name"], b, False, "x.yaml:1") for b in bs]
    tasks = [remote(f"id-{b['name']}", b) for b in bs]
    entries = {b["name"]: entry(f"id-{b['name']}", b) for b in bs}
    p = plan(
        want,
        Inventory({t.schedule_id: t for t in tasks}, total_count=len(tasks)),
        State(lineage="l", entries=entries),
    )
    assert not p.has_changes
    assert {a.kind for a in p.actions} <= {"skip"}
