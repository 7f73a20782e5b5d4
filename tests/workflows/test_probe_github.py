"""Attacks on the GitHub set-up that the harness can play, each a regression test.

A pull request's author (with write access, or from a fork) uses what the pull request carries
(symbolic links, renames, file names) or what any run of the repository can leave behind
(artifacts) against the trusted workflows:

1. a symbolic link in place of the manifests directory or of ``reconciler.yaml`` makes the
   trusted job read files outside the pull request;
2. a renamed-away or non-ASCII-named file under ``.github/`` is not seen as a change of the
   set-up, so the required check passes;
3. a manifest moved out of the manifests directory is neither planned on the pull request nor
   applied on merge;
4. the "last uploaded state" is any artifact of that name in the repository, from any run;
5. the "reviewed plan" run id is the first ``/actions/runs/N)`` anywhere in the comment,
   including text the pull request's manifests put there, and the adopted file may differ from
   the computed plan in what it does to the state (``renames``);
6. the state branch takes ordinary pushes from every developer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.planning.artifact import Plan
from tests.workflows import test_attacks
from tests.workflows.conftest import only
from tests.workflows.helpers import STATE_BRANCH, Repository
from tests.workflows.runner import WorkflowRun, git, load_fake_github, node_binary
from tests.workflows.test_attacks import SCHEDULES, World, _jobs, _log

# The fixture of test_attacks.py: a user's repository connected to a served emulator.
world = test_attacks.world

pytestmark = pytest.mark.skipif(
    node_binary() is None,
    reason="Node.js >= 18 not installed: the github-script steps cannot run",
)


def _pull_request(
    repo: Repository, branch: str, change: Callable[[Path], None], *, number: int = 7
) -> None:
    """A pull request from ``branch`` whose commit is whatever ``change`` does in the
    developer's clone (git mv, symbolic links: what open_pull_request's copies cannot make)."""
    repo.git("fetch", "-q", "origin", "main")
    repo.git("checkout", "-q", "-B", branch, "FETCH_HEAD")
    change(repo.dev)
    sha = repo.commit(f"Change on {branch}")
    repo.push_pull_request(branch, sha, number=number)


def _statuses(world: World) -> list[str]:
    return [s["state"] for s in load_fake_github(world.runner.github_db)["statuses"]]


def _name(path: Path) -> str:
    return str(YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))["name"])


# -- 1. a symbolic link as the manifests directory ----------------------------------------------


def test_symlinked_manifests_directory_is_not_read(world: World) -> None:
    """A pull request replaces `schedules/` by a symbolic link to a directory outside the
    repository (here one in the runner's home holding a manifest) and touches a plain setting
    (`timezone`) so that the environment is planned: the trusted jobs must refuse it as they
    refuse a symbolic link inside the directory, never copy the outside file into the planning
    workspace, never plan it with credentials, and the required check must fail."""
    outside = world.root / "home" / "outside"
    outside.mkdir(parents=True)
    canary = "Canary_read_from_outside"
    text = (SCHEDULES / "single.yaml").read_text(encoding="utf-8")
    (outside / "x.yaml").write_text(
        text.replace(_name(SCHEDULES / "single.yaml"), canary), encoding="utf-8"
    )

    def change(dev: Path) -> None:
        (dev / "schedules").symlink_to(outside, target_is_directory=True)
        (dev / "reconciler.yaml").write_text(world.config(timezone="UTC"), encoding="utf-8")

    _pull_request(world.repo, "evil-symlink", change)
    runs = world.repo.trigger_pull_request(world.runner)
    copied = [
        p
        for job in _jobs(runs)
        if job.workspace != Path()
        for p in (job.workspace / "plan-ws").rglob("x.yaml")
    ]
    assert copied == [], _log(runs)
    comments = [c["body"] for c in load_fake_github(world.runner.github_db)["comments"]]
    assert not any(canary in body for body in comments), comments
    assert [r.path for r in world.emulator.request_log] == [], _log(runs)
    assert _statuses(world) == ["failure"], _log(runs)


def test_symlinked_config_is_not_read(world: World) -> None:
    """A pull request (here from a fork) replaces `reconciler.yaml` by a symbolic link to a file
    of the runner that is not YAML: the trusted job must not read it (no line of it in any log,
    where a traceback of the YAML parser used to quote it), and the required check fails."""
    secret_line = 'TOKEN=runner-canary-41c7: "x'
    runner_file = world.root / "home" / "runner-file"
    runner_file.write_text(f"first: line\n{secret_line}\n\tmore\n", encoding="utf-8")

    def change(dev: Path) -> None:
        (dev / "reconciler.yaml").unlink()
        (dev / "reconciler.yaml").symlink_to(runner_file)
        _add_manifest(dev)

    world.repo.git("fetch", "-q", "origin", "main")
    world.repo.git("checkout", "-q", "-B", "fork-link", "FETCH_HEAD")
    change(world.repo.dev)
    sha = world.repo.commit("Link the config")
    world.repo.push_pull_request("fork-link", sha, fork=True)
    runs = world.repo.trigger_pull_request(world.runner)
    assert "runner-canary-41c7" not in _log(runs), _log(runs)
    assert _statuses(world) == ["failure"], _log(runs)


# -- 2. changes of the set-up the check does not see ---------------------------------------------


def _add_manifest(dev: Path) -> None:
    """A manifest change besides: the pull request looks like an ordinary one, and is planned."""
    (dev / "schedules").mkdir(exist_ok=True)
    (dev / "schedules/single.yaml").write_bytes((SCHEDULES / "single.yaml").read_bytes())


def test_renaming_a_workflow_away_is_a_change_of_the_set_up(world: World) -> None:
    """A pull request that moves `.github/workflows/drift.yml` out of `.github/` (git mv, the
    content unchanged) removes a workflow: like any change under `.github/` it must be
    validated only, and the required check must fail."""

    def change(dev: Path) -> None:
        _add_manifest(dev)
        (dev / "docs").mkdir(exist_ok=True)
        git("mv", ".github/workflows/drift.yml", "docs/drift.yml", cwd=dev, env=world.repo.env)

    _pull_request(world.repo, "drop-drift", change)
    runs = world.repo.trigger_pull_request(world.runner)
    assert _statuses(world) == ["failure"], _log(runs)


def test_workflow_with_a_non_ascii_name_is_a_change_of_the_set_up(world: World) -> None:
    """A pull request adding `.github/workflows/évil.yml` (git quotes non-ASCII paths in
    `git diff --name-only`) adds a workflow: it must be validated only, the check must fail."""

    def change(dev: Path) -> None:
        _add_manifest(dev)
        (dev / ".github/workflows/évil.yml").write_text(
            "on: workflow_dispatch\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - run: env\n",
            encoding="utf-8",
        )

    _pull_request(world.repo, "non-ascii", change)
    runs = world.repo.trigger_pull_request(world.runner)
    assert _statuses(world) == ["failure"], _log(runs)


# -- 3. a manifest moved out of the manifests directory ------------------------------------------


def test_manifest_moved_out_of_the_directory_is_planned_and_applied(world: World) -> None:
    """After all example schedules are applied, a pull request moves one manifest out of
    `schedules/` into `archive/` (git mv, content unchanged: git reports a rename). That removes
    a schedule: the pull request must be planned (its plan shows the deletion), and the merge's
    apply must plan the environment and delete the schedule."""
    world.repo.open_pull_request("add", {"schedules": SCHEDULES})
    first = world.runner.trigger(world.repo.merge("add"))
    assert len(world.emulator.schedules()) == 5, _log(first)
    gone = _name(SCHEDULES / "single.yaml")

    def change(dev: Path) -> None:
        (dev / "archive").mkdir()
        git("mv", "schedules/single.yaml", "archive/single.yaml", cwd=dev, env=world.repo.env)

    _pull_request(world.repo, "archive", change, number=8)
    pr_runs = world.repo.trigger_pull_request(world.runner, 8)
    planned = [job for job in _jobs(pr_runs) if job.job == "plan" and job.result != "skipped"]
    assert planned, f"the pull request removing {gone} was not planned: {_log(pr_runs)}"
    runs = world.runner.trigger(world.repo.merge("archive"))
    live = sorted(s["name"] for s in world.emulator.schedules())
    assert gone not in live, _log(runs)


# -- 4. the last uploaded state comes from any run ----------------------------------------------


def _plant_artifact(world: World, run_id: int, name: str, files: dict[str, str]) -> None:
    """What a developer's own workflow on a branch of theirs (or a fork's `pull_request`
    workflow) can do: upload an artifact of any name in a run of the repository."""
    folder = world.runner.artifacts / "runs" / str(run_id) / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    db = load_fake_github(world.runner.github_db)
    db.setdefault("artifacts", []).insert(
        0,
        {
            "id": 90000 + len(db["artifacts"]),
            "name": name,
            "workflow_run": {"id": run_id, "head_branch": "evil", "head_sha": "0" * 40},
        },
    )
    world.runner.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")


def test_state_artifact_of_another_workflow_does_not_block_applies(world: World) -> None:
    """A `state-default` artifact uploaded by a run that is not an apply (a developer's branch
    workflow) with a higher serial than the state branch's: the next apply must not take it for
    a lost state push (refusing every apply, and printing restore commands that would commit
    that file to `reconciler-state`); it applies the merged change."""
    world.repo.open_pull_request("add", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    first = world.runner.trigger(world.repo.merge("add"))
    assert len(world.emulator.schedules()) == 1, _log(first)
    committed = json.loads(
        git(
            "show",
            f"{STATE_BRANCH}:.reconciler/state.json",
            cwd=world.repo.remote,
            env=world.repo.env,
        )
    )
    forged = dict(committed, serial=committed["serial"] + 100, entries={})
    _plant_artifact(world, 9999, "state-default", {"state.json": json.dumps(forged)})
    world.repo.open_pull_request(
        "more", {"schedules/weekly.yaml": SCHEDULES / "weekly.yaml"}, number=8
    )
    runs = world.runner.trigger(world.repo.merge("more"))
    text = _log(runs)
    assert "9999" not in text, text
    assert len(world.emulator.schedules()) == 2, text


# -- 5. the reviewed plan's run id comes from the comment's text --------------------------------


def _plan_job_of(runs: list[WorkflowRun]) -> Any:
    return only(runs, "plan").job("plan", name="default")


def test_reviewed_plan_is_taken_only_from_the_plan_workflows_run(world: World) -> None:
    """A pull request's manifest carries `…/actions/runs/9999)` in its alert text, and run 9999
    (the author's own workflow) holds an artifact `plan-default`: the pull request's plan with a
    forged `renames` entry, checksum recomputed. On merge, the apply must use the plan of the
    pull request's plan run (or its own), never that artifact: the state after the apply has no
    entry renamed by it."""
    world.repo.open_pull_request("first", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    world.runner.trigger(world.repo.merge("first"))
    victim = _name(SCHEDULES / "single.yaml")
    weekly = world.root / "weekly.yaml"
    data = YAML(typ="safe", pure=True).load((SCHEDULES / "weekly.yaml").read_text("utf-8"))
    data["push"]["body"]["notification"]["alert"] = (
        "Digest: https://github.example/octo/schedules/actions/runs/9999) read it"
    )
    weekly.write_text(json.dumps(data), encoding="utf-8")
    world.repo.open_pull_request("more", {"schedules/weekly.yaml": weekly}, number=8)
    pr_runs = world.repo.trigger_pull_request(world.runner, 8)
    pr_plan_job = _plan_job_of(pr_runs)
    reviewed = Plan.from_json((pr_plan_job.workspace / "plan.json").read_text("utf-8"))
    forged = reviewed.model_copy(update={"renames": {"Ghost": victim}})
    forged = forged.model_copy(update={"checksum": forged.compute_checksum()})
    _plant_artifact(
        world, 9999, "plan-default", {"plan.json": forged.to_json(), "plan.md": "No changes.\n"}
    )
    runs = world.runner.trigger(world.repo.merge("more"))
    apply_plan = only(runs, "apply").job("plan", name="default")
    found = apply_plan.step("Find the plan reviewed in the pull request")
    assert found.outputs.get("reviewed-run") != "9999", _log(runs)
    state = json.loads(
        git(
            "show",
            f"{STATE_BRANCH}:.reconciler/state.json",
            cwd=world.repo.remote,
            env=world.repo.env,
        )
    )
    assert "Ghost" not in state["entries"], _log(runs)
    assert victim in state["entries"], _log(runs)


# -- 6. the state branch is writable by every developer -----------------------------------------


def test_developer_push_to_the_state_branch_cannot_aim_an_apply_at_a_foreign_task(
    world: World,
) -> None:
    """docs/github.md's threat model says a developer with write access cannot change the
    `reconciler-state` branch, but its set-up protects that branch against force pushes and
    deletion only. A developer pushes (an ordinary push) a state with one more entry,
    `Retired_campaign`, bound to the id of a task another team created in the console; the next
    ordinary merge's apply must not delete that foreign task (or the push must be refused)."""
    test_attacks._out_of_band(world, SCHEDULES / "weekly.yaml")
    foreign = next(
        s for s in world.emulator.schedules() if s["name"] == _name(SCHEDULES / "weekly.yaml")
    )
    ours = {
        f"schedules/{p.name}": p
        for p in sorted(SCHEDULES.glob("*.yaml"))
        if p.name != "weekly.yaml"
    }
    world.repo.open_pull_request("add", ours)
    first = world.runner.trigger(world.repo.merge("add"))
    assert len(world.emulator.schedules()) == len(ours) + 1, _log(first)

    dev, env = world.repo, {**world.repo.env, "HARNESS_ACTOR": "developer"}
    dev.git("fetch", "-q", "origin", STATE_BRANCH)
    dev.git("checkout", "-q", "-B", "tamper", "FETCH_HEAD")
    path = dev.dev / ".reconciler/state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    entry = dict(next(iter(state["entries"].values())), schedule_id=foreign["schedule_id"])
    state["entries"]["Retired_campaign"] = entry
    state["serial"] += 1
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    dev.git("add", "-f", ".reconciler/state.json")
    dev.git("commit", "-q", "-m", "reconciler: state")
    try:
        git("push", "-q", "origin", f"HEAD:refs/heads/{STATE_BRANCH}", cwd=dev.dev, env=env)
    except RuntimeError:
        return  # refused: the branch is protected as the threat model says
    finally:
        dev.git("checkout", "-q", "-f", "main")

    edited = world.root / "single.yaml"
    edited.write_text(test_attacks._edit_alert(SCHEDULES / "single.yaml"), encoding="utf-8")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    runs = world.runner.trigger(world.repo.merge("edit"))
    live = {s["schedule_id"] for s in world.emulator.schedules()}
    assert foreign["schedule_id"] in live, _log(runs)
