"""Saved plans: `plan --out FILE` then `apply FILE` does exactly that plan, and only while the
manifests, the remote side and the state file are still what the plan was computed from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import Result

from tests.e2e.helpers import Project, body, single


def saved_plan(project: Project) -> Path:
    out = project.root / "plan.json"
    result = project.run("plan", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists()
    return out


def assert_stale(project: Project, result: Result, reason: str) -> None:
    assert result.exit_code == 1, result.output
    assert "the saved plan is stale" in result.output
    assert reason in result.output, result.output
    assert project.writes() == []


def test_saved_plan_applies(project: Project) -> None:
    """A plan saved before the first apply is carried out as shown: two POSTs, one per create."""
    project.write("a")
    project.write("b")
    plan = saved_plan(project)
    assert project.writes() == []
    result = project.run("apply", str(plan))
    assert result.exit_code == 0, result.output
    assert [m for m, _ in project.write_summary()] == ["POST", "POST"]
    assert set(project.state_ids()) == {"a", "b"}


def test_saved_plan_with_an_update_applies(project: Project) -> None:
    """On a managed app, a saved update plan sends its one PUT."""
    project.write("a", alert="v1")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["a"]
    project.write("a", alert="v2")
    plan = saved_plan(project)
    project.mark()
    result = project.run("apply", str(plan))
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]


def test_plan_is_stale_after_a_manifest_edit(project: Project) -> None:
    """Editing a manifest after `plan --out` makes the saved plan stale: refused, nothing sent."""
    project.write("a", alert="v1")
    plan = saved_plan(project)
    project.write("a", alert="v2")
    assert_stale(project, project.run("apply", str(plan)), "the manifests changed")


def test_plan_is_stale_after_a_remote_change(project: Project) -> None:
    """A task edited on the server after `plan --out` makes the plan stale."""
    project.write("a", alert="v1")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    plan = saved_plan(project)
    project.out_of_band_update(project.state_ids()["a"], body("a", alert="someone else"))
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), "the remote schedules changed")


def test_plan_is_stale_after_a_new_remote_task(project: Project) -> None:
    """A task created on the server by someone else after `plan --out` makes the plan stale."""
    project.write("a")
    plan = saved_plan(project)
    project.out_of_band_create(body("stranger"))
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), "the remote schedules changed")


def test_plan_is_stale_after_the_state_moved(project: Project) -> None:
    """A state write after `plan --out` (here `state rm`) makes the plan stale."""
    project.write("a", alert="v1")
    project.write("b")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    plan = saved_plan(project)
    assert project.run("state", "rm", "b").exit_code == 0
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), "the state file moved")


def test_saved_plan_cannot_be_applied_twice(project: Project) -> None:
    """Applying a saved plan moves the state serial, so the same file is refused afterwards."""
    project.write("a")
    plan = saved_plan(project)
    assert project.run("apply", str(plan)).exit_code == 0
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), "")
    assert len(project.emulator.schedules()) == 1


def test_saved_unsafe_plan_is_refused(project: Project) -> None:
    """`plan --out` of an unsafe plan exits 1 and the file it wrote cannot be applied either."""
    project.write("keep", protected=True)
    project.write("other")
    assert project.apply().exit_code == 0
    project.remove("keep")
    out = project.root / "plan.json"
    planned = project.run("plan", "--out", str(out))
    assert planned.exit_code == 1, planned.output
    project.mark()
    result = project.run("apply", str(out))
    assert result.exit_code == 1, result.output
    assert "prevent_destroy" in result.output
    assert project.writes() == []


def test_edited_plan_file_is_refused(project: Project) -> None:
    """A plan file changed by hand fails its checksum: refused, nothing sent."""
    project.write("a")
    plan = saved_plan(project)
    plan.write_text(plan.read_text().replace('"a"', '"b"'), encoding="utf-8")
    result = project.run("apply", str(plan))
    assert result.exit_code == 1, result.output
    assert "checksum" in result.output
    assert project.writes() == []


def test_saved_plan_applied_late_still_respects_the_fire_guard(project: Project) -> None:
    """A plan saved an hour before a firing and applied two minutes before it would race the
    push: the fire guard is checked again at apply time, and nothing is sent."""
    project.write("flash", trigger=single("2027-03-01 10:00:00"), alert="v1")
    assert project.apply().exit_code == 0
    project.emulator.set_time(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    project.write("flash", trigger=single("2027-03-01 10:00:00"), alert="v2")
    plan = saved_plan(project)
    project.emulator.set_time(datetime(2027, 3, 1, 9, 58, tzinfo=UTC))
    project.mark()
    result = project.run("apply", str(plan))
    assert result.exit_code == 1, result.output
    assert "'flash' fires at" in result.output
    assert project.writes() == []
