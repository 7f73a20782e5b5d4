"""Two environments of one reconciler.yaml whose state files are bound to the same app (the
same endpoint and AppKey: a copied block, a staging key that is production's). Each saw the
other's tasks as nobody's: `import`, `export --adopt` and `remote delete` took them on, and the
two environments then updated and deleted each other's tasks. Those commands now name the other
environment and leave its tasks alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.state.store import StateStore
from tests.e2e.helpers import Project
from tests.kit.emulator import START

CONFIG = (
    "default: prod\n"
    "environments:\n"
    "  prod:\n    manifests: schedules\n    state: .reconciler/prod/state.json\n"
    "  staging:\n    manifests: staging\n    state: .reconciler/staging/state.json\n"
)


@pytest.fixture
def two(project: Project) -> tuple[Project, str]:
    """prod manages 'a' (applied); staging holds a manifest of the same name, nothing managed."""
    (project.root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    project.write("a")
    (project.root / "staging").mkdir()
    (project.root / "staging" / "a.yaml").write_bytes((project.schedules / "a.yaml").read_bytes())
    assert project.apply().exit_code == 0
    sid = json.loads((project.root / ".reconciler/prod/state.json").read_text())["entries"]["a"][
        "schedule_id"
    ]
    project.mark()
    return project, sid


def test_import_of_a_task_another_environment_manages_is_refused(
    two: tuple[Project, str],
) -> None:
    project, sid = two
    result = project.run("--env", "staging", "import", f"a={sid}")
    assert result.exit_code == 1, result.output
    assert (
        f"cannot import task {sid}: it is managed by the environment 'prod', whose state "
        "file is bound to this same app" in result.output
    )
    assert "give each environment its own app" in result.output
    bulk = project.run("--env", "staging", "import", "--all-matching")
    assert bulk.exit_code == 0, bulk.output
    assert f"skipped 'a': task {sid} is managed by the environment 'prod'" in bulk.output
    assert not (project.root / ".reconciler/staging/state.json").exists()
    assert project.writes() == []


def test_export_and_remote_commands_name_the_other_environment(
    two: tuple[Project, str],
) -> None:
    project, sid = two
    listed = project.run("--env", "staging", "remote", "list")
    assert listed.exit_code == 0, listed.output
    assert "elsewhere (the environment 'prod')" in listed.output, listed.output
    exported = project.run("--env", "staging", "export", "--dir", "staging", "--adopt")
    assert (
        f"{sid} ('a'): managed by the environment 'prod', whose state file is bound to "
        "this same app" in exported.output
    ), exported.output
    staging = StateStore(project.root / ".reconciler/staging/state.json")
    assert sid not in {e.schedule_id for e in staging.load().entries.values()}
    deleted = project.run("--env", "staging", "remote", "delete", sid, "--auto-approve")
    assert deleted.exit_code == 1, deleted.output
    assert f"task {sid} is managed by the environment 'prod'" in deleted.output
    assert "remove its manifest from the environment 'prod' and apply with --env prod" in (
        deleted.output
    )
    assert project.writes() == []
    assert project.remote_ids() == {"a": sid}


def test_an_environment_bound_to_another_app_does_not_count(two: tuple[Project, str]) -> None:
    """prod's state bound elsewhere (another AppKey): its ids mean nothing on this app, and
    staging may adopt the task."""
    project, sid = two
    path = project.root / ".reconciler/prod/state.json"
    data = json.loads(path.read_text())
    data["binding"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(data), encoding="utf-8")
    result = project.run("--env", "staging", "import", f"a={sid}")
    assert result.exit_code == 0, result.output
    assert f"imported 'a' = {sid}" in result.output


def _journal_a_create(project: Project, env: str, name: str) -> None:
    """``env``'s state file, bound to the served app, journalling a create of ``name`` (as an
    apply of that environment leaves it between its journal and its POST)."""
    from reconciler.emulator import DEMO_APP_KEY
    from reconciler.planning.canonical import fingerprint
    from reconciler.state import edits as st
    from reconciler.state.binding import binding_for
    from reconciler.state.schema import State

    assert project.url is not None
    state = State(binding=binding_for(project.url, DEMO_APP_KEY))
    state = st.begin_creates(state, [(name, fingerprint({"name": name}), None)], START)
    store = StateStore(project.root / f".reconciler/{env}/state.json")
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.save(state)


def test_a_copy_another_environment_is_creating_is_never_given_way_to(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prod and prod2 on one app apply the same new manifest at once: prod's run gave way to
    prod2's first copy, and both environments then managed one task, silently. A copy of a name
    another environment's state manages or is creating is kept beside this run's, and the run
    fails naming that environment."""
    from tests.e2e.test_simultaneous_applies import _another_apply_creates, _ids

    (project.root / "reconciler.yaml").write_text(
        CONFIG.replace("staging", "prod2").replace("manifests: prod2", "manifests: schedules"),
        encoding="utf-8",
    )
    project.write("promo")
    _journal_a_create(project, "prod2", "promo")
    theirs = _another_apply_creates(project, monkeypatch, "promo", first=True)
    result = project.run("--env", "prod", "apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "the environment 'prod2' manages the name on this same app" in result.output
    mine = json.loads((project.root / ".reconciler/prod/state.json").read_text())["entries"][
        "promo"
    ]["schedule_id"]
    assert sorted(_ids(project, "promo")) == sorted([mine, *theirs])


def test_a_journalled_create_is_not_healed_with_another_environments_task(
    project: Project,
) -> None:
    """prod's apply killed after journalling its create, before the POST; prod2 (same app)
    then made the task. prod's next run took prod2's task for its own lost create ("adopted …,
    created before a crash"), and both environments managed it. It is another state's task."""
    (project.root / "reconciler.yaml").write_text(
        CONFIG.replace("staging", "prod2").replace("manifests: prod2", "manifests: schedules"),
        encoding="utf-8",
    )
    project.write("promo")
    assert project.run("--env", "prod2", "apply", "--auto-approve").exit_code == 0
    theirs = project.remote_ids()["promo"]
    _journal_a_create(project, "prod", "promo")
    path = project.root / ".reconciler/prod/state.json"
    data = json.loads(path.read_text())
    data["pending"]["promo"]["fingerprint"] = json.loads(
        (project.root / ".reconciler/prod2/state.json").read_text()
    )["entries"]["promo"]["fingerprint"]
    path.write_text(json.dumps(data), encoding="utf-8")
    planned = project.run("--env", "prod", "plan")
    assert theirs not in planned.output, planned.output
    # Not found among this app's tasks that no state holds: the create waits out its grace.
    assert "the interrupted create of 'promo' is not in the remote list yet" in planned.output


def test_two_environments_whose_credentials_reach_one_app_are_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """staging's key variable set to production's AppKey (one endpoint): with both set in one
    shell, every command of either environment is refused before it reads anything. The same
    variable name for both is not compared: GitHub gives each job its own environment's value
    under one name, so the value says nothing of the other environment's app."""
    from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET

    separate = CONFIG.replace(
        "  staging:\n",
        "  staging:\n    app_key_env: STAGING_KEY\n    master_secret_env: STAGING_SECRET\n",
    )
    (project.root / "reconciler.yaml").write_text(separate, encoding="utf-8")
    project.write("a")
    (project.root / "staging").mkdir()
    for name, value in [
        ("ENGAGELAB_APP_KEY", DEMO_APP_KEY),
        ("ENGAGELAB_MASTER_SECRET", DEMO_MASTER_SECRET),
        ("STAGING_KEY", DEMO_APP_KEY),
        ("STAGING_SECRET", DEMO_MASTER_SECRET),
    ]:
        monkeypatch.setenv(name, value)
    project.mark()
    for env, other in (("staging", "prod"), ("prod", "staging")):
        for args in (["plan"], ["apply", "--auto-approve"], ["import", "--all-matching"]):
            result = project.run("--env", env, *args)
            assert result.exit_code == 1, result.output
            assert (
                f"the environments {env!r} and {other!r} of reconciler.yaml reach the same "
                "app" in result.output
            )
    assert project.emulator.request_log == []
    monkeypatch.delenv("STAGING_KEY")
    monkeypatch.delenv("STAGING_SECRET")
    assert project.run("--env", "prod", "plan").exit_code == 0
    (project.root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")  # one name, as CI
    assert project.run("--env", "staging", "plan").exit_code == 0


def test_an_endpoint_spelled_another_way_is_the_same_app() -> None:
    """The guard compares apps, not strings: localhost or 127.0.0.1, a default port written
    out, a host in capitals or with a final dot."""
    from reconciler.ops.neighbours import bindings_of
    from reconciler.state.binding import binding_for

    key = "ABCDEFGHIJKLMNOPQRSTUVWX"
    loop = bindings_of("http://127.0.0.1:8801", key)
    assert binding_for("http://localhost:8801", key) in loop
    assert binding_for("http://localhost:8802", key) not in loop
    app = bindings_of("https://pushapi-sgp.engagelab.com", key)
    assert binding_for("https://pushapi-sgp.engagelab.com:443", key) in app
    assert bindings_of("https://PushAPI-SGP.engagelab.com.:443", key) & app
    assert binding_for("https://pushapi-sgp.engagelab.com", "another-key-of-24-chars!") not in app


def test_plan_and_drift_do_not_advise_importing_another_environments_task(
    two: tuple[Project, str],
) -> None:
    """staging's manifest 'a' beside prod's task 'a': the conflict advised `import a=ID`, which
    import refuses. Plan and drift now say which environment manages the task instead."""
    project, sid = two
    for command in (["plan"], ["drift"]):
        result = project.run("--env", "staging", *command)
        assert f"task(s) {sid} are managed by the environment(s) 'prod'" in result.output, (
            result.output
        )
        assert "import a=" not in result.output, result.output


@pytest.mark.parametrize(
    "spelling", ["HTTP://127.0.0.1:{port}", "http://LOCALHOST:{port}", "http://LocalHost:{port}/"]
)
def test_another_environment_spelling_the_endpoint_its_own_way_is_the_same_app(
    project: Project, spelling: str
) -> None:
    """The other environment's endpoint in capitals, or with a trailing slash: its
    state file is bound under that spelling, and was taken for another app's (its task adopted
    here, then deleted when a manifest went). Both spellings are brought to one form."""
    from urllib.parse import urlsplit

    assert project.url is not None
    port = urlsplit(project.url).port
    other = spelling.format(port=port)
    config = (
        "default: prod\nenvironments:\n"
        "  prod:\n    manifests: schedules\n    state: .reconciler/prod/state.json\n"
        f"    endpoint: {project.url}\n"
        "  staging:\n    manifests: staging\n    state: .reconciler/staging/state.json\n"
        f"    endpoint: {other}\n"
    )
    (project.root / "reconciler.yaml").write_text(config, encoding="utf-8")
    project.write("a")
    (project.root / "staging").mkdir()
    (project.root / "staging" / "a.yaml").write_bytes((project.schedules / "a.yaml").read_bytes())
    staging = ["--now", project.emulator.now().isoformat(), "--rate-limit", "10000"]
    from click.testing import CliRunner

    from reconciler.cli import cli

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, [*staging, *args], catch_exceptions=False)

    applied = run("--env", "staging", "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    sid = json.loads((project.root / ".reconciler/staging/state.json").read_text())["entries"]["a"][
        "schedule_id"
    ]
    result = run("--env", "prod", "import", f"a={sid}")
    assert result.exit_code == 1, result.output
    assert "is managed by the environment 'staging'" in result.output
