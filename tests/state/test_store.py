"""StateStore: loading, atomic saving with a backup, and the errors for a damaged file."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import StateCorruptError, StateError
from reconciler.state.edits import record_create
from reconciler.state.schema import STATE_VERSION, State
from reconciler.state.store import StateStore

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _state_with(*names: str) -> State:
    state = State()
    for i, name in enumerate(names):
        state = record_create(state, name, f"sch_{i}", f"sha256:{i:064x}", False, NOW)
    return state


def _store_from_fixture(tmp_path: Path, fixture: str) -> StateStore:
    target = tmp_path / "state.json"
    shutil.copyfile(FIXTURES / fixture, target)
    return StateStore(target)


def test_missing_file_loads_as_a_fresh_state_without_creating_it(tmp_path: Path) -> None:
    """No state file yet means nothing is managed; loading must not create the file."""
    store = StateStore(tmp_path / ".reconciler" / "state.json")
    state = store.load()
    assert state.serial == 0
    assert state.entries == {}
    assert state.version == STATE_VERSION
    assert not store.path.exists()


def test_save_creates_parent_directories_and_round_trips(tmp_path: Path) -> None:
    """save() makes the directory, and load() gives back exactly what save() returned."""
    store = StateStore(tmp_path / ".reconciler" / "staging" / "state.json")
    saved = store.save(_state_with("weekly-digest", "monthly"))
    assert store.load() == saved


def test_save_increments_the_serial_each_time(tmp_path: Path) -> None:
    """Every write is serial + 1 of the state it was given."""
    store = StateStore(tmp_path / "state.json")
    first = store.save(State())
    second = store.save(first)
    assert (first.serial, second.serial) == (1, 2)
    assert store.load().serial == 2


def test_save_does_not_modify_the_state_it_was_given(tmp_path: Path) -> None:
    """save() returns a new State; the caller's object keeps its serial."""
    store = StateStore(tmp_path / "state.json")
    state = State()
    store.save(state)
    assert state.serial == 0


def test_first_save_leaves_no_backup(tmp_path: Path) -> None:
    """There is nothing to back up before the first write."""
    store = StateStore(tmp_path / "state.json")
    store.save(State())
    assert not store.backup_path.exists()


def test_save_keeps_the_previous_version_as_backup(tmp_path: Path) -> None:
    """After a second save, <path>.backup holds exactly the first version."""
    store = StateStore(tmp_path / "state.json")
    first = store.save(_state_with("a"))
    first_bytes = store.path.read_bytes()
    store.save(record_create(first, "b", "sch_b", "sha256:bb", False, NOW))
    assert store.backup_path.read_bytes() == first_bytes
    assert StateStore(store.backup_path).load() == first


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    """Temp files are renamed into place, so the directory holds only state and backup."""
    store = StateStore(tmp_path / "state.json")
    state = State()
    for _ in range(3):
        state = store.save(state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.backup"]


def test_failed_write_leaves_the_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails before the rename (here: fsync) changes nothing and cleans up."""
    store = StateStore(tmp_path / "state.json")
    saved = store.save(_state_with("a"))
    before = store.path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StateError, match="could not write the state file") as info:
        store.save(_state_with("a", "b"))
    monkeypatch.undo()
    assert "unchanged" in (info.value.hint or "")
    assert store.path.read_bytes() == before
    assert store.load() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_directory_at_the_backup_path_is_named_with_what_to_do(tmp_path: Path) -> None:
    """A save cannot replace a directory standing at ``<path>.backup``: the error names that
    path and says to remove or move it (it named the state file and blamed free space), the
    state file is unchanged, no temporary file is left, and a later save works once it is gone.
    """
    store = StateStore(tmp_path / "state.json")
    saved = store.save(_state_with("a"))
    before = store.path.read_bytes()
    store.backup_path.mkdir()
    (store.backup_path / "kept.txt").write_text("someone's file", encoding="utf-8")
    with pytest.raises(StateError) as info:
        store.save(_state_with("a", "b"))
    assert info.value.message == (
        f"could not keep the previous state file as its backup {store.backup_path}: Is a directory"
    )
    assert f"remove or move {store.backup_path}" in (info.value.hint or "")
    assert f"the state file {store.path} is unchanged" in (info.value.hint or "")
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.backup"]
    shutil.rmtree(store.backup_path)
    assert store.save(saved).serial == saved.serial + 1


def test_taking_the_lock_refuses_a_directory_at_the_backup_path(tmp_path: Path) -> None:
    """The commands that write the state take its lock before any request: a backup path a
    save could not replace is refused there, not at the first save after a remote read."""
    store = StateStore(tmp_path / "state.json")
    store.save(State())
    store.backup_path.mkdir()
    with pytest.raises(StateError, match="it is a directory") as info:
        store.lock(0, "test")
    assert str(store.backup_path) in info.value.message
    assert f"remove or move {store.backup_path}" in (info.value.hint or "")
    assert not store.lock_path.exists()


def test_a_link_at_the_backup_path_is_replaced_as_before(tmp_path: Path) -> None:
    """A symbolic link there (even to a directory) is replaced by the save, not refused."""
    store = StateStore(tmp_path / "state.json")
    first = store.save(State())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store.backup_path.symlink_to(elsewhere)
    with store.lock(0, "test"):
        store.save(first)
    assert not store.backup_path.is_symlink()
    assert StateStore(store.backup_path).load() == first


def test_saved_file_lists_entries_sorted_by_name(tmp_path: Path) -> None:
    """Entries are written in name order so a state kept in git diffs cleanly."""
    store = StateStore(tmp_path / "state.json")
    store.save(_state_with("zeta", "alpha", "mid"))
    data = json.loads(store.path.read_text(encoding="utf-8"))
    assert list(data["entries"]) == ["alpha", "mid", "zeta"]


def test_a_thousand_entries_round_trip(tmp_path: Path) -> None:
    """The size apply works at (the 1000 active-task limit) saves and loads intact."""
    store = StateStore(tmp_path / "state.json")
    saved = store.save(_state_with(*(f"schedule-{i:04d}" for i in range(1000))))
    loaded = store.load()
    assert len(loaded.entries) == 1000
    assert loaded == saved


def test_a_valid_fixture_loads(tmp_path: Path) -> None:
    """A version-1 file written by hand (as in the docs) loads with its fields."""
    state = _store_from_fixture(tmp_path, "state-v1-two-entries.json").load()
    assert state.serial == 7
    assert state.entries["weekly-digest"].schedule_id == "sch_weekly"
    assert state.entries["weekly-digest"].protected is True


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("state-empty.json", "is empty"),
        ("state-truncated.json", "is not valid JSON"),
        ("state-not-json.json", "is not valid JSON"),
        ("state-not-an-object.json", "expected a JSON object"),
        ("state-wrong-schema.json", "entries.weekly-digest.schedule_id: Field required"),
    ],
)
def test_damaged_file_is_a_corrupt_error_naming_file_and_backup(
    tmp_path: Path, fixture: str, reason: str
) -> None:
    """Each kind of damage says what is wrong, names the file, and points at the backup."""
    store = _store_from_fixture(tmp_path, fixture)
    with pytest.raises(StateCorruptError) as info:
        store.load()
    assert str(store.path) in info.value.message
    assert reason in info.value.message
    assert str(store.backup_path) in (info.value.hint or "")


def test_corrupt_error_gives_the_restore_command_and_backup_serial(tmp_path: Path) -> None:
    """With a good backup, the hint names its serial and the exact cp command to restore it."""
    store = StateStore(tmp_path / "state.json")
    first = store.save(_state_with("a"))
    store.save(first)
    store.path.write_text('{"version": 1, "serial": ', encoding="utf-8")  # truncated
    with pytest.raises(StateCorruptError) as info:
        store.load()
    hint = info.value.hint or ""
    assert f"cp {store.backup_path} {store.path}" in hint
    assert "serial 1" in hint


def test_corrupt_error_without_backup_says_to_rebuild_by_import(tmp_path: Path) -> None:
    """Without a backup the hint says so and names the way back (import)."""
    store = _store_from_fixture(tmp_path, "state-truncated.json")
    with pytest.raises(StateCorruptError) as info:
        store.load()
    assert "there is no backup" in (info.value.hint or "")
    assert "reconciler import" in (info.value.hint or "")


def test_newer_version_says_which_version_this_tool_reads(tmp_path: Path) -> None:
    """A file from a newer reconciler is refused (not called corrupt) with an upgrade hint."""
    store = _store_from_fixture(tmp_path, "state-newer-version.json")
    with pytest.raises(StateError) as info:
        store.load()
    assert not isinstance(info.value, StateCorruptError)
    assert "state version 2" in info.value.message
    assert f"reads version {STATE_VERSION}" in info.value.message
    assert "upgrade" in (info.value.hint or "")


def test_unknown_older_version_is_refused(tmp_path: Path) -> None:
    """A version no reconciler wrote is refused, naming the version this tool reads."""
    store = _store_from_fixture(tmp_path, "state-unknown-version.json")
    with pytest.raises(StateError, match=r"state version 0; this reconciler reads version 1"):
        store.load()


def test_missing_file_with_a_backup_is_not_silently_fresh(tmp_path: Path) -> None:
    """A deleted state file next to its backup must not load as "nothing managed"."""
    store = StateStore(tmp_path / "state.json")
    store.save(store.save(_state_with("a")))
    store.path.unlink()
    with pytest.raises(StateCorruptError, match="is missing, but its backup") as info:
        store.load()
    assert f"cp {store.backup_path} {store.path}" in (info.value.hint or "")


def test_unreadable_path_is_a_state_error(tmp_path: Path) -> None:
    """A directory where the state file should be gives a StateError, not a traceback."""
    (tmp_path / "state.json").mkdir()
    with pytest.raises(StateError, match="cannot read the state file"):
        StateStore(tmp_path / "state.json").load()


def test_a_journal_entry_without_a_machine_stamp_keeps_the_older_layout(tmp_path: Path) -> None:
    """Entries with one stamp (deletes; entries written before the second existed) are saved
    without ``started_locally``, so a reconciler from before it still reads the file; an
    entry with both stamps saves both and reads back the same."""
    from reconciler.state import edits as st

    at = datetime(2027, 1, 1, tzinfo=UTC)
    state = st.begin_pending(State(), "delete", "old", "sha256:0", at, "old-id")
    state = st.begin_pending(state, "create", "new", "sha256:1", at, local=at)
    store = StateStore(tmp_path / "state.json")
    store.save(state)
    pending = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))["pending"]
    assert "started_locally" not in pending["old"]
    assert pending["new"]["started_locally"] == "2027-01-01T00:00:00Z"
    assert store.load().pending == state.pending
