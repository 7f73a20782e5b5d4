"""When the server rejects one action, the others still happen and are recorded; apply exits 1."""

from __future__ import annotations

from reconciler.emulator import Faults
from tests.e2e.helpers import Project


def test_rejected_create_does_not_stop_the_others(project: Project) -> None:
    """The server refuses the second new task (its own active limit): the update and the first
    create are carried out and recorded (and counted, the refused one not), the failure is
    named, apply exits 1, and a later apply creates only what is missing."""
    project.write("old", alert="v1")
    assert project.apply().exit_code == 0
    project.emulator.max_active = 2
    project.write("old", alert="v2")
    project.write("new_a")
    project.write("new_b")
    project.mark()

    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "1 action(s) failed" in result.output
    assert "too many scheduled tasks" in result.output
    methods = [m for m, _ in project.write_summary()]
    assert methods.count("PUT") == 1
    assert methods.count("POST") == 2
    # The refused POST changed nothing: the summary counts the writes the server made.
    assert "2 action(s) done, 2 remote write(s), 1 failed." in result.output
    state = project.state()
    assert state["pending"] == {}
    assert set(state["entries"]) == {"old", "new_a"} or set(state["entries"]) == {"old", "new_b"}
    assert project.state_ids() == project.remote_ids()
    assert project.remote()["old"][0]["push"]["body"]["notification"]["alert"] == "v2"

    project.emulator.max_active = 1000
    project.mark()
    again = project.apply()
    assert again.exit_code == 0, again.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert set(project.state_ids()) == {"old", "new_a", "new_b"}


def test_state_mv_after_a_rename_updates_the_task_in_place(project: Project) -> None:
    """Renaming a manifest and moving its state entry (`state mv`) keeps the task: one PUT of
    the new name, no delete and no create."""
    project.write("old_name")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["old_name"]
    project.remove("old_name")
    project.write("new_name")
    moved = project.run("state", "mv", "old_name", "new_name")
    assert moved.exit_code == 0, moved.output
    project.mark()

    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.remote_ids() == project.state_ids() == {"new_name": sid}


def test_a_create_refused_for_longer_than_the_client_waits_says_why(project: Project) -> None:
    """A server that wants a pause longer than the client waits (Retry-After over 120 s): the
    failed create says how long it asked for, not only "HTTP 429"; nothing is created."""
    project.write("alpha")
    project.emulator.faults = Faults(rate_limit=0.005)  # one request per 200 s: page 1 only
    project.mark()

    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "create 'alpha': POST /v4/schedules: HTTP 429" in result.output
    assert "the server asked to wait 200 s, more than 120 s" in result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert project.remote() == {}
