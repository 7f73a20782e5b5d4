"""Set-up for the workflow rehearsal: a user's repository with its remote, events, the runner.

The repository holds this project's GitHub set-up as docs/github.md tells a new repository to
have it (``user_files``: the workflows, the action and what it runs; not this repository's own
CI), ``/.reconciler/`` git-ignored, no ``reconciler.yaml`` (one environment, ``default``), and
the state branch ``reconciler-state``. Its remote protects ``main`` (pull requests required:
only maintainers' merges land) and checks job tokens (runner.py). The manifests arrive in a pull
request copied from this repository's ``schedules/``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.workflows.runner import Event, Runner, git, load_fake_github, node_binary, tool_shims

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
# This repository's own checks, not part of the set-up a user's repository has.
OWN_CI = {
    ".github/workflows/ci.yml",
    ".github/dependabot.yml",
    ".github/zizmor.yml",
    ".github/scripts/github-report.test.js",
    ".github/scripts/shellcheck_workflows.py",
}
STATE_BRANCH = "reconciler-state"
REPOSITORY = "octo/schedules"
PR_NUMBER = 7


def user_files() -> list[str]:
    """The GitHub set-up a user's repository holds: everything under .github/ but this
    repository's own CI, the action and its hashed lock (when they exist)."""
    files = sorted(
        p.relative_to(PROJECT).as_posix() for p in (PROJECT / ".github").rglob("*") if p.is_file()
    )
    files = [f for f in files if f not in OWN_CI and "__pycache__" not in f]
    files += [f for f in ("action.yml", "requirements/runtime.txt") if (PROJECT / f).is_file()]
    return files


HOOK = """#!{python}
# The remote's branch protection and token check (tests/workflows/runner.py).
import json, os, sys
actor = os.environ.get("HARNESS_ACTOR", "")
token = os.environ.get("GH_TOKEN", "")
tokens_file = os.environ.get("HARNESS_TOKENS", "")
refused = {refuse!r}
for line in sys.stdin:
    old, new, ref = line.split()
    if actor == "maintainer":
        continue
    if ref == "refs/heads/main":
        print(f"error: GH006: Protected branch update failed for {{ref}}: changes must be made "
              "through a pull request")
        sys.exit(1)
    if actor == "developer":
        continue
    if os.path.exists(refused) and ref in open(refused).read().split():
        print(f"error: push to {{ref}} failed (the server did not answer)")
        sys.exit(1)
    tokens = json.load(open(tokens_file)) if tokens_file and os.path.exists(tokens_file) else {{}}
    if (tokens.get(token) or {{}}).get("contents") != "write":
        print("error: Permission denied: the token may not write contents")
        sys.exit(1)
"""


def install_hook(remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        HOOK.format(python=sys.executable, refuse=str(remote / "refused-refs")), encoding="utf-8"
    )
    hook.chmod(0o755)


def refuse_pushes(remote: Path, *refs: str) -> None:
    """From now on the remote refuses workflow pushes to ``refs`` (a lost push)."""
    (remote / "refused-refs").write_text("\n".join(refs), encoding="utf-8")


# A fixed "now" for the CLI (hidden --now, added by the shim from TEST_RECONCILER_NOW) and the
# emulator's clock: the example manifests fire in 2027, and the test must not start failing once
# that is past.
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECRETS = {
    "ENGAGELAB_APP_KEY": DEMO_APP_KEY,
    "ENGAGELAB_MASTER_SECRET": DEMO_MASTER_SECRET,
}
DEVELOPER = {
    "GIT_AUTHOR_NAME": "Dev Eloper",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev Eloper",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


class Repository:
    """A bare ``origin`` and a developer's clone of it."""

    def __init__(self, root: Path, base_env: dict[str, str]) -> None:
        self.remote = root / "origin.git"
        self.dev = root / "dev"
        self.env = {**base_env, **DEVELOPER, "HARNESS_ACTOR": "maintainer"}
        git("init", "-q", "--bare", "-b", "main", str(self.remote), cwd=root, env=self.env)
        install_hook(self.remote)
        git("init", "-q", "-b", "main", str(self.dev), cwd=root, env=self.env)
        self.git("remote", "add", "origin", self.remote.as_uri())
        for name in user_files():
            # Contents only, as when pasted into GitHub's web editor: no executable bits.
            (self.dev / name).parent.mkdir(parents=True, exist_ok=True)
            (self.dev / name).write_bytes((PROJECT / name).read_bytes())
        (self.dev / ".gitignore").write_text("/.reconciler/\n", encoding="utf-8")
        self.commit("Add the reconciler workflows")
        self.git("push", "-q", "origin", "main")
        # docs/github.md: the state branch is created once, empty, when the repository is set up.
        self.git("checkout", "-q", "--orphan", STATE_BRANCH)
        self.git("rm", "-q", "-r", "--cached", ".")
        self.git("commit", "-q", "--allow-empty", "-m", "reconciler state")
        self.git("push", "-q", "origin", STATE_BRANCH)
        self.git("checkout", "-q", "-f", "main")
        self.pulls: dict[int, dict[str, Any]] = {}
        self.runner: Runner | None = None

    def commit_to_main(self, files: dict[str, str | Path], message: str) -> Event:
        """A maintainer's change straight on main (files: target -> text or source path);
        the push event of it."""
        before = self.remote_tip()
        self.git("fetch", "-q", "origin", "main")
        self.git("checkout", "-q", "-B", "main", "FETCH_HEAD")
        for target, source in files.items():
            destination = self.dev / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path) and source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True)
            elif isinstance(source, Path):
                shutil.copy2(source, destination)
            else:
                destination.write_text(source, encoding="utf-8")
        sha = self.commit(message)
        self.git("push", "-q", "origin", "main")
        return Event(
            "push",
            "main",
            sha,
            {
                "before": before,
                "after": sha,
                "repository": {"full_name": REPOSITORY, "default_branch": "main"},
            },
        )

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.dev, env=self.env)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def open_pull_request(
        self,
        branch: str,
        files: dict[str, Path],
        *,
        number: int = PR_NUMBER,
        fork: bool = False,
        event: str = "pull_request",
    ) -> Event:
        """Commit ``files`` (target -> source) on ``branch`` from main, push it (and
        ``refs/pull/<number>/head``), return the event of this kind for it."""
        self.git("fetch", "-q", "origin", "main")
        self.git("checkout", "-q", "-B", branch, "FETCH_HEAD")
        for target, source in files.items():
            destination = self.dev / target
            # Links are committed as links, as git does: following them would hide what a
            # pull request carrying a symbolic link does to the workflows.
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination, follow_symlinks=False)
        sha = self.commit(f"Add {', '.join(files)}")
        return self.push_pull_request(branch, sha, number=number, fork=fork, event=event)

    def push_pull_request(
        self,
        branch: str,
        sha: str,
        *,
        number: int = PR_NUMBER,
        fork: bool = False,
        event: str = "pull_request",
    ) -> Event:
        developer = {**self.env, "HARNESS_ACTOR": "developer"}
        git(
            "push",
            "-q",
            "-f",
            "origin",
            f"{branch}:{branch}",
            f"{sha}:refs/pull/{number}/head",
            cwd=self.dev,
            env=developer,
        )
        self.git("checkout", "-q", "main")
        repo = {"full_name": REPOSITORY, "default_branch": "main"}
        head_repo = {"full_name": "mallory/schedules"} if fork else repo
        pull = {
            "number": number,
            "state": "open",
            "head": {"ref": branch, "sha": sha, "repo": head_repo},
            "base": {"ref": "main", "sha": self.remote_tip(), "repo": repo},
        }
        self.pulls[number] = pull
        return self.pull_event(number, event)

    def pull_event(
        self,
        number: int,
        event: str = "pull_request",
        action: str = "synchronize",
        changes: dict[str, Any] | None = None,
    ) -> Event:
        """The ``pull_request`` or ``pull_request_target`` event of pull request ``number``, of
        the activity type ``action`` (``edited`` with its ``changes``, e.g. of the base)."""
        pull = self.pulls[number]
        repo = {"full_name": REPOSITORY, "default_branch": "main"}
        payload: dict[str, Any] = {
            "number": number,
            "pull_request": pull,
            "repository": repo,
            "action": action,
        }
        if changes is not None:
            payload["changes"] = changes
        if event == "pull_request":
            return Event("pull_request", f"{number}/merge", pull["head"]["sha"], payload)
        return Event(event, "main", self.remote_tip(), payload)

    def register(self, runner: Runner) -> None:
        """Tell the fake GitHub about the open pull requests (pulls.get / pulls.list)."""
        self.runner = runner
        if runner.github_db is None:
            return
        db = load_fake_github(runner.github_db)
        db["pulls"] = list(self.pulls.values())
        runner.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")

    def trigger_pull_request(
        self,
        runner: Runner,
        number: int = PR_NUMBER,
        action: str = "synchronize",
        changes: dict[str, Any] | None = None,
    ) -> list[Any]:
        """What GitHub starts for a push to a pull request (or another activity): the workflows
        of both events."""
        self.register(runner)
        runs = runner.trigger(self.pull_event(number, "pull_request", action, changes))
        return runs + runner.trigger(
            self.pull_event(number, "pull_request_target", action, changes)
        )

    def merge(self, branch: str) -> Event:
        """A maintainer merges ``branch`` (fast-forward of main); the push event of it."""
        before = self.remote_tip()
        self.git("push", "-q", "origin", f"{branch}:main")
        sha = self.git("rev-parse", branch).strip()
        for pull in self.pulls.values():
            if pull["head"]["ref"] == branch:
                pull["state"] = "closed"
                pull["merge_commit_sha"] = sha
        if self.runner is not None:
            self.register(self.runner)
        return Event(
            "push",
            "main",
            sha,
            {
                "before": before,
                "after": sha,
                "repository": {"full_name": REPOSITORY, "default_branch": "main"},
            },
        )

    def dispatch(self, workflow_ref: str = "main", **inputs: str) -> Event:
        """workflow_dispatch on ``workflow_ref``."""
        return Event(
            "workflow_dispatch",
            workflow_ref,
            self.remote_tip(workflow_ref),
            {"inputs": inputs, "repository": {"full_name": REPOSITORY, "default_branch": "main"}},
            inputs=dict(inputs),
        )

    def remote_tip(self, branch: str = "main") -> str:
        return git("rev-parse", branch, cwd=self.remote, env=self.env).strip()

    def schedule_event(self) -> Event:
        """The hourly cron's event: the default branch as it is now."""
        return Event(
            "schedule",
            "main",
            self.remote_tip(),
            {
                "schedule": "23 * * * *",
                "repository": {"full_name": REPOSITORY, "default_branch": "main"},
            },
        )


def base_env(root: Path, endpoint: str | None) -> dict[str, str]:
    """The runner machine's environment: the tool first on PATH, the emulator as endpoint
    (none: the CLI picks the real data centre, or its embedded emulator when asked to)."""
    shims = tool_shims(root / "bin", sys.executable)
    home = root / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.pathsep.join(
            [str(shims), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        ),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        # No background upkeep after each fetch and push (`git maintenance run --auto`, `gc
        # --auto`): about a fifth of the processes a rehearsal starts, for repositories that
        # live a few seconds. Nothing the workflows do depends on it.
        "GIT_CONFIG_COUNT": "3",
        "GIT_CONFIG_KEY_0": "maintenance.auto",
        "GIT_CONFIG_VALUE_0": "false",
        "GIT_CONFIG_KEY_1": "gc.auto",
        "GIT_CONFIG_VALUE_1": "0",
        "GIT_CONFIG_KEY_2": "receive.autogc",
        "GIT_CONFIG_VALUE_2": "false",
        # Test glue, not set by the workflows: the fixed clock and where the "live app" is.
        "TEST_RECONCILER_NOW": NOW.isoformat(),
    }
    if endpoint is not None:
        env["RECONCILER_ENDPOINT"] = endpoint
    return env


# A repository secret that has nothing to do with EngageLab: no pull request may reach it.
UNRELATED_SECRET = "deploy-key-canary-5f1e2d"
ENV_SECRETS = {"ENGAGELAB_APP_KEY": DEMO_APP_KEY, "ENGAGELAB_MASTER_SECRET": DEMO_MASTER_SECRET}


def environments_for(*names: str) -> dict[str, dict[str, Any]]:
    """GitHub environments as docs/github.md sets them up, per reconciler environment: ``<name>``
    with required reviewers and the default branch only, ``<name>-plan`` for the default branch
    only; both hold the credentials. (``<name>-read``, which earlier set-ups used, has them
    without any rule.)"""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = {"secrets": dict(ENV_SECRETS), "reviewers": True, "branches": ["main"]}
        out[f"{name}-plan"] = {"secrets": dict(ENV_SECRETS), "branches": ["main"]}
        out[f"{name}-read"] = {"secrets": dict(ENV_SECRETS)}
    return out


def make_runner(root: Path, remote: Path, env: dict[str, str], *, use_node: bool) -> Runner:
    node = node_binary() if use_node else None
    return Runner(
        root=root / "runs",
        remote=remote,
        base_env=env,
        # Repository secrets too, as the earliest set-up had them: the workflows must never
        # hand them to a pull request either.
        secrets={**SECRETS, "DEPLOY_KEY": UNRELATED_SECRET},
        variables={},  # no repository variables: RECONCILER_MAX_PARALLEL unset
        repository=REPOSITORY,
        node=node,
        github_db=root / "fake-github.json" if node else None,
        environments=environments_for("default"),
    )


def edit_in_console(endpoint: str, schedule_id: str, alert: str) -> int:
    """Change a schedule's alert through the API, as someone in the EngageLab console would."""
    auth = (DEMO_APP_KEY, DEMO_MASTER_SECRET)
    with httpx.Client(base_url=endpoint, auth=auth, timeout=10.0) as client:
        answer = client.get(f"/v4/schedules/{schedule_id}")
        answer.raise_for_status()
        detail: Any = answer.json()
        body = dict(detail[0] if isinstance(detail, list) else detail)
        body.pop("schedule_id", None)
        body["push"]["body"]["notification"]["alert"] = alert
        return client.put(f"/v4/schedules/{schedule_id}", json=body).status_code


class Listener:
    """An HTTP server on 127.0.0.1 that records every request (path and headers) and answers
    401: what a pull request author would point ``endpoint:`` at to collect credentials."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_any(self) -> None:
                requests.append({"path": self.path, "headers": dict(self.headers.items())})
                body = b'{"error": {"code": 401, "message": "unauthorized"}}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def credentials_seen(self) -> list[str]:
        """Every Authorization header received (empty: nothing was sent)."""
        return [
            r["headers"].get("Authorization", "")
            for r in self.requests
            if r["headers"].get("Authorization")
        ]
