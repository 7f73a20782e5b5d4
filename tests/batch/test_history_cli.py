"""`reconciler history`: a schedule's msg-ids as a table or JSON, in the environment's zone."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator, Faults
from tests.kit import bodies

DAILY_NOON: dict[str, Any] = bodies.body(
    "daily_noon",
    alert="noon",
    sender=None,
    trigger=bodies.periodical(
        end="2027-02-01 00:00:00", time="12:00:00", time_unit="day", point=()
    ),
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def fired_three_times(emulator: Emulator) -> str:
    """A daily task created at NOW, then the clock moved past three of its noons."""
    schedule_id = emulator.add_schedule(DAILY_NOON)
    for _ in range(3):
        emulator.advance(timedelta(days=1).total_seconds())
    return schedule_id


def test_three_firings_give_three_rows(repo: Path, url: str, emulator: Emulator) -> None:
    """After the emulator's clock fired the task three times, history lists three executions."""
    schedule_id = fired_three_times(emulator)
    result = run("--endpoint", url, "history", "--id", schedule_id)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["EXECUTED", "MSG_ID", "ERROR", "MESSAGE", "RETRY"]
    rows = [line.split() for line in lines[1:4]]
    assert [r[:3] for r in rows] == [
        ["2027-01-01", "12:00:00", "UTC"],
        ["2027-01-02", "12:00:00", "UTC"],
        ["2027-01-03", "12:00:00", "UTC"],
    ]
    msg_ids = [r["msg_id"] for r in emulator.msg_records(schedule_id)]
    assert [r[3] for r in rows] == msg_ids
    assert {tuple(r[4:]) for r in rows} == {("-", "-", "no")}
    assert "3 execution(s) of schedule" in result.stdout
    assert "3 ok, 0 failed" in result.stdout


def test_times_are_shown_in_the_environments_time_zone(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """With --timezone Asia/Shanghai the same firings read eight hours later, marked CST."""
    schedule_id = fired_three_times(emulator)
    result = run("--endpoint", url, "--timezone", "Asia/Shanghai", "history", "--id", schedule_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split()[:3] == ["2027-01-01", "20:00:00", "CST"]
    assert "times in Asia/Shanghai" in result.stdout


def test_json_carries_time_with_offset_ts_code_and_retry_flag(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """--format json: one object per execution, time with offset plus the raw epoch ms."""
    schedule_id = fired_three_times(emulator)
    result = run(
        "--endpoint", url, "--timezone", "Asia/Shanghai", "history", "--id", schedule_id,
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["schedule_id"], doc["timezone"], doc["count"]) == (
        schedule_id,
        "Asia/Shanghai",
        3,
    )
    first = doc["executions"][0]
    assert first["executed_at"] == "2027-01-01T20:00:00+08:00"
    assert first["ts"] == emulator.msg_records(schedule_id)[0]["ts"]
    assert first["error"] == {"code": 0, "message": ""}
    assert first["need_retry"] is False


def test_failed_firings_show_code_and_message(repo: Path, url: str, emulator: Emulator) -> None:
    """A firing recorded with error 1011 shows the code and the vendor's message."""
    emulator.faults = Faults(fire_error_rate=1.0)
    schedule_id = fired_three_times(emulator)
    result = run("--endpoint", url, "history", "--id", schedule_id)
    assert result.exit_code == 0, result.output
    row = result.stdout.splitlines()[1]
    assert "1011" in row
    assert "Cannot find sending target" in row
    assert "0 ok, 3 failed" in result.stdout


def test_never_fired_says_so(repo: Path, url: str, emulator: Emulator) -> None:
    """A task that has not fired yet gives a sentence, not an empty table."""
    schedule_id = emulator.add_schedule(DAILY_NOON)
    result = run("--endpoint", url, "history", "--id", schedule_id)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"No executions yet for schedule {schedule_id}.\n"


def test_unknown_id_is_a_clear_error(repo: Path, url: str, emulator: Emulator) -> None:
    """An id the server does not know is reported as such, with what to do (exit 1)."""
    result = run("--endpoint", url, "history", "--id", "no-such-id")
    assert result.exit_code == 1
    assert "schedule no-such-id does not exist on the server" in result.stderr
    assert "hint:" in result.stderr


def test_name_needs_a_state_entry(repo: Path, url: str, emulator: Emulator) -> None:
    """A NAME the state file does not know: error saying to apply first or use --id."""
    result = run("--endpoint", url, "history", "daily_digest")
    assert result.exit_code == 1
    assert "no schedule named 'daily_digest' in the state file" in result.stderr
    assert f"`reconciler --endpoint {url} apply`" in result.stderr
    assert "--id SCHEDULE_ID" in result.stderr
    assert emulator.request_log == []


def test_name_or_id_exactly_one(repo: Path, url: str, emulator: Emulator) -> None:
    """history with neither NAME nor --id is a usage error, before any call."""
    result = run("--endpoint", url, "history")
    assert result.exit_code == 1
    assert "give NAME or --id SCHEDULE_ID" in result.stderr


def test_name_is_looked_up_in_the_state_after_apply(repo: Path) -> None:
    """apply records the id; history NAME on the embedded emulator three noons later: 3 rows."""
    applied = run("--now", "2026-12-31T00:00:00+00:00", "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    result = run("--now", "2027-01-04T00:00:00+00:00", "history", "daily_digest")
    assert result.exit_code == 0, result.output
    state = json.loads((repo / ".reconciler" / "state.json").read_text())
    schedule_id = state["entries"]["daily_digest"]["schedule_id"]
    assert f"3 execution(s) of 'daily_digest' (schedule {schedule_id})" in result.stdout
    assert [line.split()[1] for line in result.stdout.splitlines()[1:4]] == ["12:00:00"] * 3
