"""``reconciler validate`` and ``reconciler schema`` end to end through click's CliRunner."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
EXAMPLES = Path(__file__).parent.parent / "schedules"
NOW = "2026-11-25T00:00:00+00:00"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--now", NOW, *args], env=env)


def fixture(name: str) -> str:
    return (FIXTURES / name).as_posix()


def test_valid_manifests_exit_zero_with_a_summary() -> None:
    """The examples are valid: exit 0 and a one-line summary."""
    result = run("validate", EXAMPLES.as_posix())
    assert result.exit_code == 0
    assert result.stdout == "5 schedule(s) in 5 file(s): valid\n"


def test_default_path_is_schedules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without paths, validate reads schedules/ of the working directory."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text((FIXTURES / "good-single.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 0
    assert "1 schedule(s) in 1 file(s): valid" in result.stdout


def test_invalid_manifests_exit_one_listing_every_problem() -> None:
    """Errors are printed as file:line:col: error: message, then counted; exit 1."""
    result = run("validate", fixture("bad-many-problems.yaml"))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{fixture('bad-many-problems.yaml')}:3:10: error: enabled:")
    assert len(lines) == 4
    assert lines[-1] == "0 schedule(s) in 1 file(s): 3 error(s), 0 warning(s)"


def test_json_format_is_machine_readable() -> None:
    """--format json gives counts and every problem with its location."""
    result = run("validate", "--format", "json", fixture("bad-push-cid.yaml"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert (report["valid"], report["files"], report["manifests"], report["errors"]) == (
        False,
        1,
        0,
        1,
    )
    (problem,) = report["problems"]
    assert (problem["line"], problem["col"], problem["severity"]) == (15, 12, "error")
    assert problem["path"] == fixture("bad-push-cid.yaml")


def test_json_format_for_valid_manifests() -> None:
    """A valid set in json: valid true and no problems; exit 0."""
    result = run("validate", "--format", "json", EXAMPLES.as_posix())
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["valid"], report["manifests"], report["problems"]) == (True, 5, [])


def test_github_format_prints_annotations() -> None:
    """--format github prints ::error workflow commands with file, line and col."""
    result = run("validate", "--format", "github", fixture("bad-push-platform.yaml"))
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"::error file={fixture('bad-push-platform.yaml')},line=11,col=15::")
    assert "push.body.platform: 'web' is not a platform" in first


def test_format_can_come_from_the_environment() -> None:
    """RECONCILER_FORMAT=github selects the annotation format."""
    result = run("validate", fixture("bad-push-cid.yaml"), env={"RECONCILER_FORMAT": "github"})
    assert result.stdout.startswith("::error file=")


def test_github_format_escapes_commas_and_colons_in_file_names(tmp_path: Path) -> None:
    """Property values are escaped the way GitHub's toolkit does (, -> %2C, : -> %3A)."""
    odd = tmp_path / "a,b:c.yaml"
    odd.write_text("name: [\n")
    result = run("validate", "--format", "github", odd.as_posix())
    assert result.exit_code == 1
    assert "a%2Cb%3Ac.yaml,line=" in result.stdout


def test_github_format_marks_warnings_as_warnings() -> None:
    """A warning becomes a ::warning annotation and does not fail the run."""
    result = run("validate", "--format", "github", fixture("warn-name-spaces.yaml"))
    assert result.exit_code == 0
    assert result.stdout.startswith("::warning file=")


def test_warnings_pass_without_strict() -> None:
    """A name with spaces is a warning: printed, exit 0."""
    result = run("validate", fixture("warn-name-spaces.yaml"))
    assert result.exit_code == 0
    assert ":2:7: warning: name:" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("valid, 1 warning(s)")


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_mark_a_manifest_warning_once(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan` and `apply` print a manifest's warning as validate does, marked once: the line
    used to read "warning: schedules/a.yaml:2:7: warning: name: ..."."""
    (tmp_path / "schedules").mkdir()
    shutil.copy(FIXTURES / "warn-name-spaces.yaml", tmp_path / "schedules" / "a.yaml")
    monkeypatch.chdir(tmp_path)
    args = [command, "--auto-approve"] if command == "apply" else [command]
    result = run("--emulator", *args)
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if "contains spaces" in ln]
    assert line.startswith("warning: schedules/a.yaml:2:7: name: "), line
    assert line.count("warning") == 1


def test_strict_turns_warnings_into_errors() -> None:
    """--strict: the same warning is an error and the exit code is 1."""
    result = run("validate", "--strict", fixture("warn-name-spaces.yaml"))
    assert result.exit_code == 1
    assert ":2:7: error: name:" in result.stdout
    assert result.stdout.count("--strict") == 1  # marked once


def test_strict_can_come_from_the_environment() -> None:
    """RECONCILER_STRICT=1 has the same effect as --strict."""
    result = run("validate", fixture("warn-name-spaces.yaml"), env={"RECONCILER_STRICT": "1"})
    assert result.exit_code == 1


def test_now_option_moves_the_one_year_limit() -> None:
    """--now decides what "more than one year ahead" means."""
    path = fixture("bad-single-time-too-far.yaml")
    assert run("validate", path).exit_code == 1
    later = CliRunner().invoke(cli, ["--now", "2027-01-01T00:00:00+00:00", "validate", path])
    assert later.exit_code == 0


def test_unknown_time_zone_is_a_usage_error() -> None:
    """--timezone must be an IANA name; the message says so, without a traceback."""
    result = run("--timezone", "Mars/Olympus", "validate", EXAMPLES.as_posix())
    assert result.exit_code == 1
    assert "unknown time zone 'Mars/Olympus'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "name",
    ["bad-nul-byte.yaml", "bad-not-utf8.yaml", "bad-yaml-syntax.yaml", "bad-empty-file.yaml"],
)
def test_broken_files_never_cause_a_traceback(name: str) -> None:
    """Unreadable input is a reported problem with exit 1, never a crash."""
    result = run("validate", fixture(name))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{fixture(name)}:" in result.stdout


def test_a_missing_path_exits_one() -> None:
    """Validating a path that does not exist is an error, not an empty success."""
    result = run("validate", "does/not/exist")
    assert result.exit_code == 1
    assert "does/not/exist: error: no such file or directory" in result.stdout


def test_a_path_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A path given on the command line whose name is Latin-1 is refused, shown escaped, in
    the text and the JSON report (it used to be read, and plan failed on it later)."""
    odd = tmp_path / os.fsdecode(b"caf\xe9.yaml")
    try:
        shutil.copyfile(EXAMPLES / "single.yaml", odd)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    shown = f"{tmp_path.as_posix()}/caf\\xe9.yaml"
    result = run("validate", str(odd))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{shown}: error: this path is not valid UTF-8" in result.stdout
    assert "rename the file or directory" in result.stdout
    report = json.loads(run("validate", "--format", "json", str(odd)).stdout)
    assert [p["path"] for p in report["problems"]] == [shown]


def test_schema_prints_the_json_schema() -> None:
    """reconciler schema prints a JSON Schema that forbids unknown top-level keys."""
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "enabled", "trigger", "push"}
    assert "lifecycle" in schema["properties"]


def test_committed_schema_matches_the_models() -> None:
    """schedules/schedule.schema.json (used by the editor hook-up) is up to date.

    Regenerate with: reconciler schema > schedules/schedule.schema.json
    """
    result = CliRunner().invoke(cli, ["schema"])
    assert (EXAMPLES / "schedule.schema.json").read_text(encoding="utf-8") == result.stdout


def test_a_duplicated_name_is_not_counted_as_a_valid_schedule(tmp_path: Path) -> None:
    """Two manifests sharing a name and one unique one: the summary counts one valid schedule
    (text and json), not three."""
    text = (EXAMPLES / "weekly.yaml").read_text(encoding="utf-8")
    for copy in ("a.yaml", "b.yaml"):
        (tmp_path / copy).write_text(text, encoding="utf-8")
    shutil.copyfile(EXAMPLES / "single.yaml", tmp_path / "c.yaml")
    result = run("validate", tmp_path.as_posix())
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "1 schedule(s) in 3 file(s): 2 error(s), 0 warning(s)"
    report = json.loads(run("validate", "--format", "json", tmp_path.as_posix()).stdout)
    assert report["manifests"] == 1


def test_a_quoted_zone_type_is_called_quoted_text(tmp_path: Path) -> None:
    """zone_type: "1" is refused saying it is text in quotes and how to fix it, not merely
    "must be 1 or 2, got '1'"."""
    text = (EXAMPLES / "single.yaml").read_text(encoding="utf-8")
    quoted = re.sub(r"zone_type: *1", 'zone_type: "1"', text)
    assert quoted != text
    (tmp_path / "a.yaml").write_text(quoted, encoding="utf-8")
    result = run("validate", tmp_path.as_posix())
    assert result.exit_code == 1
    assert "zone_type: must be 1 or 2, got the text '1' (in quotes)" in result.stdout
    assert "remove the quotes" in result.stdout


def test_a_tagged_value_is_one_error_not_two(tmp_path: Path) -> None:
    """``enabled: !foo true``: the reader refuses the tag and leaves null in its place; the
    model's "must be true or false, got nothing (null)" about that null was a second error
    that said nothing about the file."""
    (tmp_path / "b.yaml").write_text(
        'name: b\nenabled: !foo true\ntrigger:\n  single:\n    time: "2027-03-01 10:00:00"\n'
        "    zone_type: 1\npush:\n  to: all\n  body:\n    platform: all\n"
        "    notification:\n      alert: hi\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "!foo-tagged value cannot be sent" in result.output
    assert "got nothing" not in result.output
    assert "1 error(s)" in result.output
