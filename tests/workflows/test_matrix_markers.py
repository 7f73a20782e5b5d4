"""Which environments the apply workflow plans, from the commit each was last applied at
(`gitops.py matrix --since-state`): a finished apply with nothing changed since is left out;
an unfinished one, or one git no longer knows, is planned; an older commit is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GITOPS = ROOT / ".github" / "scripts" / "gitops.py"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two commits: c1 adds a manifest, c2 another (HEAD at c2)."""
    root = tmp_path / "repo"
    (root / "schedules").mkdir(parents=True)
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "t@example.invalid")
    _git(root, "config", "user.name", "t")
    for name in ("a", "b"):
        (root / "schedules" / f"{name}.yaml").write_text(f"name: {name}\n", encoding="utf-8")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", name)
    return root


def _matrix(repo: Path, marker: str) -> subprocess.CompletedProcess[str]:
    state = repo.parent / "state-branch"
    (state / ".reconciler-applied").mkdir(parents=True, exist_ok=True)
    (state / ".reconciler-applied" / "default").write_text(marker + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RECONCILER_"))}
    return subprocess.run(
        [sys.executable, str(GITOPS), "matrix", "--since-state", str(state)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def _count(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("count="))


def test_a_finished_apply_of_head_plans_nothing(repo: Path) -> None:
    assert _count(_matrix(repo, _git(repo, "rev-parse", "HEAD"))) == "count=0"


def test_an_unfinished_apply_of_head_is_planned_again(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    assert _count(_matrix(repo, f"{head} unfinished")) == "count=1"


def test_a_commit_git_does_not_know_is_planned(repo: Path) -> None:
    """History rewritten since the last apply (a force push): nothing to compare with."""
    assert _count(_matrix(repo, "0" * 40)) == "count=1"


def test_an_older_commit_than_the_applied_one_is_refused(repo: Path) -> None:
    """A re-run of an old run: HEAD is an ancestor of the applied commit."""
    applied = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "HEAD~1")
    done = _matrix(repo, applied)
    assert done.returncode == 1
    assert f"environment default was last applied at {applied}" in done.stdout + done.stderr
    assert "roll the app back" in done.stdout + done.stderr


def test_a_newer_commit_with_changes_is_planned(repo: Path) -> None:
    assert _count(_matrix(repo, _git(repo, "rev-parse", "HEAD~1"))) == "count=1"
