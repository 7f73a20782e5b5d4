"""`reconciler state list|show|rm|mv` through the real CLI entry (exit codes and messages)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.state.store import StateStore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the default state file (fixture with two entries)."""
    for var in ("RECONCILER_CONFIG", "RECONCILER_ENV", "RECONCILER_LOCK_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".reconciler").mkdir()
    shutil.copyfile(FIXTURES / "state-v1-two-entries.json", tmp_path / ".reconciler/state.json")
    return tmp_path


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _store(repo: Path) -> StateStore:
    return StateStore(repo / ".reconciler" / "state.json")


def test_list_shows_name_id_protection_and_update_time(repo: Path) -> None:
    """The text table has one row per entry, sorted by name, and a summary line."""
    result = _run("state", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE_ID", "PROTECTED", "UPDATED"]
    assert lines[1].split() == [
        "monthly-reminder",
        "sch_monthly",
        "no",
        "2027-01-02T00:00:00+00:00",
    ]
    assert lines[2].split() == ["weekly-digest", "sch_weekly", "yes", "2027-01-03T08:30:00+00:00"]
    assert "2 managed schedule(s) in .reconciler/state.json (serial 7)" in result.stdout


def test_list_json_is_machine_readable(repo: Path) -> None:
    """--format json gives a versioned object with every entry and the serial."""
    result = _run("state", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert data["serial"] == 7
    assert [e["name"] for e in data["entries"]] == ["monthly-reminder", "weekly-digest"]
    assert data["entries"][1]["schedule_id"] == "sch_weekly"
    assert data["pending"] == []


def test_list_without_a_state_file_says_nothing_is_managed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first apply, list explains there is no state yet (exit 0)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_CONFIG", raising=False)
    result = _run("state", "list")
    assert result.exit_code == 0
    assert "no state file at .reconciler/state.json yet" in result.stdout
    assert not (tmp_path / ".reconciler").exists()


def test_list_reports_pending_writes(repo: Path) -> None:
    """An interrupted write in the journal is shown, with what resolves it."""
    result = _run("state", "list")  # baseline has none
    assert "pending" not in result.stdout
    data = json.loads((repo / ".reconciler/state.json").read_text(encoding="utf-8"))
    data["pending"] = {
        "new-campaign": {
            "op": "create",
            "name": "new-campaign",
            "fingerprint": "sha256:cc",
            "started_at": "2027-01-04T00:00:00Z",
        }
    }
    (repo / ".reconciler/state.json").write_text(json.dumps(data), encoding="utf-8")
    result = _run("state", "list")
    assert "pending: an interrupted create of 'new-campaign'" in result.stdout
    assert "`reconciler apply` resolves it" in result.stdout


def test_show_prints_the_entry_as_json(repo: Path) -> None:
    """show NAME prints that entry with its name, id, fingerprint and timestamps."""
    result = _run("state", "show", "weekly-digest")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "name": "weekly-digest",
        "schedule_id": "sch_weekly",
        "fingerprint": "sha256:aa",
        "protected": True,
        "created_at": "2027-01-01T00:00:00Z",
        "updated_at": "2027-01-03T08:30:00Z",
    }


def test_show_unknown_name_exits_1_with_did_you_mean(repo: Path) -> None:
    """A typo is exit 1 with the closest name and the state file named."""
    result = _run("state", "show", "weekly-digst")
    assert result.exit_code == 1
    assert "has no entry named 'weekly-digst' (did you mean 'weekly-digest'?)" in result.stderr
    assert ".reconciler/state.json" in result.stderr
    assert "reconciler state list" in result.stderr


def test_rm_forgets_the_entry_and_says_the_task_is_untouched(repo: Path) -> None:
    """rm removes only the mapping, says the remote task is now unmanaged and how to re-adopt."""
    result = _run("state", "rm", "weekly-digest")
    assert result.exit_code == 0, result.output
    assert "removed 'weekly-digest' (schedule_id sch_weekly)" in result.stdout
    assert "is untouched and now UNMANAGED" in result.stdout
    assert "prevent_destroy protection is forgotten" in result.stdout
    assert "reconciler import weekly-digest=sch_weekly" in result.stdout
    state = _store(repo).load()
    assert list(state.entries) == ["monthly-reminder"]
    assert state.serial == 8


def test_rm_checks_every_name_before_changing_anything(repo: Path) -> None:
    """With one unknown name among several, nothing is removed and the file is not rewritten."""
    before = (repo / ".reconciler/state.json").read_bytes()
    result = _run("state", "rm", "weekly-digest", "nope")
    assert result.exit_code == 1
    assert "no entry named 'nope'" in result.stderr
    assert (repo / ".reconciler/state.json").read_bytes() == before


def test_mv_renames_the_entry_keeping_its_id(repo: Path) -> None:
    """mv moves the mapping to the new name; the id and fingerprint come along."""
    result = _run("state", "mv", "weekly-digest", "weekly")
    assert result.exit_code == 0, result.output
    assert "moved 'weekly-digest' -> 'weekly' (schedule_id sch_weekly)" in result.stdout
    state = _store(repo).load()
    assert sorted(state.entries) == ["monthly-reminder", "weekly"]
    assert state.entries["weekly"].schedule_id == "sch_weekly"


def test_mv_refuses_an_existing_new_name(repo: Path) -> None:
    """mv onto a name that exists is exit 1 and changes nothing."""
    before = (repo / ".reconciler/state.json").read_bytes()
    result = _run("state", "mv", "weekly-digest", "monthly-reminder")
    assert result.exit_code == 1
    assert "already has an entry named 'monthly-reminder'" in result.stderr
    assert (repo / ".reconciler/state.json").read_bytes() == before


def test_rm_fails_at_once_while_another_command_holds_the_lock(repo: Path) -> None:
    """With the lock held (as by an apply), rm exits 1 naming the holder and --lock-timeout."""
    with _store(repo).lock(0, "reconciler apply"):
        result = _run("state", "rm", "--lock-timeout", "0", "weekly-digest")
    assert result.exit_code == 1
    assert "is locked by `reconciler apply` (pid" in result.stderr
    assert "--lock-timeout" in result.stderr
    assert "weekly-digest" in _store(repo).load().entries


def test_mv_takes_the_lock_too(repo: Path) -> None:
    """mv is refused while the lock is held, like rm."""
    with _store(repo).lock(0, "reconciler apply"):
        result = _run("state", "mv", "--lock-timeout", "0", "weekly-digest", "weekly")
    assert result.exit_code == 1
    assert "is locked by" in result.stderr


def test_env_selects_that_environments_state_file(repo: Path) -> None:
    """--env reads the state file configured for that environment in reconciler.yaml."""
    (repo / "reconciler.yaml").write_text(
        "environments:\n  default: {}\n  prod: {}\n", encoding="utf-8"
    )
    prod = repo / ".reconciler" / "prod"
    prod.mkdir()
    shutil.copyfile(FIXTURES / "state-v1-two-entries.json", prod / "state.json")
    assert _run("--env", "prod", "state", "rm", "monthly-reminder").exit_code == 0
    assert "monthly-reminder" not in StateStore(prod / "state.json").load().entries
    assert "monthly-reminder" in _store(repo).load().entries


def test_unknown_env_is_exit_1(repo: Path) -> None:
    """--env naming no environment fails before touching any state."""
    result = _run("--env", "prod", "state", "list")
    assert result.exit_code == 1
    assert "no environment named 'prod'" in result.stderr


def test_explicit_missing_config_is_exit_1(repo: Path) -> None:
    """--config pointing at a missing file is an error (the implicit default is optional)."""
    result = _run("--config", "elsewhere.yaml", "state", "list")
    assert result.exit_code == 1
    assert "the config file elsewhere.yaml does not exist" in result.stderr


def test_corrupt_state_file_is_exit_1_pointing_at_the_backup(repo: Path) -> None:
    """A damaged state file is reported (exit 1) with the backup named, not a traceback."""
    (repo / ".reconciler/state.json").write_text("{", encoding="utf-8")
    result = _run("state", "list")
    assert result.exit_code == 1
    assert "is not valid JSON" in result.stderr
    assert "state.json.backup" in result.stderr
    assert "Traceback" not in result.output


def test_lock_timeout_option_makes_rm_wait_before_failing(repo: Path) -> None:
    """--lock-timeout reaches the lock: the error says how long it waited (0.2 s real time)."""
    with _store(repo).lock(0, "reconciler apply"):
        result = _run("state", "rm", "--lock-timeout", "0.2", "weekly-digest")
    assert result.exit_code == 1
    assert "after waiting 0.2s" in result.stderr


def _in_a_month() -> str:
    """A one-shot time that stays valid whenever the test runs."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize("bad", ["bad name!", "", "x" * 256])
def test_mv_refuses_a_new_name_no_manifest_could_have(repo: Path, bad: str) -> None:
    """mv to a name the name rules forbid is exit 1 with the rule, and the file is unchanged."""
    before = (repo / ".reconciler/state.json").read_bytes()
    result = _run("state", "mv", "weekly-digest", bad)
    assert result.exit_code == 1, result.output
    assert "error: cannot rename 'weekly-digest'" in result.stderr
    assert "the new name" in result.stderr
    assert "Traceback" not in result.output
    assert (repo / ".reconciler/state.json").read_bytes() == before


def test_mv_says_when_no_manifest_carries_the_new_name(repo: Path) -> None:
    """mv to a name no manifest has is done, with a warning naming what the next plan would do
    (delete the task, create the old name again) and the command that undoes it."""
    (repo / "schedules").mkdir()
    (repo / "schedules" / "weekly.yaml").write_text(
        "name: weekly-digest\nenabled: true\n"
        f"trigger: {{single: {{time: '{_in_a_month()}', zone_type: 1}}}}\n"
        "push: {to: all, body: {platform: all, notification: {alert: hi}}}\n",
        encoding="utf-8",
    )
    result = _run("state", "mv", "weekly-digest", "weekly_typo")
    assert result.exit_code == 0, result.output
    assert "warning: no valid manifest in schedules is named 'weekly_typo'" in result.stderr
    assert "deletes task sch_weekly and creates 'weekly-digest' again" in result.stderr
    assert "reconciler state mv weekly_typo weekly-digest" in result.stderr


def test_mv_to_the_renamed_manifests_name_has_no_warning(repo: Path) -> None:
    """After renaming the manifest first, mv finds it and says the plan shows an update."""
    (repo / "schedules").mkdir()
    (repo / "schedules" / "weekly.yaml").write_text(
        "name: weekly\nenabled: true\n"
        f"trigger: {{single: {{time: '{_in_a_month()}', zone_type: 1}}}}\n"
        "push: {to: all, body: {platform: all, notification: {alert: hi}}}\n",
        encoding="utf-8",
    )
    result = _run("state", "mv", "weekly-digest", "weekly")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "an update of its name to 'weekly'" in result.stdout
