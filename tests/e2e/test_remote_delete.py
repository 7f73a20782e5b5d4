"""``reconciler remote delete``: the way to remove a task nobody manages (the API's tasks are
not shown in the EngageLab console, which the advice for a second copy used to send people to)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Project, pasted
from tests.kit.bodies import body


def test_the_advice_for_a_second_copy_deletes_it_as_pasted(project: Project) -> None:
    """A schedule live twice (a copy made by another checkout, say): plan and drift said
    "delete the extra tasks in the EngageLab console", where the API's tasks are not shown.
    They name `reconciler remote delete ID`; pasted, it deletes the copy and nothing else, and
    the next plan has nothing left to say."""
    project.write("promo")
    assert project.apply().exit_code == 0
    ours = project.state_ids()["promo"]
    copy = project.out_of_band_create(body("promo"))
    plan = project.run("plan")
    assert f"`reconciler --endpoint {project.url} remote delete ID`" in plan.output
    told = project.apply()  # its warning names the ids
    drift = project.run("drift")
    assert f"`reconciler --endpoint {project.url} remote delete {copy}`" in drift.output
    project.mark()
    deleted = project.run(*pasted(told.output, "remote delete"), "--auto-approve")
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted {copy} ('promo')" in deleted.output
    assert [(r.method, r.path) for r in project.writes()] == [("DELETE", f"/v4/schedules/{copy}")]
    assert [t["schedule_id"] for t in project.emulator.schedules()] == [ours]
    again = project.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "more than once" not in again.output


@pytest.mark.parametrize("case", ["managed", "ignored", "unknown", "not-an-id", "no-terminal"])
def test_remote_delete_refuses_what_is_not_an_unmanaged_task_before_any_write(
    project: Project, case: str
) -> None:
    """A managed task (its manifest and apply manage it), one the ignore rules declare
    someone else's, an id no active task has, a word that is no schedule id, and a run with
    no terminal to answer without --auto-approve: each refused with what to do, nothing
    deleted."""
    project.write("mine")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("theirs"))
    target = {
        "managed": project.state_ids()["mine"],
        "ignored": theirs,
        "unknown": "0a0b0c0d-0000-4000-8000-000000000000",
        "not-an-id": "../x",
        "no-terminal": theirs,
    }[case]
    if case == "ignored":
        (project.root / "reconciler.yaml").write_text(
            f"environments:\n  default:\n    ignore:\n      ids: ['{theirs}']\n", encoding="utf-8"
        )
    approve = () if case == "no-terminal" else ("--auto-approve",)
    project.mark()
    result = project.run("remote", "delete", target, *approve)
    assert result.exit_code == 1, result.output
    assert "hint:" in result.output
    expected = {
        "managed": "is managed as 'mine'",
        "ignored": "is ignored by reconciler.yaml",
        "unknown": "no active remote task",
        "not-an-id": "is not a schedule id",
        "no-terminal": "needs confirmation but this is not a terminal",
    }[case]
    assert expected in result.output, result.output
    assert project.writes() == []
    assert len(project.emulator.schedules()) == 2


def test_remote_delete_at_a_terminal_asks_and_no_deletes_nothing(project: Project) -> None:
    """At a terminal the tasks are listed and the question asked; "no" deletes nothing."""
    from reconciler.ops import remote as ops
    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions

    copy = project.out_of_band_create(body("leftover"))
    asked: list[str] = []
    said: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    project.mark()
    options = GlobalOptions(endpoint=project.url, now=project.emulator.now())
    result = ops.delete_tasks(options, (copy,), Feedback(note=said.append), confirm=no)
    assert result is None
    assert asked == ["Delete 1 task(s)?"]
    assert f"  - delete {copy} ('leftover'): not managed" in said
    assert project.writes() == []


def test_a_task_gone_while_the_prompt_waited_counts_as_deleted_and_the_rest_are_deleted(
    project: Project,
) -> None:
    """Two tasks to delete; the first is deleted elsewhere while the prompt waits. Its 404
    stopped the command with the second never tried, and what had been done unsaid. A task
    found gone counts as deleted, and every other is deleted."""
    from reconciler.ops import remote as ops
    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions

    first = project.out_of_band_create(body("leftover_a"))
    second = project.out_of_band_create(body("leftover_b"))

    def yes_after_someone_else_deleted_the_first(question: str) -> bool:
        project.out_of_band_delete(first)
        return True

    options = GlobalOptions(endpoint=project.url, now=project.emulator.now())
    result = ops.delete_tasks(
        options, (first, second), Feedback(), confirm=yes_after_someone_else_deleted_the_first
    )
    assert result == ([(first, "leftover_a"), (second, "leftover_b")], [])
    assert project.emulator.schedules() == []


def test_remote_delete_refuses_the_task_an_interrupted_create_may_have_made(
    project: Project,
) -> None:
    """A journalled create records a name, not an id (its answer never came): the task of that
    name may be its. Deleted, the next apply dropped the entry and created the schedule again;
    it is refused, naming `reconciler apply`."""
    import json

    project.write("other")
    assert project.apply().exit_code == 0  # a state file to hold the journal
    project.write("promo")
    sid = project.out_of_band_create(body("promo"))
    state = project.state()
    state["pending"]["promo"] = {
        "op": "create",
        "name": "promo",
        "fingerprint": "sha256:" + "0" * 64,
        "started_at": "2026-11-01T00:00:00Z",
    }
    project.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    project.mark()
    result = project.run("remote", "delete", sid, "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "the journal holds a create of that name" in result.output
    assert project.writes() == []
