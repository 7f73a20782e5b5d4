"""`reconciler test-send` end to end: the CLI against an emulator served on loopback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator
from tests.batch.helpers import NOW, batch_calls


def run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--endpoint", url, "--now", NOW.isoformat(), "test-send", *args], env=env
    )


def write_targets(repo: Path, lines: list[str]) -> str:
    path = repo / "targets.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_1200_targets_go_out_in_three_batches_each_with_its_msg_id(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """Three batch calls (500, 500, 200); every target's msg_id is in the JSON report."""
    targets = [f"regid{i:05d}" for i in range(1200)]
    file = write_targets(repo, ["# QA devices", *targets])
    result = run(url, "short_note", "--targets-file", file, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["batches"] == 3
    assert batch_calls(emulator) == ["/v4/batch/push/regid"] * 3
    assert [t["target"] for t in report["targets"]] == targets
    assert all(t["delivered"] and t["msg_id"] for t in report["targets"])
    sent = {str(p["msg_id"]): p["target"] for p in emulator.pushes()}
    assert {t["msg_id"]: t["target"] for t in report["targets"]} == sent
    assert report["delivered"] == 1200


def test_text_report_has_one_row_per_target(repo: Path, url: str, emulator: Emulator) -> None:
    """The table lists target, delivered and msg_id, then a summary line; exit 0."""
    result = run(url, "daily_digest", "--alias", "anna", "--alias", "ben")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TARGET", "DELIVERED", "MSG_ID", "/", "ERROR"]
    msg_ids = {p["target"]: str(p["msg_id"]) for p in emulator.pushes()}
    assert lines[1].split() == ["anna", "yes", msg_ids["anna"]]
    assert lines[2].split() == ["ben", "yes", msg_ids["ben"]]
    assert "2 of 2 target(s) delivered through POST /v4/batch/push/alias" in result.stdout


def test_only_the_listed_targets_get_the_content(repo: Path, url: str, emulator: Emulator) -> None:
    """The request carries the manifest's notification; audience and campaign keys stay home."""
    result = run(url, "daily_digest", "--regid", "r1")
    assert result.exit_code == 0, result.output
    [pushed] = emulator.pushes()
    request = pushed["request"]
    assert request["target"] == "r1"
    assert request["platform"] == "all"  # [android, ios] in the manifest
    assert request["notification"]["ios"]["badge"] == "+1"
    assert request["options"] == {"apns_production": False, "time_to_live": 60}
    assert request["custom_args"] == {"business": "info"}


def test_push_to_is_explained_once_in_the_help_not_on_every_send(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """Every schedule has a push.to, so its being left out is said in the help, not noted on
    every test send."""
    result = run(url, "daily_digest", "--regid", "r1")
    assert result.exit_code == 0, result.output
    assert "push.to" not in result.stderr
    helped = CliRunner().invoke(cli, ["test-send", "--help"], terminal_width=200)
    assert "its push.to is left out" in " ".join(helped.output.split())


def test_duplicate_targets_are_sent_once(repo: Path, url: str, emulator: Emulator) -> None:
    """Repeated --regid values (and file lines) reach the device once; a note says so."""
    result = run(url, "daily_digest", "--regid", "r1", "--regid", "r2", "--regid", "r1")
    assert result.exit_code == 0, result.output
    assert [p["target"] for p in emulator.pushes()] == ["r1", "r2"]
    assert "1 repeated target(s) are sent once" in result.stderr


def test_wrong_credentials_stop_with_one_message_and_no_send(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """A 21004 answer ends the run at once: one error message, exit 1, no push, no 2nd batch."""
    file = write_targets(repo, [f"r{i}" for i in range(1200)])
    env = {"ENGAGELAB_APP_KEY": "wrongwrongwrongwrong0000", "ENGAGELAB_MASTER_SECRET": "nope"}
    result = run(url, "daily_digest", "--targets-file", file, env=env)
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "basic authentication failed" in errors[0]
    assert "code 21004" in errors[0]
    assert "nothing was sent" in errors[0]
    assert "wrongwrongwrong" not in result.output
    assert len(batch_calls(emulator)) == 1
    assert emulator.pushes() == []


def test_refused_content_makes_no_call(repo: Path, url: str, emulator: Emulator) -> None:
    """A Live Activity push is refused with its reason before any request reaches the server."""
    result = run(url, "score_update", "--regid", "r1")
    assert result.exit_code == 1
    assert "push.body.live_activity" in result.stderr
    assert emulator.request_log == []


def test_notification_and_message_need_a_choice(repo: Path, url: str, emulator: Emulator) -> None:
    """Without --content nothing is sent; with --content message the message goes out."""
    refused = run(url, "welcome_back", "--regid", "r1")
    assert refused.exit_code == 1
    assert "--content" in refused.stderr
    assert emulator.request_log == []
    chosen = run(url, "welcome_back", "--regid", "r1", "--content", "message")
    assert chosen.exit_code == 0, chosen.output
    assert emulator.pushes()[0]["request"]["message"]["msg_content"] == "welcome-back-banner"


def test_dry_run_prints_the_batches_and_makes_no_call(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """--dry-run shows the exact requests, split into batches, and sends nothing."""
    file = write_targets(repo, [f"r{i}" for i in range(501)])
    result = run(url, "short_note", "--targets-file", file, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["endpoint"] == "POST /v4/batch/push/regid"
    assert [len(b["requests"]) for b in doc["batches"]] == [500, 1]
    assert doc["batches"][1]["requests"][0]["target"] == "r500"
    assert emulator.request_log == []


def test_unknown_manifest_name_suggests_close_ones(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """A typo in NAME names the manifests directory and the likely meant schedule."""
    result = run(url, "daily_digets", "--regid", "r1")
    assert result.exit_code == 1
    assert "no manifest named 'daily_digets'" in result.stderr
    assert "did you mean 'daily_digest'" in result.stderr
    assert emulator.request_log == []


def test_targets_must_be_given_one_way(repo: Path, url: str, emulator: Emulator) -> None:
    """--regid with --alias is refused: one call goes to one endpoint."""
    result = run(url, "daily_digest", "--regid", "r1", "--alias", "a1")
    assert result.exit_code == 1
    assert "give the targets one way" in result.stderr


def test_targets_file_errors_name_the_line(repo: Path, url: str, emulator: Emulator) -> None:
    """A bad line in the targets file is reported with file and line; nothing is sent."""
    file = write_targets(repo, ["r1", "r2 r3"])
    result = run(url, "daily_digest", "--targets-file", file)
    assert result.exit_code == 1
    assert f"{file}:2: 'r2 r3' contains whitespace" in result.stderr
    assert emulator.request_log == []


def test_targets_with_control_characters_are_refused_before_any_request(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """A targets file holding a NUL and an OSC escape sequence (it sets the terminal's title),
    and a --regid holding an ESC: exit 1, each shown escaped with its place, nothing sent, and
    no raw control character reaches the terminal."""
    file = repo / "targets.txt"
    file.write_bytes(b"r1\na\x00b\nc\x1b]0;owned-title\x07\n")
    result = run(url, "daily_digest", "--targets-file", str(file))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # an error message, not a traceback
    assert f"{file}:2: 'a\\x00b' contains a control character" in result.stderr
    assert f"{file}:3: 'c\\x1b]0;owned-title\\x07' contains a control character" in result.stderr
    flagged = run(url, "daily_digest", "--regid", "r1", "--regid", "r\x1b[2J")
    assert flagged.exit_code == 1, flagged.output
    assert isinstance(flagged.exception, SystemExit)
    assert "--regid 'r\\x1b[2J': 'r\\x1b[2J' contains a control character" in flagged.stderr
    for raw in ("\x00", "\x1b", "\x07"):
        assert raw not in result.output + flagged.output
    assert emulator.request_log == []


def test_aliases_from_a_file_use_the_alias_endpoint(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """--by alias sends the file's lines through /v4/batch/push/alias."""
    file = write_targets(repo, ["anna", "ben"])
    result = run(url, "daily_digest", "--targets-file", file, "--by", "alias")
    assert result.exit_code == 0, result.output
    assert batch_calls(emulator) == ["/v4/batch/push/alias"]
