"""The emulator recipes of docs/emulator.md ("Running it") work as written: a served emulator
with a state file of its own next to the embedded one, and driving the embedded emulator's data
from outside. The `reconciler.yaml` recipe is read from the page itself, between its
`<!-- recipe:served-environment -->` markers, so the page and this test cannot drift apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.e2e.helpers import Project
from tests.kit.bodies import single
from tests.kit.emulator import RecordingEmulator

EMULATOR_DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
# The address the recipe names; the test serves on a free port and puts that in its place.
RECIPE_ENDPOINT = "http://127.0.0.1:8787"


def recipe(name: str) -> str:
    """The fenced block between `<!-- recipe:NAME -->` and `<!-- /recipe:NAME -->`."""
    text = EMULATOR_DOC.read_text("utf-8")
    found = re.search(
        rf"<!-- recipe:{name} -->\n```[a-z]*\n(.*?)```\n<!-- /recipe:{name} -->", text, re.S
    )
    assert found is not None, f"no recipe {name!r} in {EMULATOR_DOC}"
    return found.group(1)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_served_emulator_gets_an_environment_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the embedded emulator's state in .reconciler/state.json, the `local` environment of
    docs/emulator.md (endpoint + its own state file), copied from the page, plans and applies
    against a served emulator; the plain commands keep using the embedded one."""
    monkeypatch.chdir(tmp_path)
    at = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    Project(tmp_path, RecordingEmulator(), url=None).write("a", trigger=single(at))
    assert run("apply", "--auto-approve").exit_code == 0  # embedded: binds the default state
    served = Emulator()
    with serve_emulator(served) as url:
        config = recipe("served-environment")
        assert config.count(RECIPE_ENDPOINT) == 1, config
        (tmp_path / "reconciler.yaml").write_text(
            config.replace(RECIPE_ENDPOINT, url), encoding="utf-8"
        )
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
