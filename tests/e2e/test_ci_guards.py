"""What the CLI refuses or reports so that a CI pipeline cannot be turned against its secrets
(docs/github.md, "Threat model"): plain-http endpoints off this machine, credential variable
names that are the runner's own, and a plan that hides an unrealised manifest behind exit 0."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config.connection import resolve_base_url
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.errors import ConfigError
from tests.e2e.helpers import Project
from tests.kit.bodies import body

CREDENTIALS = {"ENGAGELAB_APP_KEY": DEMO_APP_KEY, "ENGAGELAB_MASTER_SECRET": DEMO_MASTER_SECRET}


@pytest.mark.parametrize(
    "endpoint",
    ["http://attacker.example", "http://10.1.2.3:8080", "http://[2001:db8::1]/", "HTTP://a.b"],
)
def test_plain_http_to_another_host_is_refused(endpoint: str) -> None:
    """An http:// endpoint off this machine is refused before any request: the credentials
    would cross the network unencrypted."""
    with pytest.raises(ConfigError) as caught:
        resolve_base_url(endpoint, None)
    assert "plain http" in caught.value.message
    assert "https://" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:9",
        "http://[::1]:80",
        "https://pushapi-sgp.engagelab.com",
        "https://proxy.example/engagelab",
    ],
)
def test_loopback_http_and_any_https_are_accepted(endpoint: str) -> None:
    """A local emulator (loopback, plain http) and any https endpoint stay usable."""
    assert resolve_base_url(endpoint, None) == endpoint.rstrip("/")


def test_config_endpoint_plain_http_is_refused_at_its_line_without_a_request(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``endpoint: http://<not loopback>`` in reconciler.yaml is an error naming the file and
    line, exit 1, before any request (the emulator records none)."""
    project.write("promo")
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  prod:\n    endpoint: http://attacker.example\n", encoding="utf-8"
    )
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["--env", "prod", "plan"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "reconciler.yaml:3" in result.output
    assert "plain http" in result.output
    assert "Traceback" not in result.output
    assert project.emulator.request_log == []
    assert DEMO_MASTER_SECRET not in result.output


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "RUNNER_TEMP", "PATH"])
def test_credential_variable_may_not_name_a_runner_variable(
    project: Project, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """``master_secret_env`` naming a variable the CI runner sets (its job token, say) is a
    config error at its line: that value would otherwise be sent as the Master Secret."""
    project.write("promo")
    (project.root / "reconciler.yaml").write_text(
        f"environments:\n  prod:\n    master_secret_env: {name}\n", encoding="utf-8"
    )
    monkeypatch.setenv(name, "runner-token-value")
    result = CliRunner().invoke(cli, ["--env", "prod", "plan"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "reconciler.yaml:3" in result.output
    assert "not a credential" in result.output
    assert "runner-token-value" not in result.output


def test_detailed_exitcode_is_2_while_a_conflict_remains(project: Project) -> None:
    """A manifest whose name an unmanaged task carries is not realised: `plan
    --detailed-exitcode` exits 2 (like `drift`), although apply has nothing to do; once the task
    is imported the plan is clean (0)."""
    sid = project.out_of_band_create(body("promo"))
    project.write("promo")
    plan = project.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "conflict" in plan.output
    assert project.run("drift").exit_code == 2
    assert project.run("import", f"promo={sid}").exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_detailed_exitcode_stays_0_with_foreign_tasks_only(project: Project) -> None:
    """Tasks no manifest names are not a difference from the manifests: exit 0."""
    project.out_of_band_create(body("someone_elses"))
    project.write("promo")
    assert project.apply().exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
