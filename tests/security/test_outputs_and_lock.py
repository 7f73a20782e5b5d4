"""No output path and no lock file can overwrite the state, and a bad output path costs nothing.

``plan --out`` and ``drift --report`` refuse the state file, its backup and its lock, also
through a link; the lock file is opened without following links (writing the lock holder into
it truncates whatever it names); an output path that cannot be written is refused before
anything is read from the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import Project


@pytest.fixture
def applied(project: Project) -> Project:
    """A project with one applied schedule (so a state file, backup and lock exist)."""
    project.write("alpha")
    assert project.apply().exit_code == 0
    project.write("alpha", alert="changed")  # plan and drift have something to write
    assert project.apply().exit_code == 0
    project.write("alpha", alert="changed again")
    project.mark()
    return project


def _state_files(project: Project) -> dict[str, bytes]:
    folder = project.state_path.parent
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("target", ["state.json", "state.json.backup", "state.json.lock"])
@pytest.mark.parametrize("link", [False, True])
@pytest.mark.parametrize(
    "command", [("plan", "--out"), ("drift", "--report"), ("calendar", "--out")]
)
def test_outputs_never_overwrite_the_state_files(
    applied: Project, target: str, link: bool, command: tuple[str, str]
) -> None:
    """`plan --out` / `drift --report` / `calendar --out` naming the state file, its backup or
    its lock (directly or through a link in the working directory) exit 1 with a message, leave
    every state file as it was, and send no request."""
    before = _state_files(applied)
    path = applied.state_path.parent / target
    if link:
        alias = applied.root / "out.json"
        alias.symlink_to(path)
        path = alias
    result = applied.run(*command, str(path))
    assert result.exit_code == 1, result.output
    assert "refusing to write" in result.stderr
    assert _state_files(applied) == before
    assert applied.emulator.request_log == []


@pytest.mark.parametrize("command", [("plan", "--out"), ("drift", "--report")])
def test_an_output_in_a_missing_directory_fails_before_any_request(
    applied: Project, command: tuple[str, str]
) -> None:
    """`plan --out /no/such/dir/plan.json` exits 1 naming the directory, without reading the
    app first (no request at all)."""
    result = applied.run(*command, "/no/such/dir/plan.json")
    assert result.exit_code == 1, result.output
    assert "/no/such/dir" in result.stderr
    assert applied.emulator.request_log == []


def test_a_symlinked_lock_file_is_refused_and_its_target_kept(applied: Project) -> None:
    """`.reconciler/state.json.lock -> ../victim.txt`: apply and `state rm` exit 1 naming the
    lock file, victim.txt keeps its content, and nothing is sent."""
    victim = applied.root / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    lock = applied.state_path.parent / "state.json.lock"
    lock.unlink()
    lock.symlink_to(Path("..") / "victim.txt")
    for args in (("apply", "--auto-approve"), ("state", "rm", "alpha")):
        result = applied.run(*args)
        assert result.exit_code == 1, result.output
        assert "state.json.lock is a symbolic link" in result.stderr
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert applied.writes() == []


def test_a_hard_linked_lock_file_is_refused(applied: Project) -> None:
    """A lock file hard-linked to the state file itself: refused, the state file intact."""
    lock = applied.state_path.parent / "state.json.lock"
    lock.unlink()
    lock.hardlink_to(applied.state_path)
    before = applied.state_path.read_bytes()
    result = applied.apply()
    assert result.exit_code == 1, result.output
    assert "hard-linked" in result.stderr
    assert applied.state_path.read_bytes() == before
