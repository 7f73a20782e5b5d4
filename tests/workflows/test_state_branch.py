# ruff: noqa: F811 - the `world` fixture of test_attacks, imported by name
"""The state branch `reconciler-state` pushed by someone other than the apply workflow.

A developer with write access can push that branch unless a ruleset restricts it
(docs/github.md, "3. The state branch"). Whatever lands there, an apply never works silently from
a state the apply workflow did not write: it compares the branch with the last state an apply
run uploaded, refuses one it cannot verify (none on record: a first apply, an artifact expired
after 90 days) unless a dispatch accepts it in a run the environment's reviewers approve, and
takes the markers `.reconciler-applied/<env>` only as far as the apply runs confirm them.
Pull-request plans and drift read such a state but say so above the plan or report.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.workflows.conftest import only
from tests.workflows.helpers import STATE_BRANCH
from tests.workflows.runner import git, load_fake_github, node_binary
from tests.workflows.test_attacks import SCHEDULES, World, _jobs, _log, _name, world  # noqa: F401

pytestmark = pytest.mark.skipif(
    node_binary() is None,
    reason="Node.js >= 18 not installed: the github-script steps cannot run",
)

SINGLE = SCHEDULES / "single.yaml"
STATE = ".reconciler/state.json"


def _foreign_task(world: World) -> str:
    """Another team's task in the same app, which no manifest of this repository declares."""
    return world.emulator.add_schedule(
        {
            "name": "other_team_task",
            "enabled": True,
            "trigger": {"single": {"time": "2027-05-01 10:00:00", "zone_type": 1}},
            "push": {
                "from": "push",
                "to": "all",
                "body": {"platform": "all", "notification": {"alert": "OTHER TEAM"}},
            },
        }
    )


def _alert(world: World, schedule_id: str) -> str:
    task = next(s for s in world.emulator.schedules() if s["schedule_id"] == schedule_id)
    return str(task["push"]["body"]["notification"]["alert"])


def _push_to_state_branch(world: World, files: dict[str, str], who: str = "developer") -> None:
    """Someone with write access commits ``files`` (path -> text) on top of the state branch
    and pushes it (no ruleset restricts the branch in this repository)."""
    repo = world.repo
    repo.git("fetch", "-q", "origin", STATE_BRANCH)
    repo.git("checkout", "-q", "-B", "state-edit", "FETCH_HEAD")
    for path, text in files.items():
        (repo.dev / path).parent.mkdir(parents=True, exist_ok=True)
        (repo.dev / path).write_text(text, encoding="utf-8")
        repo.git("add", "-f", path)
    repo.git("commit", "-q", "-m", "state")
    git("push", "-q", "origin", f"state-edit:{STATE_BRANCH}", cwd=repo.dev,
        env={**repo.env, "HARNESS_ACTOR": who})  # fmt: skip
    repo.git("checkout", "-q", "-f", "main")


def _branch_file(world: World, path: str) -> str:
    return git("show", f"{STATE_BRANCH}:{path}", cwd=world.repo.remote, env=world.repo.env)


def _forged_state(schedule_id: str, lineage: str = "forged", serial: int = 1) -> str:
    entry = {
        "schedule_id": schedule_id,
        "fingerprint": "sha256:" + "0" * 64,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    return json.dumps(
        {
            "version": 1,
            "lineage": lineage,
            "serial": serial,
            "entries": {_name(SINGLE): entry},
        }
    )


def _approvals(world: World) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    world.runner.approver = lambda view: seen.append(view) is None
    return seen


def _writes_to(world: World, schedule_id: str, start: int = 0) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in world.emulator.request_log[start:]
        if r.method != "GET" and schedule_id in r.path
    ]


def _expire_state_artifacts(world: World) -> None:
    """90 days later: GitHub lists the state artifacts as expired and serves them no more."""
    db = load_fake_github(world.runner.github_db)
    for artifact in db.get("artifacts", []):
        if artifact["name"].startswith("state-"):
            artifact["expired"] = True
    world.runner.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")


def _edited_single(world: World, alert: str) -> Path:
    data = _load(SINGLE)
    data["push"]["body"]["notification"]["alert"] = alert
    path = world.root / f"single-{len(list(world.root.glob('single-*')))}.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _refused(runs: list[Any], environment: str = "default") -> str:
    """The apply run's failure text (asserting it failed before anything was approved)."""
    run = only(runs, "apply")
    plan = run.job("plan", name=environment)
    assert plan.result == "failure", run.log()
    assert [j.result for j in run.jobs if j.job == "apply"] in ([], ["skipped"]), run.log()
    return run.log()


def _merge_refused(world: World, branch: str, foreign: str) -> str:
    """Merge ``branch``: the apply run refuses before any approval, names the accepting
    dispatch, and the other team's task ``foreign`` is untouched. Returns the run's log."""
    seen = _approvals(world)
    start = len(world.emulator.request_log)
    runs = world.runner.trigger(world.repo.merge(branch))
    assert _writes_to(world, foreign, start) == [], _log(runs)
    assert _alert(world, foreign) == "OTHER TEAM"
    text = _refused(runs)
    assert "accept-state=default" in text
    assert seen == []
    return text


# -- a forged state -----------------------------------------------------------------------------


def test_forged_state_on_a_first_apply_is_refused(world: World) -> None:
    """Before the first apply of an environment (no state artifact yet), a developer pushes a
    state binding a manifest's name to another team's task, then a pull request adding that
    manifest is merged. The pull request's plan warns that the state is unverified; the apply
    refuses it before any approval, naming the way to accept a state; the task is untouched."""
    foreign = _foreign_task(world)
    _push_to_state_branch(world, {STATE: _forged_state(foreign)})
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    pr_runs = world.repo.trigger_pull_request(world.runner)
    comments = [c["body"] for c in world.github()["comments"]]
    assert "not written by the apply workflow" in _merge_refused(world, "one", foreign)
    assert any("Unverified state" in body for body in comments), _log(pr_runs)


def test_forged_state_after_the_artifact_expired_is_refused(world: World) -> None:
    """An environment applied once, then left alone past the 90 days its state artifact is
    kept: a developer rebinds its manifest's name to another team's task on the state branch
    (same lineage, next serial), and a change of that manifest is merged. The apply refuses
    the state it cannot verify; the other team's task is untouched."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    first = world.runner.trigger(world.repo.merge("one"))
    assert only(first, "apply").job("apply", name="default").result == "success", _log(first)
    _expire_state_artifacts(world)
    foreign = _foreign_task(world)
    state = json.loads(_branch_file(world, STATE))
    state["entries"][_name(SINGLE)]["schedule_id"] = foreign
    state["serial"] += 1
    _push_to_state_branch(world, {STATE: json.dumps(state)})
    edited = _edited_single(world, "Edited after 90 days")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    assert "90 days" in _merge_refused(world, "edit", foreign)


def test_state_changed_on_the_branch_is_refused(world: World) -> None:
    """With the last apply's artifact at hand, a rebinding pushed to the branch is refused as
    a state changed outside the apply workflow (before any approval)."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    world.runner.trigger(world.repo.merge("one"))
    foreign = _foreign_task(world)
    state = json.loads(_branch_file(world, STATE))
    state["entries"][_name(SINGLE)]["schedule_id"] = foreign
    _push_to_state_branch(world, {STATE: json.dumps(state)})
    edited = _edited_single(world, "Edited")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    seen = _approvals(world)
    runs = world.runner.trigger(world.repo.merge("edit"))
    assert _alert(world, foreign) == "OTHER TEAM", _log(runs)
    assert "changed outside the apply workflow" in _refused(runs)
    assert seen == []  # refused before the approver is asked, no longer after


# -- forged markers ---------------------------------------------------------------------------


def test_forged_marker_does_not_skip_a_merged_change(world: World) -> None:
    """A developer writes the commit about to be merged into `.reconciler-applied/default`,
    as if it had been applied: the merge's apply still plans and applies it."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    world.runner.trigger(world.repo.merge("one"))
    edited = _edited_single(world, "The merged change")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    head = world.repo.pulls[8]["head"]["sha"]  # a fast-forward merge: main's next commit
    _push_to_state_branch(world, {".reconciler-applied/default": head + "\n"})
    runs = world.runner.trigger(world.repo.merge("edit"))
    apply_run = only(runs, "apply")
    assert apply_run.job("apply", name="default").result == "success", apply_run.log()
    assert "the marker was changed outside the apply workflow" in apply_run.log()
    assert [s["push"]["body"]["notification"]["alert"] for s in world.emulator.schedules()] == [
        "The merged change"
    ]


def test_forged_marker_does_not_stop_every_apply(world: World) -> None:
    """A developer writes into the marker a commit of their own branch that comes after main's
    tip: read as it is, every apply would be refused as "an older commit". The next merge is
    applied."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    world.runner.trigger(world.repo.merge("one"))
    edited = _edited_single(world, "Applied despite the marker")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    # A commit on top of what will be merged, on a branch every checkout fetches.
    world.repo.git("checkout", "-q", "edit")
    world.repo.git("checkout", "-q", "-b", "later")
    (world.repo.dev / "notes.txt").write_text("later\n", encoding="utf-8")
    descendant = world.repo.commit("A later commit")
    git("push", "-q", "origin", "later", cwd=world.repo.dev,
        env={**world.repo.env, "HARNESS_ACTOR": "developer"})  # fmt: skip
    world.repo.git("checkout", "-q", "-f", "main")
    _push_to_state_branch(world, {".reconciler-applied/default": descendant + "\n"})
    runs = world.runner.trigger(world.repo.merge("edit"))
    apply_run = only(runs, "apply")
    assert "roll the app back" not in apply_run.log()
    assert apply_run.job("apply", name="default").result == "success", apply_run.log()
    assert [s["push"]["body"]["notification"]["alert"] for s in world.emulator.schedules()] == [
        "Applied despite the marker"
    ]


# -- the legitimate flows ----------------------------------------------------------------------


def _import_state(world: World, branch: str, assignment: str) -> str:
    """`reconciler import NAME=ID` in the developer's checkout of ``branch``, as docs/github.md
    §6 says: the state file it writes."""
    repo = world.repo
    repo.git("checkout", "-q", branch)
    env = {
        **repo.env,
        "ENGAGELAB_APP_KEY": DEMO_APP_KEY,
        "ENGAGELAB_MASTER_SECRET": DEMO_MASTER_SECRET,
    }
    done = subprocess.run(
        ["reconciler", "import", assignment],
        cwd=repo.dev,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (repo.dev / STATE).read_text(encoding="utf-8")
    (repo.dev / STATE).unlink()
    repo.git("checkout", "-q", "-f", "main")
    return text


def test_adopting_existing_tasks_goes_through_an_accepting_dispatch(world: World) -> None:
    """docs/github.md §6: a task already in the app is adopted with `reconciler import` and
    the state committed to the state branch before the first merge. The pull request's plan
    and drift say the state is unverified; the merge's apply refuses it; a dispatch of the
    apply workflow with `accept-state` shows the environment's reviewer the bindings being
    accepted, and applies once approved. From then on the state is the apply workflow's own:
    the next merge is applied without accepting anything."""
    existing = world.emulator.add_schedule(
        {k: v for k, v in _load(SINGLE).items() if k != "lifecycle"}
    )
    world.repo.open_pull_request("adopt", {"schedules/single.yaml": SINGLE})
    state = _import_state(world, "adopt", f"{_name(SINGLE)}={existing}")
    _push_to_state_branch(world, {STATE: state}, who="maintainer")
    world.repo.trigger_pull_request(world.runner)
    comments = [c["body"] for c in world.github()["comments"]]
    drift = only(world.runner.trigger(world.repo.schedule_event()), "drift")

    seen = _approvals(world)
    refused = world.runner.trigger(world.repo.merge("adopt"))
    assert "accept-state=default" in _refused(refused)
    assert seen == []
    assert not comments or all("Unverified state" in c for c in comments), comments
    assert "Unverified state" in drift.job("drift", name="default").summary, drift.log()

    accepted = world.runner.trigger(world.repo.dispatch(**{"accept-state": "default"}))
    apply_run = only(accepted, "apply")
    assert apply_run.job("apply", name="default").result == "success", apply_run.log()
    shown = "\n".join(seen[0]["summaries"].values())
    assert "This run accepts the state of `default`" in shown, shown
    assert f"| `{_name(SINGLE)}` | `{existing}` |" in shown
    assert [s["schedule_id"] for s in world.emulator.schedules()] == [existing]

    edited = _edited_single(world, "Adopted and edited")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    later = world.runner.trigger(world.repo.merge("edit"))
    assert only(later, "apply").job("apply", name="default").result == "success", _log(later)
    assert "accepts the state" not in "\n".join(seen[-1]["summaries"].values())
    assert _alert(world, existing) == "Adopted and edited"


def test_an_expired_artifact_is_accepted_the_same_way(world: World) -> None:
    """The genuine state of an environment whose last apply was more than 90 days ago: the
    next apply refuses it (nothing left to compare it with) and names the accepting dispatch,
    which applies once approved."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SINGLE})
    world.runner.trigger(world.repo.merge("one"))
    _expire_state_artifacts(world)
    edited = _edited_single(world, "After 90 days")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    drift = only(world.runner.trigger(world.repo.schedule_event()), "drift")
    assert "accept-state=default" in _refused(world.runner.trigger(world.repo.merge("edit")))
    assert "Unverified state" in drift.job("drift", name="default").summary, drift.log()
    seen = _approvals(world)
    runs = world.runner.trigger(world.repo.dispatch(**{"accept-state": "default"}))
    assert only(runs, "apply").job("apply", name="default").result == "success", _log(runs)
    assert "This run accepts the state of `default`" in "\n".join(seen[0]["summaries"].values())
    assert [s["push"]["body"]["notification"]["alert"] for s in world.emulator.schedules()] == [
        "After 90 days"
    ]


def _load(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    return dict(YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")))


def _accepting_dispatch_refused(world: World, pushed: str) -> int:
    """A dispatch accepting the state of `default`; while its apply job waits for approval,
    ``pushed`` lands on the state branch. The apply job must refuse it as not the state its
    plan job accepted; returns where the emulator's request log stood before the run."""

    def approve(view: dict[str, Any]) -> bool:
        _push_to_state_branch(world, {STATE: pushed})
        return True

    world.runner.approver = approve
    start = len(world.emulator.request_log)
    runs = world.runner.trigger(world.repo.dispatch(**{"accept-state": "default"}))
    apply_job = only(runs, "apply").job("apply", name="default")
    assert apply_job.result == "failure", _log(runs)
    assert "not the one this run's plan job accepted" in apply_job.log()
    return start


def test_a_state_pushed_while_the_acceptance_waits_is_not_applied(world: World) -> None:
    """The reviewer of an accepting dispatch reads the bindings shown by its plan job; if the
    branch is pushed again before the approval (same lineage and serial, another task id), the
    apply job refuses: what is accepted is what the approver saw."""
    existing = world.emulator.add_schedule(
        {k: v for k, v in _load(SINGLE).items() if k != "lifecycle"}
    )
    foreign = _foreign_task(world)
    world.repo.open_pull_request("adopt", {"schedules/single.yaml": SINGLE})
    state = _import_state(world, "adopt", f"{_name(SINGLE)}={existing}")
    _push_to_state_branch(world, {STATE: state}, who="maintainer")
    world.runner.trigger(world.repo.merge("adopt"))  # refused: nothing on record

    swapped = json.loads(state)
    swapped["entries"][_name(SINGLE)]["schedule_id"] = foreign
    start = _accepting_dispatch_refused(world, json.dumps(swapped))
    assert _writes_to(world, foreign, start) == []
    assert _writes_to(world, existing, start) == []


def test_an_accepted_state_file_in_the_repository_is_not_taken_for_the_plan_jobs(
    world: World,
) -> None:
    """An `accepted-state.json` that reached the default branch (it is not the tool, so a pull
    request adding it is planned like a schedule change) must not stand in for the state a
    plan job accepted. Dispatched with `accept-state` while the branch is clean, the plan job
    accepts nothing and shows no bindings; the forged state pushed while the approval waits
    used to be taken from that committed file as the one the approver saw."""
    world.repo.open_pull_request("first", {"schedules/single.yaml": SINGLE})
    _approvals(world)
    first = world.runner.trigger(world.repo.merge("first"))
    assert only(first, "apply").job("apply", name="default").result == "success", _log(first)
    applied = json.loads(_branch_file(world, STATE))
    foreign = _foreign_task(world)
    forged = json.loads(json.dumps(applied))
    forged["entries"][_name(SINGLE)]["schedule_id"] = foreign
    world.repo.commit_to_main({"accepted-state.json": json.dumps(forged)}, "a file")

    start = _accepting_dispatch_refused(world, json.dumps(forged))
    assert _writes_to(world, foreign, start) == []
    assert json.loads(_branch_file(world, STATE))["entries"] == forged["entries"]  # not re-uploaded
