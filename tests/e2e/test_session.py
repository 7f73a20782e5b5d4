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


APP = "https://pushapi-sgp.engagelab.com"
REAL = {"ENGAGELAB_APP_KEY": "ABCDEFGHIJKLMNOPQRSTUVWX", "ENGAGELAB_MASTER_SECRET": "s3cr3t-M-1"}


@pytest.mark.parametrize(
    ("flags", "environ"),
    [({}, {}), ({"emulator": True}, {}), ({"emulator": True}, REAL)],
    ids=["no-credentials", "emulator-flag", "emulator-flag-with-credentials"],
)
def test_an_apps_endpoint_without_its_credentials_is_never_sent_the_demo_pair(
    tmp_path: Path, flags: dict[str, bool], environ: dict[str, str]
) -> None:
    """An environment whose `endpoint:` is an app's (not this machine's) was, without
    credentials or with --emulator, treated as a served emulator: the demo pair went to the
    vendor's host, under "Using the emulator at https://… (no real app)". The emulator is served
    on loopback only; any other endpoint without its credentials is the embedded emulator's
    run, and the banner says the endpoint waits for them."""
    from reconciler.config.environments import Environment
    from reconciler.config.session import resolve_target
    from reconciler.options import GlobalOptions

    env = Environment(
        name="prod", manifests=tmp_path / "schedules", state=tmp_path / "state.json", endpoint=APP
    )
    target = resolve_target(GlobalOptions(**flags), env, environ=environ)
    assert target.emulator is not None
    assert target.settings.base_url != APP
    assert target.banner is not None
    assert target.banner.startswith("Using the embedded emulator")
    assert (f"(the endpoint {APP} is used once they are set)" in target.banner) is not bool(flags)
    served = resolve_target(GlobalOptions(endpoint="http://127.0.0.1:9", **flags), env, environ)
    assert served.emulator is None
    assert served.settings.base_url == "http://127.0.0.1:9"
