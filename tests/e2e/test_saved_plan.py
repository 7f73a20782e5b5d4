"""Saved plans: `plan --out FILE` then `apply FILE` does exactly that plan, and only while the
manifests, the remote side and the state file are still what the plan was computed from.

The remote side is checked by its list (ids, names, enabled flags) unless the plan cannot be
vouched for that way; `--full-refresh` re-reads every detail as well."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from reconciler.planning.artifact import Plan
from tests.e2e.helpers import Project
from tests.kit.bodies import body, single


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


def reads(project: Project) -> list[str]:
    """The GET requests on the vendor API since the last mark: list pages and details."""
    return [
        "list" if r.path == "/v4/schedules" else "detail"
        for r in project.emulator.request_log
        if r.method == "GET" and r.path.startswith("/v4/")
    ]


def test_a_saved_plan_is_checked_by_the_list_without_reading_details(project: Project) -> None:
    """Applying a fresh saved update plan reads the list once and no detail, then PUTs."""
    for name in ("a", "b", "c"):
        project.write(name, alert="v1")
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    plan = saved_plan(project)
    project.mark()
    result = project.run("apply", str(plan))
    assert result.exit_code == 0, result.output
    assert "The remote list matches the saved plan (3 task(s))" in result.output
    assert reads(project) == ["list"]
    assert project.write_summary() == [("PUT", f"/v4/schedules/{project.state_ids()['a']}")]


def test_full_refresh_makes_a_remote_content_edit_stale(project: Project) -> None:
    """`--full-refresh`: a task edited on the server after `plan --out` makes the plan stale."""
    plan = planned_update(project)
    project.out_of_band_update(project.state_ids()["a"], body("a", alert="someone else"))
    project.mark()
    result = project.run("apply", "--full-refresh", str(plan))
    assert_stale(project, result, "the contents of remote schedules changed")
    assert reads(project).count("detail") == 1


def test_a_content_edit_to_a_task_the_plan_updates_is_overwritten_by_the_reviewed_body(
    project: Project,
) -> None:
    """Without --full-refresh, a content edit made after the plan to a task the plan updates
    does not stop it: the full-body PUT gives the task exactly the reviewed manifest."""
    plan = planned_update(project)
    sid = project.state_ids()["a"]
    project.out_of_band_update(sid, body("a", alert="someone else"))
    project.mark()
    result = project.run("apply", str(plan))
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    [task] = project.remote()["a"]
    assert task["push"]["body"]["notification"]["alert"] == "v2"
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def planned_update(project: Project, *others: str) -> Path:
    """'a' (and ``others``) applied at v1, then 'a' changed to v2: the saved plan of that."""
    project.write("a", alert="v1")
    for name in others:
        project.write(name)
    assert project.apply().exit_code == 0
    project.write("a", alert="v2")
    return saved_plan(project)


LIST_CHANGES: dict[str, Callable[[Project, str], None]] = {
    "switched off": lambda p, sid: p.out_of_band_update(sid, body("b", enabled=False)),
    "deleted": lambda p, sid: p.out_of_band_delete(sid),
}
STALE_BECAUSE = {
    "switched off": "the contents of remote schedules changed",
    "deleted": "remote task(s) vanished since the plan was made: 'b' (",
}


@pytest.mark.parametrize("change", list(LIST_CHANGES))
def test_a_change_the_list_shows_makes_the_plan_stale(project: Project, change: str) -> None:
    """Another task switched off or deleted after `plan --out` shows in the list: stale, and
    nothing is sent."""
    plan = planned_update(project, "b")
    LIST_CHANGES[change](project, project.state_ids()["b"])
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), STALE_BECAUSE[change])


def test_a_plan_file_without_the_list_digest_is_checked_by_a_full_read(project: Project) -> None:
    """Plan files made before the list digest existed: every detail is read, as before."""
    plan = planned_update(project)
    older = Plan.from_json(plan.read_text(encoding="utf-8"))
    older = older.model_copy(
        update={"inputs": older.inputs.model_copy(update={"listed_digest": None})}
    )
    data = json.loads(older.model_copy(update={"checksum": older.compute_checksum()}).to_json())
    plan.write_text(json.dumps(data), encoding="utf-8")
    project.mark()
    result = project.run("apply", str(plan))
    assert result.exit_code == 0, result.output
    assert "The remote list matches" not in result.output
    assert reads(project).count("detail") == 1


def test_plan_is_stale_after_a_new_remote_task(project: Project) -> None:
    """A task created on the server by someone else after `plan --out` makes the plan stale,
    and the error names it."""
    project.write("a")
    plan = saved_plan(project)
    sid = project.out_of_band_create(body("stranger"))
    project.mark()
    assert_stale(
        project,
        project.run("apply", str(plan)),
        f"remote task(s) appeared since the plan was made: 'stranger' ({sid})",
    )


def test_plan_is_stale_after_the_state_moved(project: Project) -> None:
    """A state write after `plan --out` (here `state rm`) makes the plan stale."""
    plan = planned_update(project, "b")
    assert project.run("state", "rm", "b").exit_code == 0
    project.mark()
    assert_stale(project, project.run("apply", str(plan)), "the state file moved")
    assert reads(project) == []  # refused before any request


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
