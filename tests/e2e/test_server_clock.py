"""The server's clock is the command's clock: every answer is dated by the emulator's clock, the
client takes "now" from the first answer's ``Date`` header, warns about a skew of more than a
minute, and decides expiry and the fire guard by it. ``--now`` still wins (tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator
from tests.e2e.helpers import Project
from tests.kit.bodies import single
from tests.kit.emulator import RecordingEmulator

FIRES = "2027-03-01 10:00:00"  # UTC: the emulator's and the planner's zone in these tests
FIRED = datetime(2027, 3, 1, 11, 0, tzinfo=UTC)  # an hour after it


def run_plain(project: Project, *args: str) -> Result:
    """A command as a user types it: no ``--now``, the time comes from the server."""
    assert project.url is not None
    head = ["--endpoint", project.url, "--rate-limit", "10000"]
    return CliRunner().invoke(cli, [*head, *args], catch_exceptions=False)


def test_answers_are_dated_by_the_emulators_clock(project: Project) -> None:
    """Each answer of the served emulator has exactly one ``Date`` header, the emulator's time
    (not uvicorn's wall clock)."""
    project.emulator.set_time(FIRED)
    with project.api() as api:
        answer = api.get("/v4/schedules")
    dates = answer.headers.get_list("date")
    assert len(dates) == 1, dates
    assert parsedate_to_datetime(dates[0]) == FIRED


def test_a_fired_one_shot_is_forgotten_by_the_servers_clock(project: Project) -> None:
    """A served emulator whose clock passed a one-shot's time: a plain ``plan`` (no --now, this
    machine's clock months earlier) shows it expired and forgotten, not recreated, warns about
    the skew, and ``apply`` makes no write and drops the entry."""
    project.write("launch", trigger=single(FIRES))
    assert project.apply().exit_code == 0
    project.emulator.set_time(FIRED)
    project.mark()

    result = run_plain(project, "plan")
    assert result.exit_code == 0, result.output
    assert "recreate" not in result.output.lower(), result.output
    assert "trigger time passed" in result.output, result.output
    assert "warning: the server's clock is" in result.output
    assert "ahead of this machine's" in result.output

    result = run_plain(project, "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert "launch" not in project.state()["entries"]


def test_the_fire_guard_uses_the_servers_clock(project: Project) -> None:
    """A change to a schedule firing in 3 minutes by the server's clock is refused without
    --force, although by this machine's clock the firing is months away."""
    project.write("soon", trigger=single(FIRES))
    assert project.apply().exit_code == 0
    project.emulator.set_time(datetime(2027, 3, 1, 9, 57, tzinfo=UTC))
    project.write("soon", trigger=single(FIRES), alert="Changed")
    project.mark()

    result = run_plain(project, "apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "--force" in result.output
    assert project.writes() == []


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_embedded_now_in_the_future_does_not_resend_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded emulator run once with ``--now`` past a one-shot fires it and saves that;
    a later command without --now continues from that time instead of going back: the one-shot
    is forgotten, not created (and sent) a second time."""
    monkeypatch.chdir(tmp_path)
    real = datetime.now(UTC).replace(microsecond=0)
    at = real + timedelta(days=2)
    Project(tmp_path, RecordingEmulator(), url=None).write("campaign", trigger=single(_stamp(at)))

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    first = run("apply", "--auto-approve")
    assert first.exit_code == 0, first.output
    assert "clock" not in first.output  # the embedded emulator's clock is ours: no warning
    ahead = run("--now", (real + timedelta(days=3)).isoformat(), "plan")
    assert ahead.exit_code == 0, ahead.output
    later = run("apply", "--auto-approve")
    assert later.exit_code == 0, later.output
    assert "0 to create" in later.output, later.output
    assert "forget (expired) campaign" in later.output

    data = tmp_path / ".reconciler" / "emulator.json"
    em = Emulator(data_path=data)
    assert em.schedules() == []  # nothing was created again
    assert em.now() >= real + timedelta(days=3)


def test_now_is_documented_in_the_help() -> None:
    """``--now`` is a visible global option whose help says the server's clock is the default."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "--now" in result.output
    assert "server" in result.output
