"""A state file that contradicts itself stops every command before any request.

A bad merge of ``.reconciler/state.json`` can point two names at one task, hold a name twice, or
leave a journal entry that would delete a task another name manages. Acting on it leaves two
live tasks of one schedule or deletes a managed one. Each such state is refused on load with the
``reconciler state rm`` command that repairs it, and running that command does repair it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.state.store import StateStore
from tests.e2e.helpers import Project

# A suggested command repeats the options that chose the environment (here --endpoint URL);
# the repair itself is what follows them.
REPAIR = re.compile(r"`reconciler (?:--\S+ \S+ )*((?:state rm|import) [^`]*)`")


def _applied(project: Project) -> dict[str, str]:
    """Two managed schedules, alpha and beta, applied; name -> schedule_id."""
    project.write("alpha")
    project.write("beta", alert="Beta")
    result = project.apply()
    assert result.exit_code == 0, result.output
    return project.state_ids()


def _write_state(project: Project, data: dict[str, Any]) -> None:
    project.state_path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _shared_id(project: Project, ids: dict[str, str]) -> None:
    data = project.state()
    data["entries"]["beta"]["schedule_id"] = ids["alpha"]
    _write_state(project, data)


def _name_twice(project: Project, ids: dict[str, str]) -> None:
    # What `git merge` leaves when both sides added the same name: one key twice.
    data = project.state()
    alpha = json.dumps(data["entries"]["alpha"])
    beta = json.dumps(data["entries"]["beta"])
    other = json.dumps({**data["entries"]["alpha"], "schedule_id": ids["beta"]})
    entries = f'{{"alpha": {alpha}, "beta": {beta}, "alpha": {other}}}'
    head = {k: v for k, v in data.items() if k != "entries"}
    text = json.dumps(head)[:-1] + f', "entries": {entries}}}'
    project.state_path.write_text(text, encoding="utf-8")


def _journal_deletes_a_managed_task(project: Project, ids: dict[str, str]) -> None:
    data = project.state()
    data["pending"]["alpha"] = {
        "op": "delete",
        "name": "alpha",
        "fingerprint": data["entries"]["alpha"]["fingerprint"],
        "old_schedule_id": ids["beta"],
        "started_at": "2026-12-01T00:00:00Z",
    }
    _write_state(project, data)


def _journal_under_another_name(project: Project, ids: dict[str, str]) -> None:
    data = project.state()
    data["pending"]["gamma"] = {
        "op": "update",
        "name": "alpha",
        "fingerprint": data["entries"]["alpha"]["fingerprint"],
        "old_schedule_id": ids["alpha"],
        "started_at": "2026-12-01T00:00:00Z",
    }
    _write_state(project, data)


BROKEN: dict[str, Callable[[Project, dict[str, str]], None]] = {
    "two names on one schedule_id": _shared_id,
    "one name twice": _name_twice,
    "a journalled delete of another name's task": _journal_deletes_a_managed_task,
    "a journal entry filed under another name": _journal_under_another_name,
}


def _repairs(text: str) -> list[str]:
    """The commands of the first problem's repair line, in order (not the examples that need
    a person's choice of SCHEDULE_ID)."""
    line = next((x for x in text.splitlines() if x.strip().startswith("repair:")), "")
    found = [f"reconciler {c}" for c in REPAIR.findall(line) if "SCHEDULE_ID" not in c]
    assert found, f"no repair command in:\n{text}"
    return found


@pytest.mark.parametrize("kind", list(BROKEN))
@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve"), ("drift",)])
def test_an_inconsistent_state_stops_the_command_before_any_request(
    project: Project, kind: str, command: tuple[str, ...]
) -> None:
    """plan, apply and drift on a state that breaks an invariant exit 1 naming the problem and
    a `reconciler state rm` repair, and send no request at all (not even a read)."""
    ids = _applied(project)
    BROKEN[kind](project, ids)
    project.mark()
    result = project.run(*command)
    assert result.exit_code == 1, result.output
    assert "is inconsistent" in result.stderr
    _repairs(result.stderr)
    assert project.emulator.request_log == []


@pytest.mark.parametrize("kind", list(BROKEN))
def test_the_suggested_repair_makes_the_state_usable_and_keeps_every_task(
    project: Project, kind: str
) -> None:
    """Running the first repair command the error names leaves a consistent state; plan then
    works, and apply deletes nothing and creates no second task of a name."""
    ids = _applied(project)
    BROKEN[kind](project, ids)
    refused = project.run("plan")
    for command in _repairs(refused.stderr):
        repaired = project.run(*shlex.split(command)[1:])
        assert repaired.exit_code == 0, repaired.output
    from reconciler.state.invariants import invariant_problems

    assert invariant_problems(StateStore(project.state_path).load(check=False)) == []

    project.mark()
    assert project.run("plan").exit_code == 0
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert [m for m, _ in project.write_summary() if m == "DELETE"] == []
    assert {n: [t["schedule_id"] for t in ts] for n, ts in project.remote().items()} == {
        "alpha": [ids["alpha"]],
        "beta": [ids["beta"]],
    }


def test_after_repairing_a_shared_id_each_name_has_its_own_task_again(project: Project) -> None:
    """Two names on one id (a bad merge): the repair forgets both names and adopts each one's
    own task by its name on the server; no rename of one task into the other schedule, nothing
    created or deleted on the way, and the next plan is empty."""
    ids = _applied(project)
    _shared_id(project, ids)
    refused = project.run("plan")
    assert _repairs(refused.stderr) == [
        "reconciler state rm alpha beta",
        "reconciler import --all-matching",
    ]
    project.mark()
    assert project.run("state", "rm", "alpha", "beta").exit_code == 0
    assert project.run("import", "--all-matching").exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    assert project.state_ids() == ids
    assert project.writes() == []


def test_state_list_shows_a_broken_state_with_its_repairs(project: Project) -> None:
    """`state list` still lists a broken state (that is how it gets looked at), and warns with
    each problem and its repair."""
    ids = _applied(project)
    _shared_id(project, ids)
    result = project.run("state", "list")
    assert result.exit_code == 0, result.output
    assert "alpha" in result.stdout
    assert "beta" in result.stdout
    assert "warning: inconsistent state" in result.stderr
    assert "reconciler state rm" in result.stderr
