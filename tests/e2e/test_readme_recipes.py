"""The README's emulator recipes work as written: a served emulator with a state file of its
own next to the embedded one, and driving the embedded emulator's data from outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.e2e.helpers import Project, RecordingEmulator, single

LOCAL_ENV = """\
default: default
environments:
  default: {}
  local:
    endpoint: %s
    state: .reconciler/local/state.json
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_served_emulator_gets_an_environment_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the embedded emulator's state in .reconciler/state.json, the README's `local`
    environment (endpoint + its own state file) plans and applies against a served emulator;
    the plain commands keep using the embedded one."""
    monkeypatch.chdir(tmp_path)
    at = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    Project(tmp_path, RecordingEmulator(), url=None).write("a", trigger=single(at))
    assert run("apply", "--auto-approve").exit_code == 0  # embedded: binds the default state
    served = Emulator()
    with serve_emulator(served) as url:
        (tmp_path / "reconciler.yaml").write_text(LOCAL_ENV % url, encoding="utf-8")
        result = run("--env", "local", "apply", "--auto-approve")
        assert result.exit_code == 0, result.output
        assert [s["name"] for s in served.schedules()] == ["a"]
        plain = run("plan", "--detailed-exitcode")
        assert plain.exit_code == 0, plain.output
        assert "Using the embedded emulator" in plain.output


def test_serving_the_embedded_data_file_to_advance_its_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve .reconciler/emulator.json, advance its clock past a one-shot through the control
    plane, stop it: the next plain apply sees the one-shot sent (forgotten, not created again)."""
    monkeypatch.chdir(tmp_path)
    at = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    Project(tmp_path, RecordingEmulator(), url=None).write("a", trigger=single(at))
    assert run("apply", "--auto-approve").exit_code == 0
    data = tmp_path / ".reconciler" / "emulator.json"
    with serve_emulator(Emulator(data_path=data)) as url:
        answer = httpx.post(f"{url}/_emulator/clock", json={"advance": 3 * 86400})
        assert answer.status_code == 200, answer.text
    later = run("apply", "--auto-approve")
    assert later.exit_code == 0, later.output
    assert "forget (expired) a" in later.output
    assert "0 to create" in later.output
    assert Emulator(data_path=data).schedules() == []
