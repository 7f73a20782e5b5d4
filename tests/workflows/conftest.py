"""The rehearsal: the three workflows run once, in order, against a served emulator.

``rehearsal`` (module scope, ~10 s) runs, like GitHub would for a new repository:

1. the workflows a pull request adding this repository's ``schedules/`` starts (``plan.yml``);
2. the merge, then the workflows of the push to ``main`` (``apply.yml``: plan, the reviewer's
   approval, apply of that plan file, state committed to the state branch);
3. ``drift.yml`` on the hourly schedule (expected clean);
4. an out-of-band edit of one schedule through the API with the demo credentials;
5. ``drift.yml`` again (expected to report that schedule).

Each test then checks one behaviour on what the stages left behind. The emulator's clock and
the CLI's "now" are fixed (helpers.NOW), so the 2027 example manifests stay in the future.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.workflows.helpers import (
    NOW,
    PROJECT,
    Repository,
    base_env,
    edit_in_console,
    make_runner,
)
from tests.workflows.runner import Runner, WorkflowRun, load_fake_github


def only(runs: list[WorkflowRun], name: str) -> WorkflowRun:
    """The one run of workflow ``name`` among ``runs`` (a readable error otherwise)."""
    found = [run for run in runs if run.workflow == name]
    assert len(found) == 1, f"{len(found)} runs of {name}: {[r.workflow for r in runs]}"
    return found[0]


EDITED = "Weekly_digest"
EDITED_ALERT = "Edited in the EngageLab console"


@dataclass
class Rehearsal:
    """What each stage of the rehearsal produced."""

    runner: Runner
    repo: Repository
    endpoint: str
    plan: WorkflowRun
    github_after_plan: dict[str, Any]
    merged_sha: str
    apply: WorkflowRun
    live_after_apply: list[dict[str, Any]]
    drift_clean: WorkflowRun
    github_after_clean: dict[str, Any]
    edit_status: int  # HTTP status of the console edit; 0 when there was nothing to edit
    drift_edited: WorkflowRun
    github_after_edit: dict[str, Any]

    def log(self) -> str:
        """Every job's output, for assertion messages."""
        return "".join(run.log() for run in self.runner.runs)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    root = tmp_path_factory.mktemp("rehearsal")
    emulator = Emulator(clock=lambda: NOW)
    with serve_emulator(emulator) as endpoint:
        env = base_env(root, endpoint)
        repo = Repository(root, env)
        runner = make_runner(root, repo.remote, env, use_node=True)

        repo.open_pull_request("add-schedules", {"schedules": PROJECT / "schedules"})
        plan = only(repo.trigger_pull_request(runner), "plan")
        github_after_plan = copy.deepcopy(load_fake_github(runner.github_db))

        push = repo.merge("add-schedules")
        apply = only(runner.trigger(push), "apply")
        live_after_apply = emulator.schedules()

        drift_clean = only(runner.trigger(repo.schedule_event()), "drift")
        github_after_clean = copy.deepcopy(load_fake_github(runner.github_db))

        # If apply did not create it, there is nothing to edit: edit_status stays 0 and the
        # drift tests fail on their own, while the earlier stages' tests still report.
        edited = next((s for s in emulator.schedules() if s["name"] == EDITED), None)
        edit_status = 0
        if edited is not None:
            edit_status = edit_in_console(endpoint, edited["schedule_id"], EDITED_ALERT)

        drift_edited = only(runner.trigger(repo.schedule_event()), "drift")
        github_after_edit = copy.deepcopy(load_fake_github(runner.github_db))

        yield Rehearsal(
            runner=runner,
            repo=repo,
            endpoint=endpoint,
            plan=plan,
            github_after_plan=github_after_plan,
            merged_sha=push.sha,
            apply=apply,
            live_after_apply=live_after_apply,
            drift_clean=drift_clean,
            github_after_clean=github_after_clean,
            edit_status=edit_status,
            drift_edited=drift_edited,
            github_after_edit=github_after_edit,
        )
