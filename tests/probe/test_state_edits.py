"""Probe: hand-edited state files."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import Project


@pytest.mark.parametrize("bad_id", ["", "a/b", "x?y", "#"])
@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("remote", "list")])
def test_a_malformed_schedule_id_in_the_state_is_named_before_any_request(
    project: Project, bad_id: str, command: tuple[str, ...]
) -> None:
    """Promise: bad input exits non-zero with a clear message (what, where, what to do) and
    makes no API call.

    A state entry whose ``schedule_id`` was edited to something that is not an id (empty, or
    holding ``/``, ``?``, ``#``) is caught only when the client builds a URL for it, after the
    list (and other tasks' details) were read, and reported as ``error: 'a/b' is not a
    schedule id``: no state file, no entry name, no repair.
    """
    project.write("A")
    project.write("B")
    assert project.apply().exit_code == 0
    state = project.state()
    state["entries"]["A"]["schedule_id"] = bad_id
    project.state_path.write_text(json.dumps(state), encoding="utf-8")
    project.emulator.clear_log()

    result = project.run(*command)

    assert result.exit_code == 1
    requests = [(r.method, r.path) for r in project.emulator.request_log]
    assert requests == [], f"requests before the refusal: {requests}"
    assert "state.json" in result.output, result.output
    assert "'A'" in result.output, result.output
    assert "hint:" in result.output, result.output
