"""Property: whatever the manifests and whatever the app held before, one apply converges.

Random manifest sets meet random remote starting states: tasks managed from an earlier apply
(some edited or deleted out of band since, some whose manifest changed or went away) and tasks
nobody manages (some named like a manifest). After ``apply``, ``plan`` has no change left and a
second ``apply`` makes no write call at all.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.ops import observe as engine
from tests.e2e.helpers import Project, embedded_with
from tests.kit.bodies import body, intelligent, periodical, single
from tests.kit.emulator import RecordingEmulator

TRIGGERS: dict[str, dict[str, Any]] = {
    "single_zone1": single("2027-03-01 10:00:00", zone_type=1),
    "single_zone2": single("2027-03-01 10:00:00", zone_type=2),
    "single_later": single("2027-04-01 08:30:00", zone_type=1),
    "weekly": periodical(
        start="2027-01-04 00:00:00", end="2027-12-27 00:00:00", point=("MON", "THU")
    ),
    "monthly": periodical(
        start="2027-01-04 00:00:00",
        end="2027-12-27 00:00:00",
        time_unit="month",
        point=("01", "15"),
        time="10:30:00",
    ),
    "intelligent": intelligent(),
}
LATER = datetime(2027, 3, 1, 10, 5, tzinfo=UTC)  # after every one-shot above but "single_later"
STILL_AHEAD = frozenset({"single_later", "weekly", "monthly"})  # triggers that fire after LATER
REMOTE = ("none", "managed", "edited", "paused", "renamed", "deleted", "foreign")
MANAGED = ("managed", "edited", "paused", "renamed", "deleted")


@dataclass(frozen=True)
class Spec:
    """One manifest: enabled flag, text and trigger."""

    enabled: bool
    alert: str
    trigger: str

    def body(self, name: str) -> dict[str, Any]:
        return body(name, alert=self.alert, trigger=TRIGGERS[self.trigger], enabled=self.enabled)


specs = st.builds(
    Spec,
    enabled=st.booleans(),
    alert=st.sampled_from(["Hello", "Hallo", "Bonjour"]),
    trigger=st.sampled_from(sorted(TRIGGERS)),
)


@dataclass(frozen=True)
class Case:
    """What one name looks like before the apply under test."""

    remote: str  # one of REMOTE
    before: Spec  # body of the earlier apply (managed) or of the foreign task
    after: Spec | None  # the manifest now; None: no manifest


cases = st.builds(
    Case,
    remote=st.sampled_from(REMOTE),
    before=specs.map(lambda s: Spec(True, s.alert, s.trigger)),  # created, so enabled
    after=st.none() | specs,
)
worlds = st.dictionaries(st.sampled_from([f"s{i}" for i in range(6)]), cases, max_size=6)


def converge_world(project: Project, world: dict[str, Case], later: bool) -> None:
    """Build the starting state of ``world``, write its manifests; nothing applied yet.

    With ``later`` the clock then jumps past the one-shots (the app fires them)."""
    em = project.emulator
    managed = {n: c for n, c in world.items() if c.remote in MANAGED}
    project.write("anchor")  # keeps the manifest set non-empty (that rule has its own test)
    for name, case in managed.items():
        project.write_body(case.before.body(name))
    first = project.apply()
    assert first.exit_code == 0, first.output
    ids = project.state_ids()
    for name, case in managed.items():
        sid = ids[name]
        edited = case.before.body(name)
        if case.remote == "edited":
            edited["push"]["body"]["notification"]["alert"] = "edited out of band"
        elif case.remote == "paused":
            edited["enabled"] = False
        elif case.remote == "renamed":
            edited["name"] = f"{name}_renamed_in_console"
        if case.remote in ("edited", "paused", "renamed"):
            em.api_update(sid, json.dumps(edited).encode())
        elif case.remote == "deleted":
            em.api_delete(sid)
    for name, case in world.items():
        if case.remote == "foreign":
            em.add_schedule(case.before.body(name))
    if later:
        em.set_time(LATER)  # one-shots fire, and some manifests now lie entirely in the past
    for name, case in world.items():
        if case.after is None:
            if name in managed:
                project.remove(name)
        else:
            project.write_body(case.after.body(name))
    project.mark()


EMULATOR = RecordingEmulator()  # in-process (embedded path); emptied for every example


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds, later=st.booleans())
def test_apply_converges_and_a_second_apply_writes_nothing(
    world: dict[str, Case], later: bool
) -> None:
    """After `apply` (with overrides for mass deletes and the fire guard), `plan` shows no change
    and a second `apply` sends no POST, PUT or DELETE. No name has two tasks; every enabled
    manifest whose trigger is still ahead and that has no foreign namesake has exactly one task
    with its body, and the state maps it; a removed manifest leaves no task and no entry."""
    EMULATOR.fresh()
    with (
        tempfile.TemporaryDirectory() as tmp,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setattr(engine, "resolve_target", embedded_with(EMULATOR))
        project = Project(Path(tmp), EMULATOR, None, config=True)
        converge_world(project, world, later)

        result = project.apply("--allow-mass-delete", "--force")
        assert result.exit_code == 0, result.output

        plan = project.run("plan", "--format", "json", "--detailed-exitcode")
        assert plan.exit_code in (0, 2), plan.output
        left = {a["kind"] for a in json.loads(plan.stdout)["actions"]}
        assert left <= {"conflict", "unmanaged", "skip"}, plan.stdout
        # Nothing to apply; a conflict left (a foreign task named like a manifest) still makes
        # the plan not clean, as for `drift`.
        assert plan.exit_code == (2 if "conflict" in left else 0), plan.stdout

        project.mark()
        again = project.apply("--allow-mass-delete", "--force")
        assert again.exit_code == 0, again.output
        assert project.writes() == []

        remote = project.remote()
        state = project.state_ids()
        assert project.state()["pending"] == {}
        for name, case in world.items():
            foreign = case.remote == "foreign"
            assert len(remote.get(name, [])) <= 1
            ahead = not later or (case.after is not None and case.after.trigger in STILL_AHEAD)
            if case.after is not None and case.after.enabled and not foreign and ahead:
                (task,) = remote[name]
                assert state[name] == task["schedule_id"]
                assert task["push"]["body"]["notification"]["alert"] == case.after.alert
                assert task["enabled"] is True
            elif case.after is None and not foreign:
                assert name not in remote
                assert name not in state
            if ahead or case.after is None:
                # (a manifest now entirely in the past leaves a live task as it is, by design)
                assert f"{name}_renamed_in_console" not in remote
            if foreign and (not later or case.before.trigger in STILL_AHEAD):
                assert name not in state  # still there, so never adopted without import
