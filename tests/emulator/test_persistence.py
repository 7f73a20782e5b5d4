"""Persistence: the data file is written atomically after every change and loaded at start."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.emulator.helpers import START, periodical, single
from tests.kit.clock import FakeClock


def make(path: Path, clock: FakeClock | None = None) -> Emulator:
    return Emulator(data_path=path, clock=(clock or FakeClock(START)).wall)


def test_no_file_means_an_empty_app(tmp_path: Path) -> None:
    """A data path that does not exist yet starts empty and is not an error."""
    assert make(tmp_path / "em.json").schedules() == []


def test_a_create_is_on_disk_immediately(tmp_path: Path) -> None:
    """After a create (no shutdown, no explicit save) a new emulator on the file sees the task."""
    path = tmp_path / "em.json"
    sid = make(path).add_schedule(single("kept"))
    assert [s["schedule_id"] for s in make(path).schedules()] == [sid]


def test_updates_and_deletes_persist(tmp_path: Path) -> None:
    """A second process sees the updated body and does not see the deleted task."""
    path = tmp_path / "em.json"
    em = make(path)
    keep = em.add_schedule(single("a"))
    gone = em.add_schedule(single("b"))
    em.api_update(keep, json.dumps(single("a2")).encode())
    em.api_delete(gone)
    assert [(s["schedule_id"], s["name"]) for s in make(path).schedules()] == [(keep, "a2")]


def test_order_and_counters_survive_a_restart(tmp_path: Path) -> None:
    """List order stays creation order and new msg-ids never repeat old ones after a restart."""
    path = tmp_path / "em.json"
    clock = FakeClock(START)
    first = make(path, clock)
    a = first.add_schedule(periodical("a"))
    first.advance(86400)
    second = make(path, clock)
    second.set_time(START)
    b = second.add_schedule(periodical("b"))
    second.set_time(datetime(2027, 1, 6, 13, tzinfo=UTC))
    assert [s["schedule_id"] for s in second.schedules()] == [a, b]
    ids = [r["msg_id"] for sid in (a, b) for r in second.msg_records(sid)]
    assert len(ids) == len(set(ids)) == 6  # a: 01-04, 01-05, 01-06; b: the same three days


def test_firings_are_not_repeated_after_a_restart(tmp_path: Path) -> None:
    """Occurrences fired before a restart are not fired again by the next process."""
    path = tmp_path / "em.json"
    clock = FakeClock(datetime(2027, 1, 4, 9, tzinfo=UTC))
    sid = make(path, clock).add_schedule(periodical())
    clock.moment = datetime(2027, 1, 5, 13, tzinfo=UTC)
    assert len(make(path, clock).msg_records(sid)) == 2
    assert len(make(path, clock).msg_records(sid)) == 2


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    """Atomic writes leave only the data file itself in the directory."""
    path = tmp_path / "em.json"
    em = make(path)
    for i in range(5):
        em.add_schedule(single(f"t{i}"))
    assert [p.name for p in tmp_path.iterdir()] == ["em.json"]


def test_missing_directory_is_created(tmp_path: Path) -> None:
    """``.reconciler/emulator.json`` works in a fresh checkout: the directory is created."""
    path = tmp_path / ".reconciler" / "emulator.json"
    make(path).add_schedule(single())
    assert path.exists()


def test_corrupt_file_is_refused_with_its_path(tmp_path: Path) -> None:
    """A file that is not emulator data raises ValueError naming the file (nothing is lost)."""
    path = tmp_path / "em.json"
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"em\.json"):
        make(path)
    assert path.read_text(encoding="utf-8") == "{ not json"


def test_reset_is_persisted(tmp_path: Path) -> None:
    """A reset empties the file too."""
    path = tmp_path / "em.json"
    em = make(path)
    em.add_schedule(single())
    em.reset()
    assert make(path).schedules() == []


def test_in_memory_emulator_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without data_path nothing touches the disk."""
    monkeypatch.chdir(tmp_path)
    em = Emulator(clock=FakeClock(START).wall)
    em.add_schedule(single())
    em.save()
    assert list(tmp_path.iterdir()) == []
