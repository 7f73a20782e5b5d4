"""A state file shared between checkouts through a symbolic link stays shared and locked.

Two checkouts of one repository may point ``.reconciler/state.json`` at one file. The link is
resolved once: the lock, the backup and the temporary file live beside the target, and saves
replace the target, never the link. Otherwise each checkout locks its own lock file and the
first save turns its link into a private copy: two applies at once created every schedule twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.state.store import StateStore
from tests.e2e.helpers import Project
from tests.kit.emulator import RecordingEmulator

NAMES = [f"digest_{n:02d}" for n in range(12)]


def _checkout(root: Path, emulator: RecordingEmulator, url: str, shared: Path) -> Project:
    """A checkout at ``root`` whose state file is a relative link to ``shared``."""
    root.mkdir()
    project = Project(root, emulator, url)
    project.state_path.parent.mkdir()
    project.state_path.symlink_to(os.path.relpath(shared, project.state_path.parent))
    for name in NAMES:
        project.write(name)
    return project


@pytest.fixture
def checkouts(
    tmp_path: Path, emulator: RecordingEmulator, served_url: str
) -> tuple[Project, Project, Path]:
    """Two checkouts (a, b) sharing ``shared/state.json`` (not written yet) on one app."""
    shared = tmp_path / "shared" / "state.json"
    shared.parent.mkdir()
    a = _checkout(tmp_path / "a", emulator, served_url, shared)
    b = _checkout(tmp_path / "b", emulator, served_url, shared)
    return a, b, shared


def _process(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *project.args(*args)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_apply_through_a_link_keeps_the_link_and_keeps_its_files_beside_the_target(
    checkouts: tuple[Project, Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an apply in checkout a, its state path is still a link, the state, backup and
    lock are beside the shared target (nothing beside the link), and checkout b sees every
    schedule as managed: its plan is empty."""
    a, b, shared = checkouts
    monkeypatch.chdir(a.root)
    assert a.apply().exit_code == 0
    monkeypatch.chdir(b.root)
    assert b.apply().exit_code == 0  # a second save, through the other link
    for project in (a, b):
        assert project.state_path.is_symlink()
        assert sorted(p.name for p in project.state_path.parent.iterdir()) == ["state.json"]
    assert sorted(p.name for p in shared.parent.iterdir()) == [
        "state.json",
        "state.json.backup",
        "state.json.lock",
    ]
    assert set(StateStore(shared).load().entries) == set(NAMES)
    assert b.run("plan", "--detailed-exitcode").exit_code == 0
    assert {name: len(tasks) for name, tasks in a.remote().items()} == dict.fromkeys(NAMES, 1)


def test_a_lock_taken_through_one_link_holds_off_an_apply_through_the_other(
    checkouts: tuple[Project, Project, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While this process holds the state lock through checkout a's link, an apply in another
    process from checkout b finds the lock taken and sends nothing."""
    a, b, _shared = checkouts
    monkeypatch.chdir(a.root)
    with StateStore(a.state_path).lock(0, "reconciler apply"):
        code, output = _finish(_process(b, "apply", "--auto-approve", "--lock-timeout", "0"))
    assert code == 1, output
    assert "is locked by `reconciler apply`" in output
    assert a.writes() == []


def test_two_checkouts_applying_at_once_create_each_schedule_once(
    checkouts: tuple[Project, Project, Path],
) -> None:
    """Two applies started together from the two checkouts: the second waits for the first,
    then finds everything managed. Every schedule exists exactly once, and the state holds
    all of them."""
    a, b, shared = checkouts
    procs = [
        _process(project, "apply", "--auto-approve", "--lock-timeout", "60") for project in (a, b)
    ]
    results = [_finish(proc) for proc in procs]
    assert [code for code, _ in results] == [0, 0], results
    assert {name: len(tasks) for name, tasks in a.remote().items()} == dict.fromkeys(NAMES, 1)
    assert set(StateStore(shared).load().entries) == set(NAMES)
    assert a.state_path.is_symlink()
    assert b.state_path.is_symlink()
