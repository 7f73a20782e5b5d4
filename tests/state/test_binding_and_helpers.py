"""App binding of a state file, and the pure helpers that change a State."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.errors import StateBindingError, StateError
from reconciler.state.binding import binding_for, check_binding
from reconciler.state.edits import (
    begin_creates,
    begin_pending,
    clear_pending,
    forget,
    forget_fired,
    get_entry,
    record_create,
    record_update,
    rename,
)
from reconciler.state.schema import FORGOTTEN_PER_NAME, State
from reconciler.state.store import StateStore

APP_KEY = "0123456789abcdef01234567"
OTHER_KEY = "fedcba9876543210fedcba98"
SGP = "https://pushapi-sgp.engagelab.com"
NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _one() -> State:
    return record_create(State(), "weekly", "sch_1", "sha256:aa", True, NOW)


# --------------------------------------------------------------------------- binding


def test_binding_is_a_sha256_that_hides_the_app_key() -> None:
    """The binding is "sha256:<64 hex>" and does not contain the AppKey."""
    binding = binding_for(SGP, APP_KEY)
    assert binding.startswith("sha256:")
    assert len(binding) == len("sha256:") + 64
    assert APP_KEY not in binding


def test_binding_differs_by_app_key_and_by_endpoint() -> None:
    """Another AppKey or another endpoint gives another binding."""
    base = binding_for(SGP, APP_KEY)
    assert binding_for(SGP, OTHER_KEY) != base
    assert binding_for("https://pushapi-hk.engagelab.com", APP_KEY) != base


def test_binding_ignores_a_trailing_slash_on_the_endpoint() -> None:
    """The same URL written with or without a trailing slash is the same endpoint."""
    assert binding_for(SGP + "/", APP_KEY) == binding_for(SGP, APP_KEY)


def test_unbound_state_gets_bound() -> None:
    """A fresh state takes the binding of the first app it is used with."""
    binding = binding_for(SGP, APP_KEY)
    assert check_binding(State(), binding).binding == binding


def test_state_bound_to_the_same_app_passes() -> None:
    """Using the state with its own app returns it unchanged."""
    state = State(binding=binding_for(SGP, APP_KEY))
    assert check_binding(state, binding_for(SGP, APP_KEY)) is state


def test_state_bound_to_another_app_is_refused(tmp_path: Path) -> None:
    """Another AppKey is refused with the file named and a hint on what to do."""
    store = StateStore(tmp_path / "state.json")
    state = State(binding=binding_for(SGP, APP_KEY))
    with pytest.raises(StateBindingError) as info:
        store.check_binding(state, binding_for(SGP, OTHER_KEY))
    assert str(store.path) in info.value.message
    assert "another app or endpoint" in info.value.message
    assert "--env" in (info.value.hint or "")
    assert OTHER_KEY not in info.value.message + (info.value.hint or "")


def test_app_key_never_reaches_the_state_file(tmp_path: Path) -> None:
    """After binding and saving, the AppKey appears nowhere in the file."""
    store = StateStore(tmp_path / "state.json")
    store.save(check_binding(_one(), binding_for(SGP, APP_KEY)))
    assert APP_KEY not in store.path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- helpers


def test_record_create_adds_the_entry_and_resolves_its_pending_journal() -> None:
    """Recording a create clears that name's pending entry in the same state."""
    state = begin_pending(State(), "create", "weekly", "sha256:aa", NOW)
    after = record_create(state, "weekly", "sch_1", "sha256:aa", True, LATER)
    entry = after.entries["weekly"]
    assert (entry.schedule_id, entry.fingerprint, entry.protected) == ("sch_1", "sha256:aa", True)
    assert entry.created_at == entry.updated_at == LATER
    assert after.pending == {}


def test_helpers_never_modify_their_input() -> None:
    """Every helper returns a new State and leaves the given one as it was."""
    state = begin_pending(_one(), "update", "weekly", "sha256:bb", NOW, old_schedule_id="sch_1")
    snapshot = state.model_dump()
    record_create(state, "other", "sch_2", "sha256:cc", False, NOW)
    record_update(state, "weekly", "sha256:bb", False, LATER)
    forget(state, "weekly")
    rename(clear_pending(state, "weekly"), "weekly", "weekly-digest")
    clear_pending(state, "weekly")
    begin_pending(state, "create", "x", "sha256:dd", NOW)
    assert state.model_dump() == snapshot


def test_record_update_keeps_id_and_creation_time() -> None:
    """An update changes fingerprint, protection and updated_at, not the task's identity."""
    after = record_update(_one(), "weekly", "sha256:bb", False, LATER)
    entry = after.entries["weekly"]
    assert (entry.schedule_id, entry.created_at) == ("sch_1", NOW)
    assert (entry.fingerprint, entry.protected, entry.updated_at) == ("sha256:bb", False, LATER)


def test_record_update_of_an_unknown_name_is_an_error() -> None:
    """Updating a name the state does not hold is a bug the caller must hear about."""
    with pytest.raises(StateError, match="no entry named 'daily'"):
        record_update(_one(), "daily", "sha256:bb", False, LATER)


def test_forget_removes_entry_and_pending() -> None:
    """forget drops both the mapping and any journal entry of that name."""
    state = begin_pending(_one(), "update", "weekly", "sha256:bb", NOW)
    after = forget(state, "weekly")
    assert "weekly" not in after.entries
    assert "weekly" not in after.pending


def _owing(state: State) -> State:
    """``state`` after an interrupted replace of weekly: the entry is the new task sch_new,
    the journal still owes the delete of the old one, sch_1."""
    state = record_create(state, "weekly", "sch_new", "sha256:bb", False, NOW)
    return begin_pending(state, "delete", "weekly", "sha256:bb", NOW, old_schedule_id="sch_1")


def test_updating_or_forgetting_a_name_keeps_its_debt_on_another_task() -> None:
    """The old task of an interrupted replace still fires: an update of the new task, or
    forgetting it (its manifest removed, the schedule expired), pays nothing of that debt."""
    owing = _owing(_one())
    debt = owing.pending["weekly"]
    assert record_update(owing, "weekly", "sha256:cc", False, LATER).pending == {"weekly": debt}
    assert forget(owing, "weekly").pending == {"weekly": debt}
    gone = forget_fired(owing, "weekly", LATER, "expired")
    assert ("weekly" in gone.entries, gone.pending) == (False, {"weekly": debt})


def test_updating_or_forgetting_a_name_settles_a_journal_entry_of_its_own_task() -> None:
    """A journalled write of the name's own task (an update, a delete of that very id) is
    settled when that task is recorded or forgotten."""
    update = begin_pending(_one(), "update", "weekly", "sha256:bb", NOW, old_schedule_id="sch_1")
    assert record_update(update, "weekly", "sha256:bb", False, LATER).pending == {}
    own = begin_pending(_one(), "delete", "weekly", "sha256:bb", NOW, old_schedule_id="sch_1")
    assert forget(own, "weekly").pending == {}
    assert record_update(own, "weekly", "sha256:bb", False, LATER).pending == {}


def test_forget_of_an_unknown_name_suggests_the_closest() -> None:
    """A typo in a name is refused with a did-you-mean."""
    with pytest.raises(StateError, match=r"did you mean 'weekly'\?"):
        forget(_one(), "weekyl")


def test_get_entry_names_the_file_when_given() -> None:
    """get_entry's error says which state file lacks the name."""
    with pytest.raises(StateError, match=r"the state file /x/state.json has no entry named 'a'"):
        get_entry(State(), "a", path=Path("/x/state.json"))


def test_rename_moves_the_entry_unchanged() -> None:
    """rename keeps schedule_id, fingerprint and timestamps under the new name."""
    state = _one()
    after = rename(state, "weekly", "weekly-digest")
    assert list(after.entries) == ["weekly-digest"]
    assert after.entries["weekly-digest"] == state.entries["weekly"]


def test_rename_refuses_an_existing_target() -> None:
    """Renaming onto an existing name would lose a mapping, so it is refused."""
    state = record_create(_one(), "monthly", "sch_2", "sha256:cc", False, NOW)
    with pytest.raises(StateError, match="already has an entry named 'monthly'"):
        rename(state, "weekly", "monthly")


def test_rename_refuses_while_a_write_is_pending() -> None:
    """A pending journal entry is resolved by name, so the name must not move under it."""
    state = begin_pending(_one(), "update", "weekly", "sha256:bb", NOW)
    with pytest.raises(StateError, match="pending") as info:
        rename(state, "weekly", "weekly-digest")
    assert "reconciler apply" in (info.value.hint or "")


def test_begin_and_clear_pending() -> None:
    """begin_pending journals the write with its details; clear_pending removes it."""
    state = begin_pending(_one(), "replace", "weekly", "sha256:bb", NOW, old_schedule_id="sch_1")
    pending = state.pending["weekly"]
    assert (pending.op, pending.fingerprint, pending.old_schedule_id) == (
        "replace",
        "sha256:bb",
        "sch_1",
    )
    assert pending.started_at == NOW
    assert clear_pending(state, "weekly").pending == {}


def test_journalling_creates_together_is_journalling_them_one_by_one() -> None:
    """``begin_creates`` (one copy of the journal for a whole plan's creates) leaves the state
    ``begin_pending`` of each would, an earlier entry of the same name replaced, and its
    input unchanged."""
    before = begin_pending(_one(), "update", "daily", "sha256:00", NOW)
    creates = [
        ("a", "sha256:a1", None),
        ("weekly", "sha256:bb", "sch_1"),
        ("daily", "sha256:d", None),
    ]
    together = begin_creates(before, creates, LATER, local=NOW)
    one_by_one = before
    for name, fingerprint, old in creates:
        one_by_one = begin_pending(one_by_one, "create", name, fingerprint, LATER, old, local=NOW)
    assert together == one_by_one
    assert list(together.pending) == list(one_by_one.pending)
    assert set(before.pending) == {"daily"}
    assert before.pending["daily"].op == "update"


def test_clear_pending_without_an_entry_is_a_no_op() -> None:
    """Clearing twice (e.g. after a resumed run) is harmless."""
    state = _one()
    assert clear_pending(state, "weekly") is state


def test_forget_fired_keeps_a_bounded_list_of_ids_per_name(tmp_path: Path) -> None:
    """Each forget of a fired task keeps its id, time and reason; only the newest
    FORGOTTEN_PER_NAME per name stay; a state file without any has no ``forgotten`` key."""
    at = datetime(2027, 1, 1, tzinfo=UTC)
    state = State()
    store = StateStore(tmp_path / "state.json")
    store.save(record_create(state, "kept", "id-k", "fp", False, at))
    assert "forgotten" not in json.loads(store.path.read_text(encoding="utf-8"))
    for i in range(FORGOTTEN_PER_NAME + 2):
        state = record_create(state, "promo", f"id-{i}", "fp", False, at)
        state = forget_fired(state, "promo", at + timedelta(days=i), "trigger time passed")
    kept = state.forgotten["promo"]
    assert [f.schedule_id for f in kept] == [f"id-{i}" for i in range(2, FORGOTTEN_PER_NAME + 2)]
    assert kept[-1].forgotten_at == at + timedelta(days=FORGOTTEN_PER_NAME + 1)
    assert "promo" not in state.entries
    store.save(state)
    assert StateStore(store.path).load().forgotten == state.forgotten
