"""No command drops a journal entry without its write resolved: `state rm` says so and asks
for --force, `import` refuses.

An interrupted replace leaves the new task in the state and a journal entry that owes the
deletion of the old one; both fire until the next apply pays that debt. Forgetting the entry
silently would leave the old task firing for good. A journalled create may still be committed
by the server: linking another task to its name would settle the entry, and the late task
would fire beside it, unmanaged.
"""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import single


def _interrupted_replace(project: Project, op: str = "delete") -> tuple[str, str]:
    """promo replaced, its new task made: (old, new) ids. ``op`` "delete": the state holds the
    new task and owes the deletion of the old one, still live; "replace": the create's answer
    never came, the state still holds the old task and the journal the replace."""
    project.write("promo", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    data = project.write("promo", trigger=single(zone_type=2))
    new = project.out_of_band_create(data)  # the create half of the replace
    state = project.state()
    if op == "delete":
        state["entries"]["promo"]["schedule_id"] = new
    state["pending"]["promo"] = {
        "op": op,
        "name": "promo",
        "fingerprint": state["entries"]["promo"]["fingerprint"],
        "old_schedule_id": old,
        "started_at": "2026-11-01T00:00:00Z",
    }
    project.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return old, new


def test_state_rm_refuses_to_drop_the_deletion_of_an_old_task(project: Project) -> None:
    """`state rm promo` and `state rm --pending promo` exit 1 naming the old task that still
    fires and `reconciler apply` as the way to finish it; the state file is unchanged."""
    old, _new = _interrupted_replace(project)
    before = project.state_path.read_bytes()
    for args in (("state", "rm", "promo"), ("state", "rm", "--pending", "promo")):
        result = project.run(*args)
        assert result.exit_code == 1, result.output
        assert old in result.stderr
        assert f"`reconciler --endpoint {project.url} apply`" in result.stderr
        assert project.state_path.read_bytes() == before


def test_state_rm_refuses_to_drop_an_interrupted_replace(project: Project) -> None:
    """A replace was interrupted after its POST left, past the grace: the entry still holds
    the old task, the journal the replace. `state rm --pending promo` would point the name at
    the old task again, and a new task that was made would be left live beside it: exit 1
    naming apply, the state file unchanged. --force drops it all the same."""
    _interrupted_replace(project, op="replace")
    before = project.state_path.read_bytes()

    refused = project.run("state", "rm", "--pending", "promo")
    assert refused.exit_code == 1, refused.output
    assert "interrupted replace" in refused.stderr
    assert f"`reconciler --endpoint {project.url} apply`" in refused.stderr
    assert project.state_path.read_bytes() == before
    forced = project.run("state", "rm", "--pending", "--force", "promo")
    assert forced.exit_code == 0, forced.output
    assert project.state()["pending"] == {}


def test_state_rm_force_drops_it_with_a_warning(project: Project) -> None:
    """With --force the journal entry goes, and the output warns that the old task was not
    deleted and still fires."""
    old, new = _interrupted_replace(project)
    result = project.run("state", "rm", "--pending", "--force", "promo")
    assert result.exit_code == 0, result.output
    assert f"the old task {old} was not deleted and still fires" in result.output
    state = project.state()
    assert state["pending"] == {}
    assert state["entries"]["promo"]["schedule_id"] == new


def test_the_debt_kept_by_a_refused_rm_is_paid_by_the_next_apply(project: Project) -> None:
    """After the refusal, `reconciler apply` deletes the old task: one task is left, the new."""
    old, new = _interrupted_replace(project)
    assert project.run("state", "rm", "promo").exit_code == 1
    project.mark()
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    assert project.remote_ids() == {"promo": new}


def test_state_rm_force_of_the_name_drops_entry_and_debt(project: Project) -> None:
    """`state rm --force promo` (not only its journal) drops both: the edit that forgets a
    name's own task keeps another task's debt, so the command drops it on purpose."""
    old, _new = _interrupted_replace(project)
    result = project.run("state", "rm", "--force", "promo")
    assert result.exit_code == 0, result.output
    assert f"the old task {old} was not deleted and still fires" in result.output
    state = project.state()
    assert state["pending"] == {}
    assert "promo" not in state["entries"]


def _debt_without_entry(project: Project) -> str:
    """promo's manifest kept, its new task gone and forgotten, the journal still owing the
    delete of the old one (its DELETE refused so far): the old task's id."""
    old, new = _interrupted_replace(project)
    project.out_of_band_delete(new)
    state = project.state()
    del state["entries"]["promo"]
    project.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return old


def test_import_all_matching_skips_a_name_the_journal_still_works_on(project: Project) -> None:
    """`import --all-matching` names the debt and adopts nothing under it: adopting the old
    task would settle the journal entry that is to delete it."""
    old = _debt_without_entry(project)
    before = project.state()
    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert f"the journal still has to delete its old task {old}" in result.output
    # Suggested with the options that chose this app, as every suggested command is.
    assert f"`reconciler --endpoint {project.url} apply` resolves it" in result.output
    assert project.state()["pending"] == before["pending"]
    assert "promo" not in project.state()["entries"]


def test_import_of_a_journalled_task_or_name_is_refused(project: Project) -> None:
    """`import promo=OLD` (the task the journal is to delete) and `import other=OLD` exit 1
    naming the journal and `reconciler apply`; the state file is unchanged."""
    old = _debt_without_entry(project)
    project.write("other", trigger=single(zone_type=1))
    before = project.state_path.read_bytes()
    for pair, says in (
        (f"promo={old}", "the journal still has to delete its old task"),
        (f"other={old}", f"cannot import task {old}: the journal still has to"),
    ):
        result = project.run("import", pair)
        assert result.exit_code == 1, result.output
        assert says in result.stderr
        assert f"`reconciler --endpoint {project.url} apply`" in result.stderr
        assert "Traceback" not in result.output
        assert project.state_path.read_bytes() == before


def test_import_under_a_name_with_a_journalled_create_is_refused(project: Project) -> None:
    """A create journalled for promo may still be committed: linking a console task of that
    name now would settle the entry, and the late task would fire beside it. Refused; the next
    apply resolves the entry first."""
    project.write("promo", trigger=single(zone_type=1))
    console = project.out_of_band_create(project.write("promo", trigger=single(zone_type=1)))
    result = project.run("import", f"promo={console}")
    assert result.exit_code == 0, result.output  # without a journal entry: adopted
    state = project.state()
    del state["entries"]["promo"]
    state["pending"]["promo"] = {
        "op": "create",
        "name": "promo",
        "fingerprint": "sha256:" + "0" * 64,
        "old_schedule_id": None,
        "started_at": "2026-12-01T00:00:00Z",
    }
    project.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    before = project.state_path.read_bytes()
    result = project.run("import", f"promo={console}")
    assert result.exit_code == 1, result.output
    assert "an interrupted create of it is still in the journal" in result.stderr
    assert project.state_path.read_bytes() == before


def _apply_answering(project: Project, answer: bool) -> tuple[bool, list[str]]:
    """``apply`` as a terminal runs it, every question answered ``answer``: (declined, the
    questions asked)."""
    from reconciler.ops import apply as ops
    from reconciler.options import GlobalOptions

    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return answer

    options = GlobalOptions(endpoint=project.url, now=project.emulator.now(), rate_limit=10000)
    result = ops.apply(options, ops.ApplyRequest(), ops.ApplyHooks(confirm=confirm))
    return result.declined, asked


def test_an_interactive_apply_asks_before_paying_the_journals_debts(project: Project) -> None:
    """The journal's debts are paid before the plan is made; an apply at a terminal asks
    first, and "no" deletes nothing (a probe's hand-added journal entry deleted a task nobody
    manages although the person answered "no"). "yes" pays them, then asks about the plan."""
    old, _ = _interrupted_replace(project)
    project.mark()
    declined, asked = _apply_answering(project, answer=False)
    assert declined
    assert asked == ["Delete these tasks before planning?"]
    assert project.writes() == []
    assert old in {t["schedule_id"] for t in project.emulator.schedules()}
    declined, asked = _apply_answering(project, answer=True)
    assert asked[0] == "Delete these tasks before planning?"
    assert [(r.method, r.path) for r in project.writes()] == [("DELETE", f"/v4/schedules/{old}")]
    assert old not in {t["schedule_id"] for t in project.emulator.schedules()}
