"""Two applies from two checkouts (each with its own state file and lock) that create one
schedule at the same moment: both read no task of its name, and both create one. The server
lists tasks oldest first, so each run sees which copy came first; the run whose copy is not
first gives way to it (records it, deletes its own), and the first run keeps its own.

The other checkout is played by the emulator itself: its create of the schedule also makes the
other run's copy, just before or just after this run's."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.helpers import Project


def _another_apply_creates(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    *,
    first: bool,
    edit: Callable[[dict[str, Any]], None] | None = None,
    copies: int = 1,
) -> list[str]:
    """When this run creates ``name``, other runs' ``copies`` are made too: ``first`` (before
    it) or after it, with ``edit`` applied to their body (another revision). Returns their ids,
    oldest first."""
    emulator = project.emulator
    real = emulator.api_create
    made: list[str] = []

    def create(raw: bytes) -> Any:
        if made or json.loads(raw).get("name") != name:
            return real(raw)
        theirs = json.loads(raw)
        if edit is not None:
            edit(theirs)

        def other() -> None:
            for _ in range(copies):
                made.append(real(json.dumps(theirs).encode()).body["schedule_id"])

        if first:
            other()
        answer = real(raw)
        if not first:
            other()
        return answer

    monkeypatch.setattr(emulator, "api_create", create)
    return made


def _ids(project: Project, name: str) -> list[str]:
    return [t["schedule_id"] for t in project.emulator.schedules() if t["name"] == name]


def _both_kept(project: Project, theirs: list[str], result: Any) -> str:
    """The apply failed and both copies of 'promo' are live; this run's copy (its state's)."""
    assert result.exit_code == 1, result.output
    mine = project.state_ids()["promo"]
    assert sorted(_ids(project, "promo")) == sorted([mine, *theirs])
    return mine


def test_a_copy_another_apply_made_first_is_taken_and_this_runs_copy_deleted(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: both copies stayed, and both fired until someone ran plan. Now this run records
    the first copy and deletes its own; the other run keeps the first copy too."""
    project.write("promo")
    project.write("digest")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert _ids(project, "promo") == theirs
    assert project.state_ids()["promo"] == theirs[0]
    assert project.state()["pending"] == {}
    assert f"gave way on 'promo': another apply made it at the same moment ({theirs[0]})" in (
        result.output
    )
    assert project.run("plan", "--detailed-exitcode").exit_code == 0  # the hook made one copy


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first run waits a fraction of a second, not ten, for the later runs to give way."""
    from reconciler.apply import executor

    monkeypatch.setattr(executor, "SETTLE_WAIT_SECONDS", 0.4)
    monkeypatch.setattr(executor, "SETTLE_POLL_SECONDS", 0.1)


def test_a_later_copy_whose_run_gives_way_is_said_so(
    project: Project, monkeypatch: pytest.MonkeyPatch, short_wait: None
) -> None:
    """This run's copy came first: it waits for the later copy's run to give way, and says
    so once the copy is gone."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=False)
    emulator = project.emulator
    real_list = emulator.api_list
    reads: list[int] = []

    def other_run_gives_way(page: str | None) -> Any:
        if theirs:
            reads.append(1)
            if len(reads) == 2 and emulator.schedules():
                emulator.api_delete(theirs[0])
        return real_list(page)

    monkeypatch.setattr(emulator, "api_list", other_run_gives_way)
    result = project.apply()
    assert result.exit_code == 0, result.output
    mine = project.state_ids()["promo"]
    assert _ids(project, "promo") == [mine]
    assert f"({theirs[0]}), and gave way to this run's first copy {mine}" in result.output


def test_a_later_copy_still_live_after_the_wait_is_a_failure(
    project: Project, monkeypatch: pytest.MonkeyPatch, short_wait: None
) -> None:
    """The later copy's run did not give way in time (still busy, or its server showed the
    copies in another order): both fire, and the run says so instead of a note that it will."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=False)
    result = project.apply()
    mine = _both_kept(project, theirs, result)
    assert (
        f"task(s) {theirs[0]} of the same name, made by another apply at the same moment "
        f"and after this run's {mine}, with its body, are still live 0.4 s later" in result.output
    )


def test_a_first_copy_with_another_body_is_a_failure_naming_both(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first copy holds another body (another revision of the manifest, or someone else's
    task): which one is right is a person's call. Both are kept, the run fails naming both."""
    project.write("promo")

    def older_revision(data: dict[str, Any]) -> None:
        data["push"]["body"]["notification"]["alert"] = "last week's text"

    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True, edit=older_revision)
    result = project.apply()
    mine = _both_kept(project, theirs, result)
    assert (
        f"task {theirs[0]} of the same name, made while this apply ran and before this "
        f"run's {mine}, holds another body" in result.output
    )


def test_a_failed_delete_of_this_runs_copy_is_owed_and_paid_by_the_next_apply(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Giving way records the first copy together with the debt to delete this run's; a
    delete that fails leaves the debt, and the next apply pays it: never two copies managed."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    real_delete = project.emulator.api_delete

    def refused(schedule_id: str) -> Any:
        from reconciler.emulator.wire import invalid

        raise invalid("the server is busy")

    monkeypatch.setattr(project.emulator, "api_delete", refused)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "the journal keeps the delete of this run's copy" in result.output
    assert project.state_ids()["promo"] == theirs[0]
    [mine] = [sid for sid in _ids(project, "promo") if sid != theirs[0]]
    assert project.state()["pending"]["promo"]["old_schedule_id"] == mine
    monkeypatch.setattr(project.emulator, "api_delete", real_delete)
    again = project.apply()
    assert again.exit_code == 0, again.output
    assert _ids(project, "promo") == theirs
    assert project.state()["pending"] == {}


def test_a_copy_first_on_one_read_but_not_the_next_is_not_given_way_to(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server whose list order is not stable (a proxy shuffling pages) made two runs each
    see the other's copy first: both gave way, each deleted its own, and the schedule was gone.
    A run gives way only when a second read shows the same copy first; otherwise both copies
    stay and the run fails, saying how to keep one."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    emulator = project.emulator
    real_list = emulator.api_list
    calls: list[int] = []

    def unstable(page: str | None) -> Any:
        answer = real_list(page)
        if theirs:  # after the creates: the second read lists newest first
            calls.append(1)
            if len(calls) == 2:
                answer.body["schedules"].reverse()
        return answer

    monkeypatch.setattr(emulator, "api_list", unstable)
    result = project.apply()
    _both_kept(project, theirs, result)
    assert "the second read of the list does not show it first: both are kept" in result.output
    assert "the other apply may still give way. If the schedule is still live twice" in (
        result.output
    )


def test_of_three_copies_the_first_is_kept(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three applies at once: the two later copies give way to the first, not to each other."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True, copies=2)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.state_ids()["promo"] == theirs[0]
    assert sorted(_ids(project, "promo")) == sorted(theirs)  # the other run deletes its own


def test_a_later_copy_with_another_body_is_a_failure_for_the_first_run_too(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This run's copy is first, but the later one holds another revision: its run will not
    give way (the bodies differ), so saying it does would leave two copies firing unremarked."""
    project.write("promo")

    def newer_revision(data: dict[str, Any]) -> None:
        data["push"]["body"]["notification"]["alert"] = "this week's text"

    theirs = _another_apply_creates(project, monkeypatch, "promo", first=False, edit=newer_revision)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert f"task(s) {theirs[0]} of the same name, made while this apply ran and after " in (
        result.output
    )
    assert "hold another body" in result.output


def test_a_read_that_does_not_add_up_is_never_judged_for_order(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list read whose passes did not add up merges pages out of order: no copy is judged
    first from it (two runs each judging the other's first would each delete their own)."""
    from reconciler.remote import listing

    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    real_read = listing.read_list

    async def unsettled(*args: Any, **kwargs: Any) -> Any:
        read = await real_read(*args, **kwargs)
        if not theirs:
            return read
        return listing.RemoteList(rows=read.rows, complete=False, problems=("churn",))

    monkeypatch.setattr(listing, "read_list", unsettled)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert "the list could not be read whole again after the creates" in result.output
    assert len(_ids(project, "promo")) == 2  # kept, and the next plan names the copy


def test_when_the_first_copy_is_gone_after_giving_way_the_run_says_none_is_left(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other run judged the copies the other way round and deleted its own while this one
    gave way to it: no task is left. Reported as a failure, not as "gave way"; the next apply
    creates the schedule again."""
    project.write("promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    emulator = project.emulator
    real_delete = emulator.api_delete

    def both(schedule_id: str) -> Any:
        answer = real_delete(schedule_id)
        if theirs and theirs[0] != schedule_id and emulator.schedules():
            real_delete(theirs[0])
        return answer

    monkeypatch.setattr(emulator, "api_delete", both)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "so no task of the schedule is live: the next apply creates it" in result.output
    assert _ids(project, "promo") == []
    again = project.apply()
    assert again.exit_code == 0, again.output
    assert len(_ids(project, "promo")) == 1
