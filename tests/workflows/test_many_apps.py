"""Rehearsal with two apps: a reconciler.yaml with two environments, each its own emulator.

apply.yml's matrix runs both environments in parallel (lockstep here), each with its own
credentials (the secrets of its own GitHub environments, handed to the CLI under the names
``app_key_env`` / ``master_secret_env`` give) and state file; both start from the same state
branch tip, so the second state commit is rejected and re-made on the new tip by
commit-state.sh. drift.yml afterwards reads both committed state files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.workflows.conftest import only
from tests.workflows.helpers import (
    NOW,
    PROJECT,
    STATE_BRANCH,
    Repository,
    base_env,
    environments_for,
    make_runner,
)
from tests.workflows.runner import git, node_binary

STAGING_KEY = "stagingappkey0123456789a"  # 24 characters, like an AppKey
STAGING_SECRET = "staging-master-secret-0123"
ENVIRONMENTS = ("staging", "production")


@pytest.fixture
def apps() -> Iterator[dict[str, tuple[Emulator, str]]]:
    """Two served emulators: staging (own credentials) and production (demo credentials)."""
    staging = Emulator(app_key=STAGING_KEY, master_secret=STAGING_SECRET, clock=lambda: NOW)
    production = Emulator(clock=lambda: NOW)
    with ExitStack() as stack:
        yield {
            "staging": (staging, stack.enter_context(serve_emulator(staging))),
            "production": (production, stack.enter_context(serve_emulator(production))),
        }


def test_two_apps_apply_in_parallel_and_both_states_are_committed(
    tmp_path: Path, apps: dict[str, tuple[Emulator, str]]
) -> None:
    """Each environment's schedules land in its own app, both state files are committed to
    the state branch (the second after a rejected push), validation runs once for the shared
    manifests, and the next drift run finds both apps clean."""
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        "environments:\n"
        "  staging:\n"
        f"    endpoint: {apps['staging'][1]}\n"
        "    app_key_env: STAGING_ENGAGELAB_APP_KEY\n"
        "    master_secret_env: STAGING_ENGAGELAB_MASTER_SECRET\n"
        "  production:\n"
        f"    endpoint: {apps['production'][1]}\n",
        encoding="utf-8",
    )
    env = base_env(tmp_path, None)
    # commit-state.sh waits 2 s before re-pushing; a no-op sleep keeps the test fast.
    fast = tmp_path / "fast-sleep"
    fast.mkdir()
    (fast / "sleep").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (fast / "sleep").chmod(0o755)
    env["PATH"] = f"{fast}:{env['PATH']}"
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=node_binary() is not None)
    runner.environments = environments_for(*ENVIRONMENTS)
    staging = {"ENGAGELAB_APP_KEY": STAGING_KEY, "ENGAGELAB_MASTER_SECRET": STAGING_SECRET}
    for name in ("staging", "staging-plan"):
        runner.environments[name]["secrets"] = dict(staging)
    repo.open_pull_request(
        "two-apps", {"schedules": PROJECT / "schedules", "reconciler.yaml": config}
    )
    merge = repo.merge("two-apps")

    apply = only(runner.trigger(merge), "apply")
    log = apply.log()
    assert apply.job("prepare").step("environments").outputs["validate"] == "staging", log
    for name in ENVIRONMENTS:
        assert apply.job("apply", name=name).result == "success", log
        assert len(apps[name][0].schedules()) == 5, log
    assert "rejected (attempt 1 of 5)" in apply.job("apply", name="production").log()

    remote, genv = repo.remote, repo.env
    assert repo.remote_tip() == merge.sha
    commits = git("log", "--format=%H %s", STATE_BRANCH, cwd=remote, env=genv)
    assert len(commits.splitlines()) == 3, commits  # the empty start, one per environment
    for name in ENVIRONMENTS:
        state_file = f"{STATE_BRANCH}:.reconciler/{name}/state.json"
        state = json.loads(git("show", state_file, cwd=remote, env=genv))
        ids = {entry["schedule_id"] for entry in state["entries"].values()}
        assert ids == {s["schedule_id"] for s in apps[name][0].schedules()}

    drift = only(runner.trigger(repo.schedule_event()), "drift")
    for name in ENVIRONMENTS:
        assert drift.job("drift", name=name).step("drift").outputs["exitcode"] == "0", drift.log()
