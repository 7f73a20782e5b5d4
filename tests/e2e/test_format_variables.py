"""Each command's ``--format`` has its own variable, ``RECONCILER_<COMMAND>_FORMAT``; the shared
``RECONCILER_FORMAT`` applies only where its value is one of that command's formats."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.e2e.helpers import Project


def test_shared_github_format_does_not_break_plan_and_drift(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECONCILER_FORMAT=github (validate's annotations, in one CI job) leaves plan, drift,
    history and state list on their text output instead of failing on an unknown format."""
    project.write("a")
    assert project.apply().exit_code == 0
    monkeypatch.setenv("RECONCILER_FORMAT", "github")
    for args in (("plan",), ("drift",), ("state", "list"), ("remote", "list")):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "Invalid value" not in result.output


def test_each_command_has_its_own_format_variable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECONCILER_PLAN_FORMAT=json makes plan print JSON over the shared RECONCILER_FORMAT
    (markdown), which drift, having markdown, follows; RECONCILER_VALIDATE_FORMAT does validate."""
    project.write("a")
    monkeypatch.setenv("RECONCILER_PLAN_FORMAT", "json")
    monkeypatch.setenv("RECONCILER_FORMAT", "markdown")
    plan = project.run("plan")
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["format_version"] == 1
    drift = project.run("drift")
    assert drift.stdout.startswith("<!-- reconciler-drift:"), drift.stdout
    monkeypatch.delenv("RECONCILER_FORMAT")
    monkeypatch.setenv("RECONCILER_VALIDATE_FORMAT", "json")
    assert json.loads(project.run("validate").stdout)["valid"] is True


@pytest.mark.parametrize(
    ("command", "var"),
    [
        (["validate"], "RECONCILER_VALIDATE_FORMAT"),
        (["plan"], "RECONCILER_PLAN_FORMAT"),
        (["drift"], "RECONCILER_DRIFT_FORMAT"),
        (["history"], "RECONCILER_HISTORY_FORMAT"),
        (["test-send"], "RECONCILER_TEST_SEND_FORMAT"),
        (["state", "list"], "RECONCILER_STATE_LIST_FORMAT"),
        (["remote", "list"], "RECONCILER_REMOTE_LIST_FORMAT"),
        (["remote", "show"], "RECONCILER_REMOTE_SHOW_FORMAT"),
        (["calendar"], "RECONCILER_CALENDAR_FORMAT"),
    ],
)
def test_format_help_names_its_variable(command: list[str], var: str) -> None:
    """Every --format has help text naming its own variable and the shared rule."""
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert var in text
    assert "--format" in text
    assert "Also RECONCILER_FORMAT, where its value is one of these" in text
