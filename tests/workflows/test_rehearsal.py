"""Rehearsal: the workflows' exact command sequence, in order, against the emulator.

The ``run:`` scripts of plan.yml, apply.yml, drift.yml and of the action they use are executed
verbatim (runner.py); the ``rehearsal`` fixture (conftest.py) runs validate -> plan -> merge ->
plan -> approval -> apply of that plan file -> state commit -> drift (clean) -> out-of-band
edit -> drift (exit 2). The pull-request side reads the pull request through the fake GitHub,
so these tests need Node.js and are skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.planning.canonical import fingerprint
from tests.workflows.conftest import EDITED, EDITED_ALERT, Rehearsal, only
from tests.workflows.helpers import (
    PROJECT,
    STATE_BRANCH,
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
pytestmark = pytest.mark.skipif(
    node_binary() is None,
    reason="Node.js >= 18 not installed: the github-script steps (the pull request, the sticky "
    "comment, the drift issue) cannot run against the fake GitHub",
)


def _actions(plan_file: Path) -> list[tuple[str, str, str]]:
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    return sorted((a["kind"], a["name"], a.get("fingerprint", "")) for a in plan["actions"])


def _open_issues(github: dict[str, Any]) -> list[dict[str, Any]]:
    return [issue for issue in github["issues"] if issue["state"] == "open"]


def test_validate_step_passes_the_pull_requests_manifests(rehearsal: Rehearsal) -> None:
    """plan.yml's validate job builds the planning workspace and validates every manifest."""
    job = rehearsal.plan.job("prepare")
    step = job.step("Validate the pull request's manifests > Validate")
    assert job.result == "success", job.log()
    assert job.outputs["matrix"].startswith('{"include":[{"name":"default"'), job.log()
    assert job.outputs["trusted"] == "true", job.log()
    assert f"{len(SCHEDULES)} schedule(s) in {len(SCHEDULES)} file(s): valid" in step.stdout


def test_plan_writes_markdown_with_the_marker_first_and_a_plan_file(
    rehearsal: Rehearsal,
) -> None:
    """The Plan step exits 2 (changes), plan.md starts with the hidden marker line, plan.json
    holds one create per manifest, and both are uploaded as the artifact plan-default."""
    job = rehearsal.plan.job("plan", name="default")
    assert job.step("plan").outputs["exitcode"] == "2", job.log()
    markdown = (job.workspace / "plan.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[0] == PLAN_MARKER
    assert f"Plan: {len(SCHEDULES)} to create" in markdown
    assert [name for kind, name, _ in _actions(job.workspace / "plan.json")] == SCHEDULES
    assert {kind for kind, _, _ in _actions(job.workspace / "plan.json")} == {"create"}
    assert job.step("Fail if the plan failed").outcome == "skipped"
    assert rehearsal.plan.job("gate").result == "success", rehearsal.plan.log()


def test_plan_is_posted_as_one_pull_request_comment(rehearsal: Rehearsal) -> None:
    """The plan job posts exactly one comment on the pull request, marker first, and the gate
    sets the required status to success on the pull request's head."""
    comments = rehearsal.github_after_plan["comments"]
    assert len(comments) == 1, rehearsal.plan.log()
    assert comments[0]["issue_number"] == 7
    assert comments[0]["body"].splitlines()[0] == PLAN_MARKER
    assert f"Plan: {len(SCHEDULES)} to create" in comments[0]["body"]
    statuses = rehearsal.github_after_plan["statuses"]
    assert [(s["context"], s["state"]) for s in statuses] == [("reconciler/plan", "success")]


def test_apply_carries_out_exactly_the_planned_changes(rehearsal: Rehearsal) -> None:
    """On the merge, apply.yml's plan job plans the same changes as the pull request showed,
    the apply job applies that plan file, and the live app then holds exactly those bodies."""
    plan = rehearsal.apply.job("plan", name="default")
    job = rehearsal.apply.job("apply", name="default")
    assert plan.step("plan").outputs["exitcode"] == "2", plan.log()
    assert job.step("Apply the reviewed plan").outcome == "success", job.log()
    planned = _actions(job.workspace / "reviewed-plan" / "plan.json")
    assert planned == _actions(plan.workspace / "plan.json")
    assert planned == _actions(rehearsal.plan.job("plan").workspace / "plan.json")
    live = sorted(("create", s["name"], fingerprint(s)) for s in rehearsal.live_after_apply)
    assert live == planned


def test_state_file_is_committed_to_the_state_branch(rehearsal: Rehearsal) -> None:
    """After apply, the state branch has one more commit by github-actions[bot], holding the
    state (the ids of the live schedules) and the applied commit; main is untouched."""
    remote, env = rehearsal.repo.remote, rehearsal.repo.env
    log = rehearsal.apply.log()
    assert rehearsal.repo.remote_tip() == rehearsal.merged_sha, log
    tip = rehearsal.repo.remote_tip(STATE_BRANCH)
    subject, author = git("log", "-1", "--format=%s%n%an", tip, cwd=remote, env=env).splitlines()
    assert "[skip ci]" in subject
    assert subject.startswith("reconciler: state of default after apply of ")
    assert author == "github-actions[bot]"
    changed = git("diff", "--name-only", f"{tip}^", tip, cwd=remote, env=env).split()
    assert changed == [".reconciler-applied/default", STATE]
    state = json.loads(git("show", f"{tip}:{STATE}", cwd=remote, env=env))
    ids = {entry["schedule_id"] for entry in state["entries"].values()}
    assert ids == {s["schedule_id"] for s in rehearsal.live_after_apply}
    applied = git("show", f"{tip}:.reconciler-applied/default", cwd=remote, env=env).strip()
    assert applied == rehearsal.merged_sha


def test_drift_is_clean_after_the_apply(rehearsal: Rehearsal) -> None:
    """The first hourly drift run, with the committed state, finds no drift."""
    job = rehearsal.drift_clean.job("drift", name="default")
    assert job.result == "success", job.log()
    assert job.step("drift").outputs["exitcode"] == "0", job.log()
    assert (job.workspace / "drift.md").read_text(encoding="utf-8").splitlines()[0] == DRIFT_MARKER


def test_no_drift_issue_is_opened_when_clean(rehearsal: Rehearsal) -> None:
    """A clean drift run opens no issue."""
    assert rehearsal.github_after_clean["issues"] == [], rehearsal.drift_clean.log()


def test_out_of_band_edit_is_reported_as_drift(rehearsal: Rehearsal) -> None:
    """After the console edit, reconciler drift exits 2 and its report names the edited
    schedule and field, and no other schedule; the job itself still succeeds."""
    assert rehearsal.edit_status == 200, f"{EDITED} could not be edited: {rehearsal.log()}"
    job = rehearsal.drift_edited.job("drift", name="default")
    assert job.result == "success", job.log()
    assert job.step("drift").outputs["exitcode"] == "2", job.log()
    report = (job.workspace / "drift.md").read_text(encoding="utf-8")
    assert report.splitlines()[0] == DRIFT_MARKER
    assert EDITED in report
    assert "push.body.notification.alert" in report
    assert EDITED_ALERT in report
    assert [name for name in SCHEDULES if name != EDITED and name in report] == []
    assert EDITED in job.summary


def test_drift_opens_one_issue_naming_the_edited_schedule(rehearsal: Rehearsal) -> None:
    """The drift-report step opens one issue labelled drift and env:default with the report."""
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


def _run_steps(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    steps = [
        (job_id, step) for job_id, job in (data.get("jobs") or {}).items() for step in job["steps"]
    ]
    return steps + [("", step) for step in (data.get("runs") or {}).get("steps", [])]


def test_every_run_script_of_the_workflows_and_the_action_was_executed(
    rehearsal: Rehearsal,
) -> None:
    """The rehearsal covers the set-up: every run: script of the three workflows and of the
    action was executed verbatim and succeeded at least once, except those that only run when
    something fails (and the install step, which the runner replaces)."""
    failure_only = {"Fail if the plan failed"}
    yaml = YAML(typ="safe", pure=True)
    expected = set()
    for path in [
        *(WORKFLOWS / f"{n}.yml" for n in ("plan", "apply", "drift")),
        PROJECT / "action.yml",
    ]:
        for _, step in _run_steps(yaml.load(path.read_text(encoding="utf-8"))):
            if "run" in step and not INSTALL_STEP.search(step["run"]):
                expected.add(step_name(step))
    ran = {
        step.name.split(" > ")[-1]
        for workflow in rehearsal.runner.runs
        for run in workflow.jobs
        for step in run.steps
        if step.outcome == "success" and step.returncode == 0 and "replaced" not in step.note
    }
    assert len(expected) >= 12
    assert expected - failure_only - ran == set()


def test_invalid_manifest_is_annotated_and_not_planned(tmp_path: Path) -> None:
    """A pull request with an invalid manifest gets a GitHub error annotation on the line, the
    validate job fails, no plan job runs and the gate fails (nothing reaches the API: the
    endpoint is dead)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nenabled: true\ntrigger:\n  single:\n    time: '2027-03-01 19:20:00'\n"
        "    zone_type: 7\npush:\n  to: all\n  body:\n    platform: all\n"
        "    notification:\n      alert: x\n",
        encoding="utf-8",
    )
    env = base_env(tmp_path, "http://127.0.0.1:9")
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=True)
    repo.open_pull_request("bad-schedule", {"schedules/bad.yaml": bad})
    run = only(repo.trigger_pull_request(runner), "plan")
    validate = run.job("prepare")
    assert validate.result == "failure", run.log()
    step = validate.step("Validate the pull request's manifests > Validate")
    assert "::error file=schedules/bad.yaml,line=6," in step.stdout
    assert run.job("plan").result == "skipped", run.log()
    assert run.job("gate").result == "failure", run.log()


def test_plan_without_secrets_fails_instead_of_planning_against_a_fake(tmp_path: Path) -> None:
    """A pull request in a repository whose environments hold no credentials gets a failed
    plan job, not a plan computed against an emulator."""
    env = base_env(tmp_path, None)
    repo = Repository(tmp_path, env)
    runner = make_runner(tmp_path, repo.remote, env, use_node=True)
    runner.secrets = {}
    for conf in runner.environments.values():
        conf["secrets"] = {}
    repo.open_pull_request("add-schedules", {"schedules": PROJECT / "schedules"})
    job = only(repo.trigger_pull_request(runner), "plan").job("plan", name="default")
    assert job.result == "failure", job.log()
    assert job.step("plan").outputs["exitcode"] == "1", job.log()
    assert "ENGAGELAB_APP_KEY" in job.step("Plan > Plan").stderr
    assert "to create" not in (job.workspace / "plan.md").read_text(encoding="utf-8")
    assert job.step("Upload the plan file").outcome == "skipped"
    failed = job.step("Fail if the plan failed")
    assert failed.outcome == "failure"
    assert "::error::reconciler plan failed with exit code 1" in failed.stdout
