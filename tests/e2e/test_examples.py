"""The shipped examples through plan and apply, and the basic write shapes of each change."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.helpers import SECTIONS, Project
from tests.kit.bodies import intelligent, periodical, single

EXAMPLES = Path(__file__).resolve().parents[2] / "schedules"


def test_examples_apply_then_plan_is_empty(project: Project) -> None:
    """The repository's example manifests apply cleanly; a plan right after reports no change."""
    shutil.copytree(EXAMPLES, project.schedules, dirs_exist_ok=True)
    names = {p.stem for p in EXAMPLES.glob("*.yaml")}

    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert len(project.remote_ids()) == len(names)
    assert [m for m, _ in project.write_summary()] == ["POST"] * len(names)
    assert set(project.state_ids().values()) == set(project.remote_ids().values())

    project.mark()
    replan = project.run("plan", "--detailed-exitcode")
    assert replan.exit_code == 0, replan.output
    assert project.writes() == []


def test_edit_is_one_full_body_put(project: Project) -> None:
    """Changing one field of one manifest makes exactly one PUT, and it carries the whole body."""
    project.write("promo", alert="Hello")
    project.write("other")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["promo"]

    project.write("promo", alert="Hello again")
    plan = project.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    project.mark()
    result = project.apply()
    assert result.exit_code == 0, result.output

    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    ((method, put_id, sent),) = project.emulator.bodies
    assert (method, put_id) == ("PUT", sid)
    assert set(SECTIONS) <= set(sent)
    assert sent["push"]["body"]["notification"]["alert"] == "Hello again"
    assert project.remote_ids() == {"promo": sid, "other": project.state_ids()["other"]}


def test_removed_manifest_is_one_delete(project: Project) -> None:
    """Removing a manifest deletes its task with one DELETE and drops it from the state."""
    for name in ("a", "b", "c"):
        project.write(name)
    assert project.apply().exit_code == 0
    sid = project.state_ids()["b"]

    project.remove("b")
    project.mark()
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{sid}")]
    assert "b" not in project.state_ids()
    assert set(project.remote_ids()) == {"a", "c"}


def test_zone_type_change_is_a_replace(project: Project) -> None:
    """A zone_type change cannot be PUT (docs/api.md 2.4): one POST of the new task, then one DELETE
    of the old one, and the state points at the new id."""
    project.write("promo", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]

    project.write("promo", trigger=single(zone_type=2))
    plan = project.run("plan")
    assert "forces replacement" in plan.output, plan.output
    project.mark()
    result = project.apply()
    assert result.exit_code == 0, result.output

    assert project.write_summary() == [
        ("POST", "/v4/schedules"),
        ("DELETE", f"/v4/schedules/{old}"),
    ]
    new = project.state_ids()["promo"]
    assert new != old
    assert project.remote_ids() == {"promo": new}
    assert project.remote()["promo"][0]["trigger"]["single"]["zone_type"] == 2
    assert project.state()["pending"] == {}


def test_trigger_kind_change_is_a_replace(project: Project) -> None:
    """single -> periodical (and periodical -> intelligent) replaces the task: POST, then DELETE."""
    project.write("promo", trigger=single())
    assert project.apply().exit_code == 0
    first = project.state_ids()["promo"]

    project.write(
        "promo", trigger=periodical(start="2027-01-04 00:00:00", end="2027-12-27 00:00:00")
    )
    project.mark()
    assert project.apply().exit_code == 0
    second = project.state_ids()["promo"]
    assert project.write_summary() == [
        ("POST", "/v4/schedules"),
        ("DELETE", f"/v4/schedules/{first}"),
    ]

    project.write("promo", trigger=intelligent())
    project.mark()
    assert project.apply().exit_code == 0
    third = project.state_ids()["promo"]
    assert project.write_summary() == [
        ("POST", "/v4/schedules"),
        ("DELETE", f"/v4/schedules/{second}"),
    ]
    assert len({first, second, third}) == 3
    assert project.remote_ids() == {"promo": third}
    assert "intelligent" in project.remote()["promo"][0]["trigger"]
