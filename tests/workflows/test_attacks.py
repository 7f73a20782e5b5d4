"""The GitHub set-up under attack and under accident: one test (or two) per way it used to fail.

Each test plays what a pull request author, a second merge, a refused push or an expired secret
does, through the harness of runner.py (events, environments and their secrets, job tokens, the
protected default branch), and checks that the outcome is now impossible:

1. credentials reach only the default branch's tool and settings;
2. the reviewer approves the plan that is applied;
3. a lost state push stops the next apply;
4. one apply run reads one commit, and a missing state file fails it;
5. no step running installed code holds a write token, and installs are hash-pinned;
6. a pull request that was not planned cannot pass the required check;
7. open pull requests are planned again when main moves, and only changed environments;
8. a failing drift check opens an issue, and dispatch acts only from the default branch;
9. a plan with only a conflict left is not clean: the pull request is told.
10. overlays are planned as manifests are, and confined to the repository; a pull request is
    planned against the default branch (again when its base changes); an environment named
    like a plan environment, a removed environment, a committed state file and a control
    character in a file name never pass unseen.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator
from reconciler.emulator.faults import Faults
from reconciler.testing import serve_emulator
from tests.workflows.conftest import only
from tests.workflows.helpers import (
    NOW,
    PROJECT,
    REPOSITORY,
    STATE_BRANCH,
    UNRELATED_SECRET,
    Listener,
    Repository,
    base_env,
    environments_for,
    make_runner,
    refuse_pushes,
    user_files,
)
from tests.workflows.runner import Event, Runner, WorkflowRun, git, load_fake_github, node_binary

pytestmark = pytest.mark.skipif(
    node_binary() is None,
    reason="Node.js >= 18 not installed: the github-script steps cannot run",
)

SCHEDULES = PROJECT / "schedules"


def _name(path: Path) -> str:
    return str(YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))["name"])


@dataclass
class World:
    """A user's repository connected (by main's reconciler.yaml) to a served emulator."""

    root: Path
    emulator: Emulator
    url: str
    repo: Repository
    runner: Runner

    def config(self, **settings: str) -> str:
        lines = [f"    {key}: {value}" for key, value in {"endpoint": self.url, **settings}.items()]
        return "environments:\n  default:\n" + "\n".join(lines) + "\n"

    def runs(self) -> list[WorkflowRun]:
        return self.runner.runs

    def github(self) -> dict[str, Any]:
        return load_fake_github(self.runner.github_db)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    emulator = Emulator(clock=lambda: NOW)
    with serve_emulator(emulator) as url:
        env = base_env(tmp_path, None)  # the live app comes from main's reconciler.yaml
        # commit-state.sh waits between push attempts; a no-op sleep keeps the test fast.
        fast = tmp_path / "fast-sleep"
        fast.mkdir()
        (fast / "sleep").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        (fast / "sleep").chmod(0o755)
        env["PATH"] = f"{fast}:{env['PATH']}"
        repo = Repository(tmp_path, env)
        runner = make_runner(tmp_path, repo.remote, env, use_node=True)
        repo.register(runner)
        w = World(tmp_path, emulator, url, repo, runner)
        repo.commit_to_main({"reconciler.yaml": w.config()}, "Connect the app")
        yield w


def _jobs(runs: list[WorkflowRun]) -> list[Any]:
    return [job for run in runs for job in run.jobs]


def _log(runs: list[WorkflowRun]) -> str:
    return "".join(run.log() for run in runs)


# -- 1. credentials reach only the default branch's tool and settings ---------------------------


def test_pr_pointing_endpoint_at_a_listener_sends_it_nothing(world: World) -> None:
    """A pull request that changes `endpoint:` to a loopback listener of its author's: the
    listener receives no request at all (so no Authorization header, no secret), and the pull
    request is told a maintainer must review it (gate failed)."""
    with Listener() as listener:
        config = _text(world, world.config(endpoint=listener.url))
        world.repo.open_pull_request(
            "evil-endpoint", {"schedules": SCHEDULES, "reconciler.yaml": config}
        )
        runs = world.repo.trigger_pull_request(world.runner)
        assert listener.credentials_seen() == [], _log(runs)
        assert listener.requests == [], _log(runs)
    statuses = world.github()["statuses"]
    assert [s["state"] for s in statuses] == ["failure"], _log(runs)
    comments = [c["body"] for c in world.github()["comments"]]
    assert any("a maintainer must review" in body and "endpoint" in body for body in comments)


def test_pr_changing_master_secret_env_reads_no_other_secret(world: World) -> None:
    """A pull request setting `master_secret_env: DEPLOY_KEY` (another repository secret): no
    step of any run it starts has that secret in its environment, nor the Master Secret."""
    world.repo.open_pull_request(
        "evil-secret-name",
        {
            "schedules": SCHEDULES,
            "reconciler.yaml": _text(world, world.config(master_secret_env="DEPLOY_KEY")),
        },
    )
    runs = world.repo.trigger_pull_request(world.runner)
    exposed = {
        (job.job, step.name, name)
        for job in _jobs(runs)
        for step in job.steps
        for name in step.secrets
        if "DEPLOY_KEY" in name or "MASTER_SECRET" in name
    }
    assert exposed == set(), _log(runs)
    assert UNRELATED_SECRET not in _log(runs)


def test_pr_changing_the_workflow_scripts_gets_no_credentials(world: World) -> None:
    """A pull request that rewrites every script under .github/scripts to dump its environment
    into a file: nothing it changed runs with a credential (no dump holds the Master Secret)."""
    leak = world.root / "home" / "leaked"
    files: dict[str, Path] = {"schedules": SCHEDULES}
    for name in user_files():
        path = world.root / "evil" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (PROJECT / name).read_text(encoding="utf-8")
        if name.endswith(".sh"):
            lines = text.splitlines(keepends=True)
            text = lines[0] + f'printenv >> "{leak}" || true\n' + "".join(lines[1:])
        elif name.endswith(".py"):
            payload = f"import os as _o\nopen({str(leak)!r}, 'a').write(repr(dict(_o.environ)))\n"
            anchor = "from __future__ import annotations\n"
            text = text.replace(anchor, anchor + payload, 1) if anchor in text else payload + text
        else:
            continue
        path.write_text(text, encoding="utf-8")
        files[name] = path
    world.repo.open_pull_request("evil-scripts", files)
    runs = world.repo.trigger_pull_request(world.runner)
    dumped = leak.read_text(encoding="utf-8") if leak.exists() else ""
    assert DEMO_MASTER_SECRET not in dumped, _log(runs)
    assert DEMO_APP_KEY not in dumped


def _text(world: World, content: str) -> Path:
    """``content`` in a file of the test's directory (open_pull_request copies files)."""
    path = world.root / f"pr-file-{len(list(world.root.glob('pr-file-*')))}.yaml"
    path.write_text(content, encoding="utf-8")
    return path


# -- 2. the reviewer approves the plan that is applied --------------------------------------


def test_apply_applies_the_plan_the_approver_saw(world: World) -> None:
    """The reviewer of the protected environment sees, before approving, a plan naming exactly
    the merged change; a second merge landing while the approval waits is not applied with it:
    the live app holds exactly what that plan showed."""
    first, second = SCHEDULES / "single.yaml", SCHEDULES / "weekly.yaml"
    world.repo.open_pull_request("one", {"schedules/single.yaml": first})
    push = world.repo.merge("one")
    seen: list[dict[str, Any]] = []

    def approve(view: dict[str, Any]) -> bool:
        if not seen:  # meanwhile, another change is merged
            world.repo.commit_to_main({"schedules/weekly.yaml": second}, "Another change")
        seen.append(view)
        return True

    world.runner.approver = approve
    runs = world.runner.trigger(push)
    assert seen, f"no approval was asked: {_log(runs)}"
    shown = "\n".join(seen[0]["summaries"].values())
    assert _name(first) in shown, _log(runs)
    assert "1 to create" in shown
    assert _name(second) not in shown
    live = sorted(s["name"] for s in world.emulator.schedules())
    assert live == [_name(first)], _log(runs)


def test_merge_applies_the_pull_requests_own_plan_file(world: World) -> None:
    """When nothing moved between the pull request's plan and the merge, the file applied is
    the pull request's reviewed plan itself, and the approver is told so."""
    world.repo.open_pull_request("first", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    world.runner.trigger(world.repo.merge("first"))  # the state exists from now on
    world.repo.open_pull_request("add", {"schedules": SCHEDULES}, number=8)
    pr_runs = world.repo.trigger_pull_request(world.runner, 8)
    reviewed = only(pr_runs, "plan").job("plan", name="default").workspace / "plan.json"
    seen: list[dict[str, Any]] = []
    world.runner.approver = lambda view: seen.append(view) is None
    runs = world.runner.trigger(world.repo.merge("add"))
    applied = (
        only(runs, "apply").job("apply", name="default").workspace / "reviewed-plan" / "plan.json"
    )
    assert applied.read_bytes() == reviewed.read_bytes(), _log(runs)
    assert "reviewed in pull request #8, unchanged" in "\n".join(seen[-1]["summaries"].values())
    assert len(world.emulator.schedules()) == 5


# -- 3. a lost state push stops the next apply -----------------------------------------------


def test_apply_after_a_refused_state_push_stops_with_the_restore_command(world: World) -> None:
    """The state push of an apply is refused; the next merge's apply does not start from the
    old state: it fails before any write, saying how to restore the state."""
    refuse_pushes(world.repo.remote, f"refs/heads/{STATE_BRANCH}", "refs/heads/main")
    world.repo.open_pull_request("add", {"schedules": SCHEDULES})
    first = world.runner.trigger(world.repo.merge("add"))
    assert len(world.emulator.schedules()) == 5, _log(first)
    refuse_pushes(world.repo.remote)
    edited = world.root / "single.yaml"
    edited.write_text(_edit_alert(SCHEDULES / "single.yaml"), encoding="utf-8")
    world.repo.open_pull_request("edit", {"schedules/single.yaml": edited}, number=8)
    before = len(world.emulator.request_log)
    second = world.runner.trigger(world.repo.merge("edit"))
    failed = [job for job in _jobs(second) if job.result == "failure"]
    assert failed, f"the apply after a lost state push passed: {_log(second)}"
    text = _log(second)
    assert "state push was lost" in text
    assert "gh run download" in text
    assert STATE_BRANCH in text
    writes = [r for r in world.emulator.request_log[before:] if r.method != "GET"]
    assert writes == []


def _edit_alert(path: Path) -> str:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    data["push"]["body"]["notification"]["alert"] = "Edited after the lost push"
    return json.dumps(data)


# -- 4. one apply run reads one commit; a missing state file fails -----------------------------


def test_apply_run_keeps_the_state_of_the_commit_it_applies(world: World) -> None:
    """Merge 1 adds schedules; before its apply runs, merge 2 moves `state:`. The apply of
    merge 1 either fails or leaves a committed state file recording every live schedule."""
    world.repo.open_pull_request("add", {"schedules": SCHEDULES})
    push = world.repo.merge("add")
    world.repo.commit_to_main(
        {"reconciler.yaml": world.config(state=".reconciler/moved.json")}, "Move the state"
    )
    runs = world.runner.trigger(push)
    live = {s["schedule_id"] for s in world.emulator.schedules()}
    failed = any(job.result == "failure" for job in _jobs(runs))
    recorded: set[str] = set()
    remote, env = world.repo.remote, world.repo.env
    for branch in ("main", STATE_BRANCH):
        for path in git("ls-tree", "-r", "--name-only", branch, cwd=remote, env=env).split():
            if path.endswith(".json") and path.startswith(".reconciler"):
                state = json.loads(git("show", f"{branch}:{path}", cwd=remote, env=env))
                recorded |= {e["schedule_id"] for e in state.get("entries", {}).values()}
    assert live, _log(runs)
    assert failed or live <= recorded, f"live tasks {live} recorded nowhere: {_log(runs)}"


def test_state_commit_without_a_state_file_fails(tmp_path: Path) -> None:
    """commit-state.sh after an apply that left no state file exits 1 with an error
    annotation, instead of reporting success."""
    branch_dir = tmp_path / "branch"
    subprocess.run(["git", "init", "-q", str(branch_dir)], check=True)
    done = subprocess.run(
        [
            "bash",
            str(PROJECT / ".github/scripts/commit-state.sh"),
            ".reconciler/state.json",
            "default",
            str(branch_dir),
            STATE_BRANCH,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "GH_TOKEN": "t", "GITHUB_REF_NAME": "main"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "::error" in done.stdout
    assert "no state file" in done.stdout


# -- 5. no step running installed code holds a write token; hashed installs -----------------


def test_only_the_committing_step_can_reach_a_write_token(world: World) -> None:
    """Through a pull request, its merge and the apply: no step but the one committing the
    state could read a token allowed to write contents (not in its environment, not persisted
    in a .git/config of the workspace)."""
    world.repo.open_pull_request("add", {"schedules": SCHEDULES})
    runs = world.repo.trigger_pull_request(world.runner)
    runs += world.runner.trigger(world.repo.merge("add"))
    tokens = json.loads(world.runner.tokens_file.read_text(encoding="utf-8"))
    writers = {t for t, perms in tokens.items() if (perms or {}).get("contents") == "write"}
    reach = sorted(
        {
            (job.job, step.name)
            for job in _jobs(runs)
            for step in job.steps
            if writers & set(step.tokens) and "Commit the state" not in step.name
        }
    )
    assert reach == [], _log(runs)
    assert len(world.emulator.schedules()) == 5, _log(runs)


def test_every_install_is_pinned_by_hashes() -> None:
    """Every `pip install` of the workflows and the action installs from the hashed lock
    (--require-hashes) or, for the tool itself, without dependencies and from no index."""
    texts = [p.read_text(encoding="utf-8") for p in (PROJECT / ".github/workflows").glob("*.yml")]
    action = PROJECT / "action.yml"
    texts += [action.read_text(encoding="utf-8")] if action.exists() else []
    installs = [
        line
        for text in texts
        for line in text.replace("\\\n", " ").splitlines()
        if "pip install" in line
    ]
    assert installs
    for line in installs:
        assert "--require-hashes" in line or ("--no-deps" in line and "--no-index" in line), line
    lock = PROJECT / "requirements" / "runtime.txt"
    packages = [ln for ln in lock.read_text().splitlines() if "==" in ln]
    assert packages
    assert all(ln.rstrip().endswith("\\") for ln in packages)  # hashes follow each pin


def _python_commands() -> list[str]:
    """Every line of the workflows and the action that starts Python."""
    texts = [p.read_text(encoding="utf-8") for p in (PROJECT / ".github/workflows").glob("*.yml")]
    texts.append((PROJECT / "action.yml").read_text(encoding="utf-8"))
    return [
        line.strip()
        for text in texts
        for line in text.replace("\\\n", " ").splitlines()
        if re.search(r"(^|[\s:|;&(])python3?\s", line) and not line.strip().startswith("#")
    ]


def test_no_python_of_the_workflows_imports_from_the_repository(tmp_path: Path) -> None:
    """The steps run in the user's repository, a merged pull request's files included. `python
    -m MODULE` puts the working directory first on the module path: a pip.py there ran in place
    of pip in the jobs that hold the credentials. Every `python -m` of the workflows and the
    action runs with -P; a script (`python FILE`) gets its own directory, the action's."""
    commands = _python_commands()
    assert any("-m pip install" in c for c in commands), commands
    for command in commands:
        module = re.search(r"python3?((?:\s+-[A-Za-z]+)*)\s+-m\s", command)
        if module is not None:
            assert "-P" in module.group(1).split(), command
        else:
            assert re.search(r'python3?\s+"\$ACTION_PATH/', command), command
    # What -P stops, on this interpreter: a pip.py in the working directory.
    (tmp_path / "pip.py").write_text("print('not pip')\n", encoding="utf-8")
    shadowed = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert shadowed.stdout.strip() == "not pip"
    safe = subprocess.run(
        [sys.executable, "-P", "-m", "pip", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert safe.stdout.startswith("pip "), safe.stdout + safe.stderr


# -- 6. a pull request that was not planned cannot pass the required check -----------------


def test_fork_pull_request_fails_the_required_check(world: World) -> None:
    """A fork's pull request is validated but not planned, and the required check fails."""
    world.repo.open_pull_request("fork-change", {"schedules": SCHEDULES}, fork=True)
    runs = world.repo.trigger_pull_request(world.runner)
    assert any(job.result == "failure" for job in _jobs(runs)), _log(runs)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    assert world.emulator.request_log == []


# -- 7. re-planned when main moves; only changed environments ---------------------------------


def _two_environments(world: World) -> None:
    config = (
        "environments:\n"
        f"  staging:\n    endpoint: {world.url}\n    manifests: schedules/staging\n"
        f"  production:\n    endpoint: {world.url}\n    manifests: schedules/production\n"
    )
    world.runner.environments = environments_for("staging", "production")
    world.repo.commit_to_main(
        {
            "reconciler.yaml": config,
            "schedules/staging/single.yaml": SCHEDULES / "single.yaml",
            "schedules/production/weekly.yaml": SCHEDULES / "weekly.yaml",
        },
        "Two environments",
    )


def test_only_environments_the_pull_request_changes_are_planned(world: World) -> None:
    """A pull request touching staging's manifests only plans staging."""
    _two_environments(world)
    edited = world.root / "monthly.yaml"
    edited.write_bytes((SCHEDULES / "monthly.yaml").read_bytes())
    world.repo.open_pull_request("staging-only", {"schedules/staging/monthly.yaml": edited})
    runs = world.repo.trigger_pull_request(world.runner)
    planned = sorted(
        job.matrix["name"] for job in _jobs(runs) if job.job == "plan" and job.result != "skipped"
    )
    assert planned == ["staging"], _log(runs)


def test_open_pull_requests_are_planned_again_when_main_moves(world: World) -> None:
    """A merge to main marks every open pull request's plan pending and plans it again."""
    world.repo.open_pull_request("open-one", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    world.repo.trigger_pull_request(world.runner)
    world.repo.git("checkout", "-q", "main")
    world.repo.open_pull_request(
        "merged-one", {"schedules/weekly.yaml": SCHEDULES / "weekly.yaml"}, number=8
    )
    runs = world.runner.trigger(world.repo.merge("merged-one"))
    dispatches = world.github()["dispatches"]
    head = world.repo.pulls[7]["head"]["sha"]
    # The head commit too: the re-plan run is named for it, which is how the apply finds it.
    assert [d["inputs"] for d in dispatches] == [{"pr": "7", "head-sha": head}], _log(runs)
    pending = [s for s in world.github()["statuses"] if s["state"] == "pending"]
    assert [s["sha"] for s in pending] == [head]
    replan = only(world.runner.trigger(world.repo.dispatch(pr="7", **{"head-sha": head})), "plan")
    assert replan.job("plan", name="default").result == "success", replan.log()
    assert world.github()["statuses"][-1]["state"] == "success"


def _live(world: World) -> list[str]:
    return sorted(s["name"] for s in world.emulator.schedules())


def test_a_re_run_of_an_old_apply_run_is_refused(world: World) -> None:
    """ "Re-run all jobs" of the apply run of merge 1, after merge 2 was applied, checks out
    merge 1: planning it would delete merge 2's schedule, which main still declares. The run
    stops before any plan, saying why; the app keeps both schedules."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    first = world.repo.merge("one")
    world.runner.trigger(first)
    world.repo.open_pull_request(
        "two", {"schedules/weekly.yaml": SCHEDULES / "weekly.yaml"}, number=8
    )
    world.runner.trigger(world.repo.merge("two"))
    both = sorted([_name(SCHEDULES / "single.yaml"), _name(SCHEDULES / "weekly.yaml")])
    assert _live(world) == both
    seen: list[Any] = []
    world.runner.approver = lambda view: seen.append(view) is None
    runs = world.runner.trigger(first)
    apply_run = only(runs, "apply")
    assert apply_run.job("prepare").result == "failure", apply_run.log()
    assert "applying an older commit would roll the app back" in apply_run.log()
    assert [j.result for j in apply_run.jobs if j.job in ("plan", "apply")] in ([], ["skipped"] * 2)
    assert seen == []
    assert _live(world) == both


def test_after_an_unfinished_apply_a_revert_is_applied(world: World) -> None:
    """Merge 2 adds two schedules and its apply fails half way (the server refuses some
    creates); a revert of merge 2 then changes no file since the last finished apply, yet the
    schedules the failed run created are live: the environment is planned again and the
    revert deletes them."""
    world.repo.open_pull_request("one", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    world.runner.trigger(world.repo.merge("one"))
    added = {"schedules/weekly.yaml": SCHEDULES / "weekly.yaml",
             "schedules/periodical.yaml": SCHEDULES / "periodical.yaml"}  # fmt: skip
    world.repo.open_pull_request("two", added, number=8)
    world.emulator.faults = Faults(no_target_rate=0.5, seed=1)
    failed = world.runner.trigger(world.repo.merge("two"))
    world.emulator.faults = Faults()
    assert only(failed, "apply").job("apply", name="default").result == "failure"
    assert len(_live(world)) == 2, _log(failed)  # one of the two was created
    world.repo.git("fetch", "-q", "origin", "main")
    world.repo.git("checkout", "-q", "-B", "main", "FETCH_HEAD")
    world.repo.git("rm", "-q", *added)
    sha = world.repo.commit("Revert two")
    world.repo.git("push", "-q", "origin", "main")
    revert = Event("push", "main", sha, {"before": "", "after": sha,
                   "repository": {"full_name": REPOSITORY, "default_branch": "main"}})  # fmt: skip
    runs = world.runner.trigger(revert)
    assert only(runs, "apply").job("apply", name="default").result == "success", _log(runs)
    assert _live(world) == [_name(SCHEDULES / "single.yaml")]


# -- 8. drift: failures open an issue; dispatch only from the default branch ----------------


def test_failing_drift_check_opens_an_issue(world: World) -> None:
    """With the credentials gone (an expired secret), the drift run fails and opens one
    "drift check failing" issue; a second failing run updates it instead of opening another."""
    world.runner.secrets = {}
    for conf in world.runner.environments.values():
        conf["secrets"] = {}
    for _ in range(2):
        runs = world.runner.trigger(world.repo.schedule_event())
    issues = [i for i in world.github()["issues"] if i["state"] == "open"]
    assert [i["title"] for i in issues] == ["Drift check failing in default"], _log(runs)
    assert any(job.result == "failure" for job in _jobs(runs))


def test_drift_run_whose_first_job_fails_opens_its_own_issue(world: World) -> None:
    """An invalid reconciler.yaml on the default branch fails the first job: no environment is
    checked, so no environment's job reports. The run opens one "drift run failing" issue, and
    the next run that gets past its first job closes it."""
    good = (world.repo.dev / "reconciler.yaml").read_text("utf-8")
    world.repo.commit_to_main({"reconciler.yaml": "environments: [\n"}, "Break the config")
    for _ in range(2):
        runs = world.runner.trigger(world.repo.schedule_event())
    assert any(job.result == "failure" for job in _jobs(runs)), _log(runs)
    issues = [i for i in world.github()["issues"] if i["state"] == "open"]
    assert [i["title"] for i in issues] == ["Drift run failing"], _log(runs)
    world.repo.commit_to_main({"reconciler.yaml": good}, "Repair the config")
    runs = world.runner.trigger(world.repo.schedule_event())
    titles = [i["title"] for i in world.github()["issues"] if i["state"] == "open"]
    assert "Drift run failing" not in titles, _log(runs)
    assert titles == ["Drift check failing in default"], "(the app has no manifests yet)"


def test_drift_dispatched_from_another_branch_does_nothing(world: World) -> None:
    """workflow_dispatch of drift.yml on a feature branch runs no check and touches no issue,
    although the app has drifted."""
    _out_of_band(world, SCHEDULES / "weekly.yaml")
    start = len(world.emulator.request_log)
    world.repo.open_pull_request("feature", {"schedules": SCHEDULES})
    runs = world.runner.trigger(world.repo.dispatch("feature"))
    assert [job.job for job in _jobs(runs) if job.result != "skipped"] == [], _log(runs)
    assert world.github()["issues"] == []
    assert world.emulator.request_log[start:] == []


def _out_of_band(world: World, manifest: Path) -> None:
    """Create the manifest's schedule in the app by other means (the console)."""
    import httpx

    body = YAML(typ="safe", pure=True).load(manifest.read_text("utf-8"))
    body.pop("lifecycle", None)
    with httpx.Client(base_url=world.url, auth=(DEMO_APP_KEY, DEMO_MASTER_SECRET)) as client:
        answer = client.post("/v4/schedules", json=body)
        assert answer.status_code == 200, answer.text


# -- 9. a conflict is not clean -----------------------------------------------------------------


def test_plan_with_only_a_conflict_is_posted(world: World) -> None:
    """The app already has an unmanaged task named like the pull request's manifest: nothing
    to apply, but the app does not match; the plan comment is posted and names the conflict."""
    _out_of_band(world, SCHEDULES / "single.yaml")
    world.repo.open_pull_request("conflict", {"schedules/single.yaml": SCHEDULES / "single.yaml"})
    runs = world.repo.trigger_pull_request(world.runner)
    comments = [c["body"] for c in world.github()["comments"]]
    assert any("conflict" in c.lower() for c in comments), _log(runs)


# -- 10. overlays, the base branch and what else a pull request may not change unseen ----------

PATCH_QA = '"*":\n  push:\n    body:\n      notification:\n        alert: "[QA] hello"\n'
PATCH_ALL = '"*":\n  push:\n    body:\n      notification:\n        alert: "EVERYONE"\n'


def _with_overlay(world: World) -> Event:
    """main's default environment patched by the overlay overlays/default, one schedule."""
    return world.repo.commit_to_main(
        {
            "reconciler.yaml": world.config(overlay="overlays/default"),
            "overlays/default/patches.yaml": PATCH_QA,
            "schedules/single.yaml": SCHEDULES / "single.yaml",
        },
        "An overlay",
    )


def _planned(runs: list[WorkflowRun]) -> list[str]:
    return sorted(
        j.matrix["name"] for j in _jobs(runs) if j.job == "plan" and j.result != "skipped"
    )


def _alerts(world: World) -> list[str]:
    return [s["push"]["body"]["notification"]["alert"] for s in world.emulator.schedules()]


def test_pr_in_a_repository_with_an_overlay_is_planned_with_it(world: World) -> None:
    """A repository whose environment has an overlay: a pull request adding a schedule is
    validated and planned with the overlay's patches (not refused for a missing overlay)."""
    _with_overlay(world)
    world.repo.open_pull_request("add", {"schedules/weekly.yaml": SCHEDULES / "weekly.yaml"})
    runs = world.repo.trigger_pull_request(world.runner)
    assert [s["state"] for s in world.github()["statuses"]] == ["success"], _log(runs)
    plan = only(runs, "plan").job("plan", name="default")
    assert plan.result == "success", _log(runs)
    assert "[QA] hello" in (plan.workspace / "plan.json").read_text(encoding="utf-8")


def test_pr_changing_only_an_overlay_is_planned_and_applied_at_merge(world: World) -> None:
    """A pull request that changes nothing but the overlay's patches is planned (the change is
    shown), and its merge plans and applies it: it does not wait, unseen, for the next merge."""
    world.runner.trigger(_with_overlay(world))
    assert _alerts(world) == ["[QA] hello"]
    patch = world.root / "patches.yaml"
    patch.write_text(PATCH_ALL, encoding="utf-8")
    world.repo.open_pull_request("overlay-only", {"overlays/default/patches.yaml": patch})
    runs = world.repo.trigger_pull_request(world.runner)
    assert _planned(runs) == ["default"], _log(runs)
    assert [s["state"] for s in world.github()["statuses"]] == ["success"], _log(runs)
    assert any("EVERYONE" in c["body"] for c in world.github()["comments"]), _log(runs)
    seen: list[dict[str, Any]] = []
    world.runner.approver = lambda view: seen.append(view) is None
    runs = world.runner.trigger(world.repo.merge("overlay-only"))
    assert only(runs, "apply").job("apply", name="default").result == "success", _log(runs)
    assert "EVERYONE" in "\n".join(seen[0]["summaries"].values())
    assert _alerts(world) == ["EVERYONE"]


def test_a_merge_changing_only_an_overlay_is_applied(world: World) -> None:
    """A commit on main whose only change is in the overlay (a maintainer's merge): the apply
    plans the environment again and applies it, although no manifest changed."""
    world.runner.trigger(_with_overlay(world))
    runs = world.runner.trigger(
        world.repo.commit_to_main({"overlays/default/patches.yaml": PATCH_ALL}, "Patch")
    )
    assert only(runs, "apply").job("apply", name="default").result == "success", _log(runs)
    assert _alerts(world) == ["EVERYONE"]


@pytest.mark.parametrize("where", ["../pr/ov", "ABSOLUTE", "~/ov"])
def test_pr_pointing_the_overlay_out_of_the_repository_is_not_planned(
    world: World, where: str
) -> None:
    """A pull request setting `overlay:` to its own checkout (`../pr/ov`, read unvetted by
    the trusted job), an absolute path or one under `~`: validated only, nothing requested."""
    outside = world.root / "ov" if where == "ABSOLUTE" else world.root / "home" / "ov"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "p.yaml").write_text(PATCH_ALL, encoding="utf-8")
    overlay = str(outside) if where == "ABSOLUTE" else where
    patch = _text(world, PATCH_ALL)
    files = {
        "reconciler.yaml": _text(world, world.config(overlay=overlay)),
        "ov/p.yaml": patch,
        "schedules/single.yaml": SCHEDULES / "single.yaml",
    }
    world.repo.open_pull_request("overlay-out", files)
    runs = world.repo.trigger_pull_request(world.runner)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    assert _planned(runs) == [], _log(runs)
    assert world.emulator.request_log == [], _log(runs)
    comments = [c["body"] for c in world.github()["comments"]]
    assert any("a maintainer must review" in c and "overlay" in c for c in comments)


def _push_branch(world: World, branch: str, start: str, files: dict[str, Path]) -> str:
    """A developer's branch ``branch`` from ``start`` with ``files`` added; its commit."""
    repo = world.repo
    repo.git("fetch", "-q", "origin", start)
    repo.git("checkout", "-q", "-B", branch, "FETCH_HEAD")
    for target, source in files.items():
        (repo.dev / target).parent.mkdir(parents=True, exist_ok=True)
        (repo.dev / target).write_bytes(source.read_bytes())
        repo.git("add", "-f", target)  # also what .gitignore leaves out (.reconciler/)
    sha = repo.commit(f"Add {', '.join(files)}")
    git("push", "-q", "origin", f"{branch}:{branch}", cwd=repo.dev,
        env={**repo.env, "HARNESS_ACTOR": "developer"})  # fmt: skip
    repo.git("checkout", "-q", "main")
    return sha


def test_pr_retargeted_to_the_default_branch_is_planned_again(world: World) -> None:
    """A writer puts a production change on branch foo, opens a pull request against foo that
    touches staging only, then changes its base to main. Against foo it is not planned with
    credentials; once retargeted it is planned again, against main: production too. An edit of
    the title alone plans nothing."""
    _two_environments(world)
    production = {"schedules/production/monthly.yaml": SCHEDULES / "monthly.yaml"}
    staging = {"schedules/staging/periodical.yaml": SCHEDULES / "periodical.yaml"}
    _push_branch(world, "foo", "main", production)
    sha = _push_branch(world, "bar", "foo", staging)
    world.repo.push_pull_request("bar", sha)
    pull = world.repo.pulls[7]
    pull["base"] = {**pull["base"], "ref": "foo", "sha": world.repo.remote_tip("foo")}
    runs = world.repo.trigger_pull_request(world.runner, action="opened")
    assert _planned(runs) == [], _log(runs)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    assert any("not the default branch" in c["body"] for c in world.github()["comments"])
    pull["base"] = {**pull["base"], "ref": "main", "sha": world.repo.remote_tip()}
    changes = {"base": {"ref": {"from": "foo"}, "sha": {"from": world.repo.remote_tip("foo")}}}
    runs = world.repo.trigger_pull_request(world.runner, action="edited", changes=changes)
    assert _planned(runs) == ["production", "staging"], _log(runs)
    statuses = world.github()["statuses"]
    assert [s["state"] for s in statuses] == ["failure", "success"], _log(runs)
    title = {"title": {"from": "Add it"}}
    runs = world.repo.trigger_pull_request(world.runner, action="edited", changes=title)
    assert [j.job for j in _jobs(runs) if j.result != "skipped"] == [], _log(runs)
    assert len(world.github()["statuses"]) == 2


def test_an_environment_named_like_a_plan_environment_is_refused(world: World) -> None:
    """A reconciler environment `production-plan` would apply in the GitHub environment
    `production-plan` (no reviewers, production's credentials): the apply refuses it before
    any job gets an environment, and nothing is applied unapproved."""
    config = f"environments:\n  production-plan:\n    endpoint: {world.url}\n"
    world.runner.environments = environments_for("production")
    push = world.repo.commit_to_main(
        {"reconciler.yaml": config, "schedules/single.yaml": SCHEDULES / "single.yaml"}, "Plan"
    )
    runs = world.runner.trigger(push)
    apply_run = only(runs, "apply")
    assert apply_run.job("prepare").result == "failure", _log(runs)
    assert "ending in '-plan'" in _log(runs)
    assert world.emulator.schedules() == []
    assert world.runner.approvals == []


def test_pr_removing_an_environment_is_not_planned(world: World) -> None:
    """A pull request dropping production from reconciler.yaml would stop its applies and its
    drift checks unseen: validated only, and the comment says what it removes."""
    _two_environments(world)
    config = (
        f"environments:\n  staging:\n    endpoint: {world.url}\n    manifests: schedules/staging\n"
    )
    world.repo.open_pull_request("drop", {"reconciler.yaml": _text(world, config)})
    runs = world.repo.trigger_pull_request(world.runner)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    comments = [c["body"] for c in world.github()["comments"]]
    assert any("removes the environment 'production'" in c for c in comments), _log(runs)


@pytest.mark.parametrize("state", ["", "states/default.json"])
def test_pr_adding_a_state_file_is_not_planned(world: World, state: str) -> None:
    """A state committed on the default branch is what an apply starts from while the state
    branch has none: a pull request adding one (at `.reconciler/` or where `state:` says) is
    validated only."""
    path = ".reconciler/state.json"
    if state:
        world.repo.commit_to_main({"reconciler.yaml": world.config(state=state)}, "State path")
        path = state
    forged = _text(world, '{"version": 1, "serial": 9, "entries": {}}')
    files = {path: forged, "schedules/single.yaml": SCHEDULES / "single.yaml"}
    world.repo.push_pull_request("state", _push_branch(world, "state", "main", files))
    runs = world.repo.trigger_pull_request(world.runner)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    assert _planned(runs) == [], _log(runs)
    shown = re.sub(r"([\\`*_{}\[\]()#+\-.!|~@:])", r"\\\1", path)  # escapeMarkdown's
    assert any(shown in c["body"] for c in world.github()["comments"]), _log(runs)


def test_a_file_name_with_a_carriage_return_runs_no_workflow_command(world: World) -> None:
    """A pull request's manifest link named `x<CR>::warning ...::pwned.yaml`: the reason that
    names it is printed with the character escaped, so no line of any log is a workflow
    command of its making."""
    link = world.root / "link"
    link.symlink_to("../reconciler.yaml")
    name = "schedules/x\r::warning title=forged::pwned.yaml"
    files = {"schedules/single.yaml": SCHEDULES / "single.yaml", name: link}
    world.repo.open_pull_request("cr", files)
    runs = world.repo.trigger_pull_request(world.runner)
    assert [s["state"] for s in world.github()["statuses"]] == ["failure"], _log(runs)
    lines = [
        line
        for job in _jobs(runs)
        for step in job.steps
        for text in (step.stdout, step.stderr)
        for line in text.splitlines()
    ]
    assert [line for line in lines if "pwned" in line and line.startswith("::")] == []
    assert any("x\\r::warning" in line for line in lines), _log(runs)
