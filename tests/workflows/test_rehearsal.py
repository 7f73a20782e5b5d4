"""Rehearsal of issue 7: the workflows' exact command sequence, in order, against the emulator.

The ``run:`` scripts of plan.yml, apply.yml and drift.yml are executed verbatim (runner.py);
the ``rehearsal`` fixture (conftest.py) runs validate -> plan -> merge -> apply of that plan
file -> state commit -> drift (clean) -> out-of-band edit -> drift (exit 2). Checks of the
fake GitHub (sticky comment, drift issue) need Node.js and are skipped without it; the rest
of the sequence runs regardless.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.canonical import fingerprint
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.workflows.conftest import EDITED, EDITED_ALERT, Rehearsal
from tests.workflows.helpers import (
    PROJECT,
    WORKFLOWS,
    Repository,
    base_env,
    make_runner,
)
from tests.workflows.runner import INSTALL_STEP, git, node_binary, step_name

SCHEDULES = sorted(
    YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))["name"]
    for path in (PROJECT / "schedules").glob("*.yaml")
)
PLAN_MARKER = "<!-- reconciler-plan:default -->"
DRIFT_MARKER = "<!-- reconciler-drift:default -->"
STATE = ".reconciler/state.json"
needs_node = pytest.mark.skipif(
    node_binary() is None,
    reason="Node.js >= 18 not installed: the github-script steps (sticky comment, drift issue) "
    "cannot run against the fake GitHub; the rest of the rehearsal still runs",
)


def _actions(plan_file: Path) -> list[tuple[str, str, str]]:
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    return sorted((a["kind"], a["name"], a.get("fingerprint", "")) for a in plan["actions"])


def _open_issues(github: dict[str, Any]) -> list[dict[str, Any]]:
    return [issue for issue in github["issues"] if issue["state"] == "open"]


def test_validate_step_passes_the_pull_requests_manifests(rehearsal: Rehearsal) -> None:
    """plan.yml's validate job lists the environments and validates every manifest."""
    job = rehearsal.plan.job("validate")
    step = job.step("Validate manifests")
    assert job.result == "success", job.log()
    assert job.outputs["matrix"].startswith('{"include":[{"name":"default"'), job.log()
    assert f"{len(SCHEDULES)} schedule(s) in {len(SCHEDULES)} file(s): valid" in step.stdout


def test_plan_writes_markdown_with_the_marker_first_and_a_plan_file(
    rehearsal: Rehearsal,
) -> None:
    """The Plan step exits 2 (changes), plan.md starts with the hidden marker line, plan.json
    holds one create per manifest, and both are uploaded as the artifact plan-default."""
    job = rehearsal.plan.job("plan", name="default")
    assert job.step("plan").outputs == {"exitcode": "2"}, job.log()
    markdown = (job.workspace / "plan.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[0] == PLAN_MARKER
    assert f"Plan: {len(SCHEDULES)} to create" in markdown
    assert [name for kind, name, _ in _actions(job.workspace / "plan.json")] == SCHEDULES
    assert {kind for kind, _, _ in _actions(job.workspace / "plan.json")} == {"create"}
    artifact = rehearsal.runner.artifacts / "plan-default"
    assert sorted(p.name for p in artifact.iterdir()) == ["plan.json", "plan.md"], job.log()
    assert job.step("Fail if the plan failed").outcome == "skipped"


@needs_node
def test_plan_is_posted_as_one_pull_request_comment(rehearsal: Rehearsal) -> None:
    """The github-script step posts exactly one comment on the pull request, marker first."""
    comments = rehearsal.github_after_plan["comments"]
    assert len(comments) == 1, rehearsal.plan.log()
    assert comments[0]["issue_number"] == 7
    assert comments[0]["body"].splitlines()[0] == PLAN_MARKER
    assert f"Plan: {len(SCHEDULES)} to create" in comments[0]["body"]


def test_apply_carries_out_exactly_the_planned_changes(rehearsal: Rehearsal) -> None:
    """On the merge, apply.yml plans the same changes as the pull request showed, applies that
    plan file, and the live app then holds exactly the planned bodies."""
    job = rehearsal.apply.job("apply", name="default")
    assert job.step("plan").outputs == {"exitcode": "2"}, job.log()
    assert job.step("Apply the plan file").outcome == "success", job.log()
    planned = _actions(job.workspace / "plan.json")
    assert planned == _actions(rehearsal.plan.job("plan").workspace / "plan.json")
    live = sorted(("create", s["name"], fingerprint(s)) for s in rehearsal.live_after_apply)
    assert live == planned


def test_state_file_is_committed_back_with_skip_ci(rehearsal: Rehearsal) -> None:
    """After apply, the remote's main has one more commit by github-actions[bot], touching only
    the state file, with [skip ci] in its message, holding the ids of the live schedules."""
    remote = rehearsal.repo.remote
    log = rehearsal.apply.log()
    tip = rehearsal.repo.remote_tip()
    env = rehearsal.repo.env
    assert git("rev-parse", f"{tip}^", cwd=remote, env=env).strip() == rehearsal.merged_sha, log
    subject, author = git("log", "-1", "--format=%s%n%an", tip, cwd=remote, env=env).splitlines()
    assert "[skip ci]" in subject
    assert subject.startswith("reconciler: state of default after apply of ")
    assert author == "github-actions[bot]"
    changed = git("diff", "--name-only", f"{tip}^", tip, cwd=remote, env=env).split()
    assert changed == [STATE]
    state = json.loads(git("show", f"{tip}:{STATE}", cwd=remote, env=env))
    ids = {entry["schedule_id"] for entry in state["entries"].values()}
    assert ids == {s["schedule_id"] for s in rehearsal.live_after_apply}


def test_drift_is_clean_after_the_apply(rehearsal: Rehearsal) -> None:
    """The first hourly drift run, on the branch with the committed state, finds no drift."""
    job = rehearsal.drift_clean.job("drift", name="default")
    step = job.step("drift")
    assert job.result == "success", job.log()
    assert step.outputs == {"exitcode": "0"}, job.log()
    assert "no drift in default" in step.stdout
    assert (job.workspace / "drift.md").read_text(encoding="utf-8").splitlines()[0] == DRIFT_MARKER


@needs_node
def test_no_drift_issue_is_opened_when_clean(rehearsal: Rehearsal) -> None:
    """A clean drift run opens no issue."""
    assert rehearsal.github_after_clean["issues"] == [], rehearsal.drift_clean.log()


def test_out_of_band_edit_is_reported_as_drift(rehearsal: Rehearsal) -> None:
    """After the console edit, reconciler drift exits 2 and its report names the edited
    schedule and field, and no other schedule; the job itself still succeeds."""
    assert rehearsal.edit_status == 200, f"{EDITED} could not be edited: {rehearsal.log()}"
    job = rehearsal.drift_edited.job("drift", name="default")
    step = job.step("drift")
    assert job.result == "success", job.log()
    assert step.outputs == {"exitcode": "2"}, job.log()
    assert "::warning::drift in default" in step.stdout
    report = (job.workspace / "drift.md").read_text(encoding="utf-8")
    assert report.splitlines()[0] == DRIFT_MARKER
    assert EDITED in report
    assert "push.body.notification.alert" in report
    assert EDITED_ALERT in report
    assert [name for name in SCHEDULES if name != EDITED and name in report] == []
    assert EDITED in job.summary


@needs_node
def test_drift_opens_one_issue_naming_the_edited_schedule(rehearsal: Rehearsal) -> None:
    """The github-script step opens one issue labelled drift and env:default with the report."""
    issues = _open_issues(rehearsal.github_after_edit)
    assert len(issues) == 1, rehearsal.drift_edited.log()
    issue = issues[0]
    assert {label["name"] for label in issue["labels"]} == {"drift", "env:default"}
    assert issue["title"] == "Drift in default: live schedules differ from git"
    assert issue["body"].splitlines()[0] == DRIFT_MARKER
    assert EDITED in issue["body"]


def test_credentials_never_appear_in_logs_reports_or_commits(rehearsal: Rehearsal) -> None:
    """Neither the AppKey nor the Master Secret is in any step's output, summary, artifact,
    comment, issue or commit of the rehearsal."""
    texts = [rehearsal.log()]
    texts += [run.summary for workflow in rehearsal.runner.runs for run in workflow.jobs]
    texts += [
        p.read_text(errors="replace") for p in rehearsal.runner.artifacts.rglob("*") if p.is_file()
    ]
    if rehearsal.runner.github_db is not None:
        texts.append(rehearsal.runner.github_db.read_text(encoding="utf-8"))
    texts.append(git("log", "-p", "--all", cwd=rehearsal.repo.remote, env=rehearsal.repo.env))
    leaks = [s for s in (DEMO_APP_KEY, DEMO_MASTER_SECRET) for text in texts if s in text]
    assert leaks == []


def test_every_run_script_of_the_workflows_was_executed(rehearsal: Rehearsal) -> None:
    """The rehearsal covers the workflows: every run: script was executed verbatim and
    succeeded at least once, except the one that only runs when the plan fails (and the
    install steps, which the runner replaces)."""
    failure_only = {("plan", "plan", "Fail if the plan failed")}
    yaml = YAML(typ="safe", pure=True)
    expected = set()
    for name in ("plan", "apply", "drift"):
        data = yaml.load((WORKFLOWS / f"{name}.yml").read_text(encoding="utf-8"))
        for job_id, job in data["jobs"].items():
            for step in job["steps"]:
                if "run" in step and not INSTALL_STEP.search(step["run"]):
                    expected.add((data["name"], job_id, step_name(step)))
    ran = {
        (workflow.workflow, run.job, step.name)
        for workflow in rehearsal.runner.runs
        for run in workflow.jobs
        for step in run.steps
        if step.outcome == "success" and not step.note
    }
    assert len(expected) >= 8
    assert expected - failure_only - ran == set()


def test_invalid_manifest_is_annotated_and_not_planned(tmp_path: Path) -> None:
    """A pull request with an invalid manifest gets a GitHub error annotation on the line, the
    validate job fails, and no plan job runs (nothing reaches the API: the endpoint is dead)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nenabled: true\ntrigger:\n  single:\n    time: '2027-03-01 19:20:00'\n"
        "    zone_type: 7\npush:\n  to: all\n  body:\n    platform: all\n"
        "    notification:\n      alert: x\n",
        encoding="utf-8",
    )
    env = base_env(tmp_path, "http://127.0.0.1:9")
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=False)
    event = repo.open_pull_request("bad-schedule", {"schedules/bad.yaml": bad})
    run = runner.run_workflow(WORKFLOWS / "plan.yml", event)
    validate = run.job("validate")
    assert validate.result == "failure", run.log()
    assert "::error file=schedules/bad.yaml,line=6," in validate.step("Validate manifests").stdout
    assert run.job("plan").result == "skipped", run.log()


def test_emulator_mode_applies_without_credentials_and_commits_nothing(tmp_path: Path) -> None:
    """With the repository variable RECONCILER_EMULATOR=true and no secrets, apply.yml plans
    and applies against the job's embedded emulator and commits no state (docs/github.md)."""
    env = base_env(tmp_path, None)
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=False)
    runner.secrets = {"GITHUB_TOKEN": "ghs_fake-token-of-the-rehearsal"}
    runner.variables = {"RECONCILER_EMULATOR": "true"}
    repo.open_pull_request("add-schedules", {"schedules": PROJECT / "schedules"})
    event = repo.merge("add-schedules")
    job = runner.run_workflow(WORKFLOWS / "apply.yml", event).job("apply", name="default")
    assert job.result == "success", job.log()
    assert job.step("plan").outputs == {"exitcode": "2"}, job.log()
    assert f"{len(SCHEDULES)} action(s) done" in job.step("Apply the plan file").stdout
    assert job.step("Commit the state file").outcome == "skipped"
    assert repo.remote_tip() == event.sha


def test_plan_without_secrets_fails_instead_of_planning_against_a_fake(tmp_path: Path) -> None:
    """A pull request in a repository without the credential secrets (and without
    RECONCILER_EMULATOR) gets a failed plan job, not a plan computed against an emulator."""
    env = base_env(tmp_path, None)
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=False)
    runner.secrets = {"GITHUB_TOKEN": "ghs_fake-token-of-the-rehearsal"}
    event = repo.open_pull_request("add-schedules", {"schedules": PROJECT / "schedules"})
    job = runner.run_workflow(WORKFLOWS / "plan.yml", event).job("plan", name="default")
    assert job.result == "failure", job.log()
    assert job.step("plan").outputs == {"exitcode": "1"}, job.log()
    assert "ENGAGELAB_APP_KEY" in job.step("plan").stderr
    assert "to create" not in (job.workspace / "plan.md").read_text(encoding="utf-8")
    assert job.step("Upload the plan file").outcome == "skipped"
    failed = job.step("Fail if the plan failed")
    assert failed.outcome == "failure"
    assert "::error::reconciler plan failed with exit code 1" in failed.stdout
