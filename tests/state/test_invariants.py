"""The invariants of a state file: what a bad merge or a hand edit breaks, what apply never does.

Every state apply itself writes (a journalled create, replace, recreate, or the deletion still
owed by a replace) passes; each broken one is named with a repair command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from reconciler.errors import StateInvariantError
from reconciler.state.invariants import invariant_problems
from reconciler.state.schema import PendingEntry, State, StateEntry, parse_state
from reconciler.state.store import StateStore

NOW = datetime(2027, 1, 1, tzinfo=UTC)
FP = "sha256:" + "0" * 64


def entry(sid: str) -> StateEntry:
    return StateEntry(schedule_id=sid, fingerprint=FP, created_at=NOW, updated_at=NOW)


def journal(
    op: Literal["create", "replace", "update", "delete"],
    name: str,
    old: str | None = None,
) -> PendingEntry:
    return PendingEntry(op=op, name=name, fingerprint=FP, old_schedule_id=old, started_at=NOW)


def state(entries: dict[str, str], pending: dict[str, PendingEntry] | None = None) -> State:
    return State(entries={n: entry(s) for n, s in entries.items()}, pending=pending or {})


CONSISTENT = {
    "no journal": state({"a": "1", "b": "2"}),
    "a journalled create": state({"a": "1"}, {"b": journal("create", "b")}),
    "a journalled recreate": state({"a": "1"}, {"a": journal("create", "a", "1")}),
    "a replace under way": state({"a": "1"}, {"a": journal("replace", "a", "1")}),
    "the deletion a replace still owes": state({"a": "2"}, {"a": journal("delete", "a", "1")}),
    "an interrupted update": state({"a": "1"}, {"a": journal("update", "a", "1")}),
}


@pytest.mark.parametrize("name", list(CONSISTENT))
def test_states_apply_writes_are_consistent(name: str) -> None:
    """Each state apply saves on its way (and after a crash) breaks no invariant."""
    assert invariant_problems(CONSISTENT[name]) == []


BROKEN = {
    "two names on one id": (
        state({"a": "1", "b": "1"}),
        "both point at schedule_id 1",
        "reconciler state rm a b",
    ),
    "a journal entry filed under another name": (
        state({"a": "1"}, {"x": journal("update", "a", "1")}),
        "under 'x' is about 'a'",
        "reconciler state rm --pending x",
    ),
    "a delete without an old id": (
        state({"a": "1"}, {"a": journal("delete", "a")}),
        "names no old schedule_id",
        "reconciler state rm --pending a",
    ),
    "a journalled delete of another name's task": (
        state({"a": "1", "b": "2"}, {"a": journal("delete", "a", "2")}),
        "which the entry 'b' manages",
        "reconciler state rm --pending a",
    ),
    "a journalled delete of the name's own task": (
        state({"a": "1"}, {"a": journal("delete", "a", "1")}),
        "the task its own entry manages",
        "reconciler state rm --pending a",
    ),
    "a replace of a task the entry does not hold": (
        state({"a": "1"}, {"a": journal("replace", "a", "9")}),
        "retires schedule_id 9, but its entry holds 1",
        "reconciler state rm --pending --force a",
    ),
    "two journal entries retiring one task": (
        state(
            {"a": "2", "b": "3"},
            {"a": journal("delete", "a", "1"), "b": journal("delete", "b", "1")},
        ),
        "both retire schedule_id 1",
        "reconciler state rm --pending b",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_invariant_is_named_with_its_repair(name: str) -> None:
    """One violation per broken state, saying what is wrong and the command that repairs it."""
    broken, message, repair = BROKEN[name]
    (violation,) = invariant_problems(broken)
    assert message in violation.message
    assert repair in violation.repair


def test_a_name_held_twice_in_the_file_is_found_while_parsing(tmp_path: Path) -> None:
    """`"a"` twice under `entries` (what a merge leaves): the parse reports it, the checked
    load refuses the file naming `state rm a`, and the unchecked load still reads it."""
    one = state({"a": "1"}).model_dump(mode="json")
    body = json.dumps(one["entries"]["a"])
    other = json.dumps({**one["entries"]["a"], "schedule_id": "2"})
    head = json.dumps({k: v for k, v in one.items() if k != "entries"})[:-1]
    raw = f'{head}, "entries": {{"a": {body}, "a": {other}}}}}'.encode()
    duplicates: dict[str, list[str]] = {}
    parsed = parse_state(raw, path=tmp_path / "state.json", duplicates=duplicates)
    assert duplicates == {"entries": ["a"]}
    assert parsed.entries["a"].schedule_id == "2"

    path = tmp_path / "state.json"
    path.write_bytes(raw)
    with pytest.raises(StateInvariantError, match="reconciler state rm a"):
        StateStore(path).load()
    assert StateStore(path).load(check=False).entries["a"].schedule_id == "2"
