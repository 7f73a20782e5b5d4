"""``reconciler validate`` reports policy violations like manifest problems, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from tests.policies.helpers import TIME_LINE, single_text

NOW = "2026-12-01T07:00:00+00:00"  # 08:00 in Berlin
CONFIG = """\
environments:
  prod:
    timezone: Europe/Berlin
    policies:
      quiet_hours: {from: "22:00", to: "08:00"}
      min_lead_time: {hours: 1, level: warning}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with reconciler.yaml, a quiet-hours breaker and a one-shot due soon."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("RECONCILER_")]:
        monkeypatch.delenv(name)
    (tmp_path / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    (schedules / "late.yaml").write_text(
        single_text("late", "2027-01-10 23:15:00"), encoding="utf-8"
    )
    (schedules / "soon.yaml").write_text(
        single_text("soon", "2026-12-01 08:30:00"), encoding="utf-8"
    )  # 30 minutes ahead
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--now", NOW, *args])


def test_text_format_reports_each_violation_at_its_line(repo: Path) -> None:
    """Text: `file:line:col: severity: policy RULE: ...` for each, exit 1 for the error."""
    result = run("validate")
    assert result.exit_code == 1, result.output
    assert (
        f"schedules/late.yaml:{TIME_LINE}:11: error: policy quiet_hours: 'late' fires at "
        "2027-01-10 23:15 Europe/Berlin" in result.stdout
    )
    assert (
        f"schedules/soon.yaml:{TIME_LINE}:11: warning: policy min_lead_time: new one-shot "
        "'soon' fires at 2026-12-01 08:30 Europe/Berlin, 30 min from now" in result.stdout
    )
    assert result.stdout.endswith("2 schedule(s) in 2 file(s): 1 error(s), 1 warning(s)\n")


def test_json_and_github_formats_carry_the_violations(repo: Path) -> None:
    """JSON lists them as problems with path, line, col and severity; github annotates them."""
    data = json.loads(run("validate", "--format", "json").stdout)
    assert data["valid"] is False
    assert [(p["path"], p["line"], p["col"], p["severity"]) for p in data["problems"]] == [
        ("schedules/late.yaml", TIME_LINE, 11, "error"),
        ("schedules/soon.yaml", TIME_LINE, 11, "warning"),
    ]
    github = run("validate", "--format", "github").stdout
    assert f"::error file=schedules/late.yaml,line={TIME_LINE},col=11::policy quiet_hours" in github
    assert f"::warning file=schedules/soon.yaml,line={TIME_LINE},col=11::policy min_lead_time" in (
        github
    )


def test_strict_turns_policy_warnings_into_errors(repo: Path) -> None:
    """--strict counts a warning-level policy as an error, like any manifest warning."""
    (repo / "schedules" / "late.yaml").unlink()
    assert run("validate").exit_code == 0
    strict = run("validate", "--strict")
    assert strict.exit_code == 1
    assert "policy min_lead_time" in strict.stdout


def test_a_bad_policies_block_is_a_config_error_with_its_line(repo: Path) -> None:
    """A mistake in `policies:` stops validate with reconciler.yaml's file and line."""
    (repo / "reconciler.yaml").write_text(
        CONFIG.replace('from: "22:00"', "from: 10pm"), encoding="utf-8"
    )
    result = run("validate")
    assert result.exit_code == 1
    assert "reconciler.yaml:5: prod.policies.quiet_hours.from: '10pm' must be a time" in (
        result.output
    )


def test_several_environments_without_a_default_each_check_their_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --env and no `default:`: validate does not fail on the choice; each environment's
    policies apply to the manifests in its own directory only, and --env picks one."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text(
        """\
environments:
  eu:
    manifests: schedules/eu
    timezone: Europe/Berlin
    policies:
      quiet_hours: {from: "22:00", to: "08:00"}
  us:
    manifests: schedules/us
    timezone: America/New_York
""",
        encoding="utf-8",
    )
    for region in ("eu", "us"):
        (tmp_path / "schedules" / region).mkdir(parents=True)
        (tmp_path / "schedules" / region / "late.yaml").write_text(
            single_text(f"late_{region}", "2027-01-10 23:15:00"), encoding="utf-8"
        )
    result = run("validate")
    assert result.exit_code == 1, result.output
    assert "schedules/eu/late.yaml:5:11: error: policy quiet_hours" in result.stdout
    assert "schedules/us/late.yaml" not in result.stdout
    assert run("--env", "us", "validate").exit_code == 0
