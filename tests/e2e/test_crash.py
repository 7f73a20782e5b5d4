"""Crash safety: `reconciler apply` killed (SIGKILL) after the server committed a create but before
the state file recorded it, then run again, ends with exactly one task per manifest.

The apply runs as a real subprocess against the served emulator. The emulator's "commit then
time out" fault applies every write and then holds the answer, so the process is certainly
between the remote create and the state write when it is killed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator import Faults
from reconciler.emulator.core import Reply
from reconciler.emulator.wire import WireError
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning.canonical import fingerprint
from reconciler.state import edits as st
from reconciler.state.store import StateStore
from tests.e2e.helpers import Project
from tests.kit.bodies import body, single

HANG = Faults(commit_then_timeout_rate=1.0, hang_seconds=30)


@contextmanager
def apply_process(project: Project, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m reconciler ... [OPTIONS] apply --auto-approve` in the project, killed on
    exit."""
    args = [sys.executable, "-m", "reconciler", *project.args(*options, "apply", "--auto-approve")]
    with subprocess.Popen(
        args, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"apply ended early ({proc.returncode}): {err.decode()}")
        assert time.monotonic() < deadline, "the writes never reached the emulator"
        time.sleep(0.01)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """A runner shut down (SIGTERM): the command stops as at Ctrl-C, says so, and exits 143."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err.decode(errors="replace")
    assert err.decode().splitlines()[-1] == "terminated"
    assert b"Traceback" not in err


@pytest.mark.parametrize("stop", [kill, terminate], ids=["SIGKILL", "SIGTERM"])
def test_apply_killed_after_creates_committed_heals_without_duplicates(
    project: Project, stop: Callable[[subprocess.Popen[bytes]], None]
) -> None:
    """Three creates committed on the server, the process killed or terminated while waiting
    for the answers: the state holds only the pending journal. The next apply adopts the three
    tasks (no second POST), leaving one task per manifest, a complete state and an empty
    journal."""
    names = ["alpha", "beta", "gamma"]
    for name in names:
        project.write(name)
    project.emulator.faults = HANG
    with apply_process(project) as proc:
        wait_for(lambda: len(project.emulator.schedules()) == len(names), proc)
        stop(proc)
    crashed = project.state()
    assert crashed["entries"] == {}
    assert set(crashed["pending"]) == set(names)
    assert [m for m, _ in project.write_summary()] == ["POST"] * len(names)

    project.emulator.fresh_faults()
    project.mark()
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.writes() == []  # adopted, not created again
    healed = project.state()
    assert healed["pending"] == {}
    assert project.state_ids() == project.remote_ids()
    assert set(project.remote_ids()) == set(names)
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_creates_that_never_left_are_not_journalled_after_a_sigterm(project: Project) -> None:
    """One request at a time: the first create is committed and its answer held, the other two
    wait for their turn when SIGTERM comes. Only the first stays journalled (the server may
    have it); the two that never left are dropped, so the next apply, at once, adopts the first
    and creates the others instead of waiting out the late-commit grace for all three."""
    names = ["alpha", "beta", "gamma"]
    for name in names:
        project.write(name)
    project.emulator.faults = HANG
    with apply_process(project, "--concurrency", "1") as proc:
        wait_for(lambda: len(project.emulator.schedules()) == 1, proc)
        terminate(proc)
    (sent,) = [task["name"] for task in project.emulator.schedules()]
    assert set(project.state()["pending"]) == {sent}

    project.emulator.fresh_faults()
    project.mark()
    result = project.apply()  # the same moment: no time has passed
    assert result.exit_code == 0, result.output
    assert sorted(project.write_summary()) == [("POST", "/v4/schedules")] * 2
    assert project.state()["pending"] == {}
    assert sorted(project.state_ids()) == names
    assert project.state_ids() == project.remote_ids()


def test_apply_killed_inside_a_replace_heals_to_the_new_task(project: Project) -> None:
    """A replace killed after its POST committed: plan and drift report the work left (exit 2,
    no bogus conflict), and applying the saved plan adopts the new task and deletes the old
    one, so exactly one task carries the name and the state points at it."""
    project.write("promo", trigger=single(zone_type=1))
    project.write("steady")
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    project.write("promo", trigger=single(zone_type=2))
    project.mark()
    project.emulator.faults = HANG
    with apply_process(project) as proc:
        wait_for(lambda: len(project.remote()["promo"]) == 2, proc)
        kill(proc)
    assert project.state()["pending"]["promo"]["op"] == "replace"
    project.emulator.fresh_faults()
    project.mark()

    assert project.run("drift").exit_code == 2
    saved = project.root / "plan.json"
    plan = project.run("plan", "--format", "json", "--detailed-exitcode", "--out", str(saved))
    assert plan.exit_code == 2, plan.output  # the old task still fires: apply has work left
    assert old in plan.stderr
    assert json.loads(plan.stdout)["actions"] == []  # the adopted task is ours, no conflict
    assert project.writes() == []

    result = project.run("apply", str(saved))  # what the CI workflow does on exit code 2
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    (task,) = project.remote()["promo"]
    assert task["trigger"]["single"]["zone_type"] == 2
    assert project.state_ids() == project.remote_ids()
    assert project.state()["pending"] == {}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_state_edited_by_hand_beside_an_owed_delete_stops_the_saved_plan(
    project: Project,
) -> None:
    """A replace's delete is owed (the journal holds it) and the plan saved to finish it; then
    the state file is edited by hand at the same serial, binding another manifest to someone
    else's task. Applying the saved plan is refused: the journal entry does not hide the edit.
    The journal's own debt, the old task of the replace, is paid first, as always (it
    finishes a change approved earlier); nothing the plan or the edit names is written."""
    project.write("promo", trigger=single(zone_type=1))
    project.write("steady")
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    project.write("promo", trigger=single(zone_type=2))
    project.emulator.faults = HANG
    with apply_process(project) as proc:
        wait_for(lambda: len(project.remote()["promo"]) == 2, proc)
        kill(proc)
    project.emulator.fresh_faults()
    theirs = project.out_of_band_create(body("theirs"))  # seen by the plan, not its to touch
    saved = project.root / "plan.json"
    plan = project.run("plan", "--detailed-exitcode", "--out", str(saved))
    assert plan.exit_code == 2, plan.output

    path = project.root / ".reconciler" / "state.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["pending"]["promo"]["op"] == "replace"
    data["entries"]["steady"]["schedule_id"] = theirs  # same serial, same lineage
    path.write_text(json.dumps(data), encoding="utf-8")
    project.mark()

    result = project.run("apply", str(saved))
    assert result.exit_code != 0, result.output
    assert "binds other tasks than when the plan was made" in result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    assert theirs in project.remote_ids().values()


def test_lost_create_answers_are_resolved_in_the_same_run(project: Project) -> None:
    """The server commits each create and drops the connection: the client cannot know the
    outcome, so apply looks the tasks up instead of posting again. One POST per manifest, and
    the state records every task."""
    names = ["alpha", "beta"]
    for name in names:
        project.write(name)
    project.emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=0)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert [m for m, _ in project.write_summary()] == ["POST"] * len(names)
    assert project.state_ids() == project.remote_ids()
    assert set(project.state_ids()) == set(names)
    assert project.state()["pending"] == {}


def test_create_answers_held_past_the_timeout_are_resolved(project: Project) -> None:
    """Creates committed but answered after the client's --timeout: same outcome, no duplicate."""
    project.write("alpha")
    project.emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=5)
    result = project.run("--timeout", "0.3", "apply", "--auto-approve")
    project.emulator.fresh_faults()
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert project.state_ids() == project.remote_ids() == {"alpha": project.state_ids()["alpha"]}
    assert project.state()["pending"] == {}


def test_replace_with_lost_answers_ends_with_the_new_task_only(project: Project) -> None:
    """A replace whose POST and DELETE answers are both lost still ends with one task (the new
    one) in the state and on the server, and nothing journalled."""
    project.write("promo", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    project.write("promo", trigger=single(zone_type=2))
    project.mark()
    project.emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=0)
    result = project.apply()
    assert result.exit_code == 0, result.output
    (task,) = project.remote()["promo"]
    assert task["schedule_id"] != old
    assert project.state_ids() == {"promo": task["schedule_id"]}
    assert project.state()["pending"] == {}
    assert [m for m, _ in project.write_summary()].count("POST") == 1


def _journal_create(project: Project, data: dict[str, object]) -> datetime:
    """The state as an apply leaves it when the POST of ``data`` got no answer: journalled."""
    store = StateStore(project.state_path)
    sent = project.emulator.now()
    store.save(st.begin_pending(store.load(), "create", str(data["name"]), fingerprint(data), sent))
    project.mark()
    return sent


def _answer_creates_with(project: Project, monkeypatch: pytest.MonkeyPatch, sid: str) -> None:
    """The server answers every create with ``sid`` and makes no task (a hostile server)."""

    def same_id(raw: bytes) -> Reply:
        return Reply(200, {"schedule_id": sid, "name": json.loads(raw)["name"]})

    monkeypatch.setattr(project.emulator, "api_create", same_id)


def test_a_create_answered_with_another_schedules_id_is_not_recorded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer giving a new schedule the id of one the state holds: recorded, two names
    would share one task and every later command refuse the state. It is looked up instead
    (not there: journalled), the apply exits 1 and the state stays one that loads."""
    project.write("beta")
    assert project.apply().exit_code == 0
    beta = project.state_ids()["beta"]
    project.write("alpha")
    project.write("gamma")
    _answer_creates_with(project, monkeypatch, beta)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert f"the id {beta}, which is already the task of 'beta'" in result.output, result.output
    assert project.state_ids() == {"beta": beta}
    assert sorted(project.state()["pending"]) == ["alpha", "gamma"]
    assert project.run("state", "list").exit_code == 0


def test_a_create_answered_with_an_unmanaged_tasks_id_is_not_recorded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer giving the new schedule the id of a task the read listed as someone else's:
    recorded, the next apply would have written the manifest over that task (a review's
    probe), and the task the POST made would have stayed unmanaged beside it."""
    zeta = project.out_of_band_create(body("zeta"))
    project.write("alpha")
    _answer_creates_with(project, monkeypatch, zeta)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert f"the id {zeta}, which is already a task that existed before this run" in (
        result.output
    ), result.output
    assert project.state_ids() == {}
    assert list(project.state()["pending"]) == ["alpha"]


def test_a_create_answered_with_the_name_in_the_servers_form_is_recorded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that stores names in its own form answers with that form: the answer's id is
    the task made (doubting it would look the task up by a name the server does not show,
    miss it, and make it again once the grace had passed)."""
    project.write("alpha")
    answering = project.emulator.api_create

    def upper_cased(raw: bytes) -> Reply:
        stored = json.dumps({**json.loads(raw), "name": "ALPHA"}).encode()
        return answering(stored)

    monkeypatch.setattr(project.emulator, "api_create", upper_cased)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert list(project.state_ids()) == ["alpha"]
    assert project.state()["pending"] == {}


def test_a_replace_answered_with_the_old_tasks_id_keeps_the_old_task(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new half of a replace answered with the old task's id: taken, the old task's delete
    would remove the task just recorded as the new one. The old task stays, still managed."""
    project.write("beta", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["beta"]
    project.write("beta", trigger=single(zone_type=2))
    _answer_creates_with(project, monkeypatch, old)
    project.mark()
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "which is already the task of 'beta'" in result.output, result.output
    assert [r for r in project.writes() if r.method == "DELETE"] == []
    assert project.state_ids() == {"beta": old}
    assert [t["schedule_id"] for t in project.emulator.schedules()] == [old]


def test_a_create_the_server_commits_late_is_not_made_twice(project: Project) -> None:
    """A POST whose answer never came may be committed after the client gave up (a server slow
    to commit: an outside probe's server committed 12 s after a 2 s timeout, and the re-run in
    between created the schedule a second time). A re-run within LATE_COMMIT_GRACE of the
    journal entry sends no POST and says until when; the task committed meanwhile is then
    adopted, not created again."""
    project.write("beta")
    assert project.apply().exit_code == 0
    alpha = project.write("alpha")
    sent = _journal_create(project, alpha)

    soon = project.run("apply", "--auto-approve", now=sent + timedelta(seconds=12))
    assert soon.exit_code == 1, soon.output
    until = (sent + LATE_COMMIT_GRACE).astimezone(UTC)
    assert f"not sent again before {until:%Y-%m-%d %H:%M:%S} UTC" in soon.output
    assert "re-run after that time" in soon.output
    assert "(by the server's clock)" in soon.output
    assert project.writes() == []
    assert "alpha" in project.state()["pending"]

    late = project.emulator.add_schedule(alpha)  # the server commits it now
    result = project.run("apply", "--auto-approve", now=sent + LATE_COMMIT_GRACE)
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert project.state_ids()["alpha"] == late
    assert project.remote_ids()["alpha"] == late
    assert project.state()["pending"] == {}


def test_a_create_that_never_took_effect_is_made_once_the_grace_has_passed(
    project: Project,
) -> None:
    """The other outcome: the POST never reached the server. After LATE_COMMIT_GRACE the journal
    entry is dropped and the schedule is created, once."""
    project.write("beta")
    assert project.apply().exit_code == 0
    alpha = project.write("alpha")
    sent = _journal_create(project, alpha)

    result = project.run("apply", "--auto-approve", now=sent + LATE_COMMIT_GRACE)
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert "'alpha': the interrupted create did not take effect" in result.output
    assert set(project.remote_ids()) == {"alpha", "beta"}
    assert project.state()["pending"] == {}


def test_a_create_the_server_stored_under_its_own_name_is_not_made_twice(
    project: Project,
) -> None:
    """A lost create the server committed under a name of its own (here upper-cased, beyond
    what the journal's name comparison folds): after the wait the entry used to be dropped as
    "did not take effect" and the schedule created a second time. The run stops instead,
    names the look-alike task, and sends nothing; renamed to the manifest's name, the task is
    adopted by the next run."""
    project.write("beta")
    assert project.apply().exit_code == 0
    alpha = project.write("alpha")
    sent = _journal_create(project, alpha)
    stored = project.emulator.add_schedule({**alpha, "name": "ALPHA"})

    result = project.run("apply", "--auto-approve", now=sent + LATE_COMMIT_GRACE)
    assert result.exit_code == 1, result.output
    assert (
        f"the interrupted create of 'alpha' is not in the remote list under its name, but "
        f"{stored} (named 'ALPHA') has its body under another name"
    ) in result.output
    assert "rename it to 'alpha' in the console" in result.output
    assert "state rm --pending alpha` lets the next apply create it" in result.output
    assert project.writes() == []
    assert "alpha" in project.state()["pending"]
    assert project.run("plan", now=sent + LATE_COMMIT_GRACE).exit_code == 1

    project.emulator.api_update(stored, json.dumps(alpha).encode())  # renamed in the console
    result = project.run("apply", "--auto-approve", now=sent + LATE_COMMIT_GRACE)
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert project.state_ids()["alpha"] == stored
    assert sorted(project.remote_ids()) == ["alpha", "beta"]


def test_a_lost_create_is_made_when_only_a_managed_task_has_its_body(project: Project) -> None:
    """The look-alike search leaves out tasks a schedule manages: two manifests with one body
    but their names, the second one's create lost before it left, is created once the wait
    has passed (not stopped by its twin)."""
    beta = project.write("beta")
    assert project.apply().exit_code == 0
    alpha = {**beta, "name": "alpha"}
    project.write_body(alpha)
    sent = _journal_create(project, alpha)
    result = project.run("apply", "--auto-approve", now=sent + LATE_COMMIT_GRACE)
    assert result.exit_code == 0, result.output
    assert "'alpha': the interrupted create did not take effect" in result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]


def test_a_server_clock_stepping_forward_does_not_end_the_grace(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --now a command judges by the server's clock (its Date header), and a server's
    clock can step minutes forward at once (another node behind its load balancer, an NTP
    step). A create whose answer was lost is journalled by that clock and this machine's: six
    minutes later by the server's, seconds later by ours, the re-run still sends no POST (an
    outside probe's re-run created the schedule again, and the late commit made it twice).
    The server's clock is set to this machine's first: the step is the only difference."""
    project.emulator.set_time(datetime.now(UTC))
    project.write("beta")
    assert project.apply().exit_code == 0
    project.write("alpha")

    def lost(raw: bytes) -> Reply:
        raise WireError(503, 28203, "service unavailable")  # the POST's fate is unknown

    answering = project.emulator.api_create
    monkeypatch.setattr(project.emulator, "api_create", lost)
    by_the_clocks = ["--rate-limit", "10000", "--endpoint", str(project.url)]
    first = CliRunner().invoke(cli, [*by_the_clocks, "apply", "--auto-approve"])
    assert first.exit_code == 1, first.output
    entry = project.state()["pending"]["alpha"]
    server = datetime.fromisoformat(entry["started_at"])
    here = datetime.fromisoformat(entry["started_locally"])
    assert abs(server - here) < timedelta(seconds=2)
    assert abs(datetime.now(UTC) - here) < timedelta(minutes=1)

    monkeypatch.setattr(project.emulator, "api_create", answering)
    project.emulator.advance(6 * 60)
    project.mark()
    again = CliRunner().invoke(cli, [*by_the_clocks, "apply", "--auto-approve"])
    assert again.exit_code == 1, again.output
    assert "'alpha' is not in the remote list yet" in again.output, again.output
    assert [r for r in project.writes() if r.method == "POST"] == []
    assert "alpha" in project.state()["pending"]


@pytest.mark.parametrize("ahead", [timedelta(days=30), None], ids=["a-month", "end-of-calendar"])
def test_state_rm_of_a_create_stamped_ahead_names_the_time_an_apply_would_decide(
    project: Project, ahead: timedelta | None
) -> None:
    """A journal entry stamped ahead of the clock (a rehearsal's --now, another runner's clock)
    is refused until now + the grace, what the next apply waits for, not until the stamp; and a
    stamp at the end of the calendar is no traceback (it was an OverflowError)."""
    alpha = project.write("alpha")
    now = project.emulator.now()
    stamp = datetime.max.replace(tzinfo=UTC) if ahead is None else now + ahead
    store = StateStore(project.state_path)
    store.save(st.begin_pending(store.load(), "create", "alpha", fingerprint(alpha), stamp))
    refused = project.run("state", "rm", "--pending", "alpha", now=now)
    assert refused.exit_code == 1, refused.output
    until = (now + LATE_COMMIT_GRACE).astimezone(UTC)
    assert f"after {until:%Y-%m-%d %H:%M:%S} UTC" in refused.stderr, refused.stderr


def test_state_rm_keeps_a_create_journalled_within_the_grace(project: Project) -> None:
    """Dropping the journal entry of a create whose answer may still come would let the next
    apply create the schedule a second time: `state rm` refuses within LATE_COMMIT_GRACE
    (state unchanged), says until when, and does it once the grace has passed or with --force."""
    project.write("beta")
    assert project.apply().exit_code == 0
    alpha = project.write("alpha")
    sent = _journal_create(project, alpha)
    before = project.state_path.read_bytes()
    for args in (("state", "rm", "--pending", "alpha"), ("state", "rm", "alpha")):
        refused = project.run(*args, now=sent + timedelta(minutes=1))
        assert refused.exit_code == 1, refused.output
        assert "refusing to drop a create whose answer may still come: 'alpha'" in refused.stderr
        until = (sent + LATE_COMMIT_GRACE).astimezone(UTC)
        assert f"after {until:%Y-%m-%d %H:%M:%S} UTC" in refused.stderr
        assert project.state_path.read_bytes() == before

    forced = project.run("state", "rm", "--pending", "--force", "alpha", now=sent)
    assert forced.exit_code == 0, forced.output
    assert project.state()["pending"] == {}
    again = _journal_create(project, alpha)
    later = project.run("state", "rm", "--pending", "alpha", now=again + LATE_COMMIT_GRACE)
    assert later.exit_code == 0, later.output
    assert project.state()["pending"] == {}
