"""Where commands go without credentials: the embedded emulator, said on the first line; under
CI=true a refusal unless --emulator is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from tests.e2e.helpers import Project
from tests.kit.emulator import START, RecordingEmulator

NOW = ["--now", START.isoformat()]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A repository in the working directory using the embedded default (no --endpoint)."""
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, RecordingEmulator(), url=None)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*NOW, *args], catch_exceptions=False)


def embedded_tasks(root: Path) -> list[str]:
    """Names of the tasks the embedded emulator keeps in .reconciler/emulator.json."""
    from reconciler.emulator import Emulator

    em = Emulator(data_path=root / ".reconciler" / "emulator.json", clock=lambda: START)
    return sorted(t["name"] for t in em.schedules())


def test_embedded_default_says_so_on_its_first_line(workdir: Project) -> None:
    """Without credentials, plan and apply use the embedded emulator and say so first; its data
    persists between commands, so a plan after apply is empty."""
    workdir.write("a")
    workdir.write("b")
    for args in (["plan"], ["apply", "--auto-approve"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0].startswith("Using the embedded emulator"), (
            result.output
        )
    assert embedded_tasks(workdir.root) == ["a", "b"]
    assert set(json.loads(workdir.state_path.read_text())["entries"]) == {"a", "b"}
    assert run("plan", "--detailed-exitcode").exit_code == 0


def test_ci_without_credentials_refuses(workdir: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under CI=true a missing secret must not turn into a silent emulator run: plan and apply
    exit 1 naming the variables, and nothing (not even the emulator's data) is written."""
    monkeypatch.setenv("CI", "true")
    workdir.write("a")
    for args in (["plan"], ["apply", "--auto-approve"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "no credentials under CI" in result.output
        assert "ENGAGELAB_APP_KEY" in result.output
        assert "--emulator" in result.output
    assert not (workdir.root / ".reconciler").exists()


def test_ci_with_emulator_flag_uses_the_embedded_emulator(
    workdir: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under CI=true, --emulator opts in to the embedded emulator explicitly (and says so)."""
    monkeypatch.setenv("CI", "true")
    workdir.write("a")
    result = run("--emulator", "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("Using the embedded emulator")
    assert embedded_tasks(workdir.root) == ["a"]
