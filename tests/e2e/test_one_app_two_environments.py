"""Two environments of one reconciler.yaml whose state files are bound to the same app (the
same endpoint and AppKey: a copied block, a staging key that is production's). Each saw the
other's tasks as nobody's: `import`, `export --adopt` and `remote delete` took them on, and the
two environments then updated and deleted each other's tasks. Those commands now name the other
environment and leave its tasks alone."""

from __future__ import annotations

import json

import pytest

from reconciler.state.store import StateStore
from tests.e2e.helpers import Project

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
