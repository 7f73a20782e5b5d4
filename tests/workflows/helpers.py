"""Set-up for the workflow rehearsal: a user's repository with its remote, events, the runner.

The repository is what docs/github.md step 1 describes: the three workflows and four scripts
copied from this repository (``USER_FILES``), ``/.reconciler/`` git-ignored, no
``reconciler.yaml`` (one environment, ``default``). The manifests arrive in a pull request
branch copied from this repository's ``schedules/``.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.workflows.runner import Event, Runner, git, node_binary, tool_shims

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
# Exactly what docs/github.md step 1 tells users to copy: a workflow needing anything else
# fails the rehearsal.
USER_FILES = (
    ".github/workflows/plan.yml",
    ".github/workflows/apply.yml",
    ".github/workflows/drift.yml",
    ".github/scripts/environments.py",
    ".github/scripts/credentials.sh",
    ".github/scripts/commit-state.sh",
    ".github/scripts/github-report.js",
)
REPOSITORY = "octo/schedules"
PR_NUMBER = 7
# A fixed "now" for the CLI (hidden --now, RECONCILER_NOW) and the emulator's clock: the
# example manifests fire in 2027, and the test must not start failing once that is past.
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECRETS = {
    "ENGAGELAB_APP_KEY": DEMO_APP_KEY,
    "ENGAGELAB_MASTER_SECRET": DEMO_MASTER_SECRET,
    "GITHUB_TOKEN": "ghs_fake-token-of-the-rehearsal",
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
        self.env = {**base_env, **DEVELOPER}
        git("init", "-q", "--bare", "-b", "main", str(self.remote), cwd=root, env=self.env)
        git("init", "-q", "-b", "main", str(self.dev), cwd=root, env=self.env)
        self.git("remote", "add", "origin", self.remote.as_uri())
        for name in USER_FILES:
            # Contents only, as when pasted into GitHub's web editor: no executable bits.
            (self.dev / name).parent.mkdir(parents=True, exist_ok=True)
            (self.dev / name).write_bytes((PROJECT / name).read_bytes())
        (self.dev / ".gitignore").write_text("/.reconciler/\n", encoding="utf-8")
        self.commit("Add the reconciler workflows")
        self.git("push", "-q", "origin", "main")

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.dev, env=self.env)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def open_pull_request(self, branch: str, files: dict[str, Path]) -> Event:
        """Commit ``files`` (target -> source) on ``branch``, push it, return the PR event."""
        self.git("checkout", "-q", "-b", branch, "main")
        for target, source in files.items():
            destination = self.dev / target
            if source.is_dir():
                shutil.copytree(source, destination)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        sha = self.commit(f"Add {', '.join(files)}")
        self.git("push", "-q", "origin", branch)
        repo = {"full_name": REPOSITORY, "default_branch": "main"}
        payload = {
            "number": PR_NUMBER,
            "pull_request": {
                "number": PR_NUMBER,
                "head": {"ref": branch, "sha": sha, "repo": repo},
                "base": {"ref": "main", "repo": repo},
            },
            "repository": repo,
        }
        return Event("pull_request", branch, sha, payload)

    def merge(self, branch: str) -> Event:
        """Fast-forward ``main`` to ``branch`` on the remote; the push event of the merge."""
        self.git("push", "-q", "origin", f"{branch}:main")
        sha = self.git("rev-parse", branch).strip()
        return Event(
            "push", "main", sha, {"repository": {"full_name": REPOSITORY, "default_branch": "main"}}
        )

    def remote_tip(self, branch: str = "main") -> str:
        return git("rev-parse", branch, cwd=self.remote, env=self.env).strip()

    def schedule_event(self) -> Event:
        """The hourly cron's event: the default branch as it is now."""
        return Event(
            "schedule",
            "main",
            self.remote_tip(),
            {"schedule": "23 * * * *", "repository": {"full_name": REPOSITORY}},
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
        # Test glue, not set by the workflows: the fixed clock and where the "live app" is.
        "RECONCILER_NOW": NOW.isoformat(),
    }
    if endpoint is not None:
        env["RECONCILER_ENDPOINT"] = endpoint
    return env


def make_runner(root: Path, remote: Path, env: dict[str, str], *, use_node: bool) -> Runner:
    node = node_binary() if use_node else None
    return Runner(
        root=root / "runs",
        remote=remote,
        base_env=env,
        secrets=dict(SECRETS),
        variables={},  # no repository variables: RECONCILER_EMULATOR and MAX_PARALLEL unset
        repository=REPOSITORY,
        node=node,
        github_db=root / "fake-github.json" if node else None,
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
