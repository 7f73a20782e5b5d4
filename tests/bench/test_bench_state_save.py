"""Benchmark: apply saves the state after every remote write, so 1000 entries must save cheaply.

Run: .venv/bin/pytest tests/bench/test_bench_state_save.py -q -s
Prints ms per save (temp file + fsync + backup link + rename + directory fsync) and per load.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from reconciler.state.edits import begin_pending, record_create
from reconciler.state.schema import State
from reconciler.state.store import StateStore

ENTRIES = 1000
ROUNDS = 50


def test_save_and_load_of_a_thousand_entries(tmp_path: Path) -> None:
    """Prints per-save and per-load times; fails only if a save takes over 100 ms."""
    now = datetime.now(UTC)
    state = State()
    for i in range(ENTRIES):
        fingerprint = "sha256:" + f"{i:064x}"
        state = record_create(state, f"schedule-{i:04d}", f"sch_{i:012d}", fingerprint, False, now)
    store = StateStore(tmp_path / "state.json")
    state = store.save(state)

    start = time.perf_counter()
    for i in range(ROUNDS):
        state = store.save(begin_pending(state, "create", f"new-{i}", "sha256:" + "b" * 64, now))
    per_save = (time.perf_counter() - start) / ROUNDS

    start = time.perf_counter()
    for _ in range(ROUNDS):
        store.load()
    per_load = (time.perf_counter() - start) / ROUNDS

    size = store.path.stat().st_size
    print(
        f"\nstate with {ENTRIES} entries ({size / 1024:.0f} KiB): "
        f"save {per_save * 1000:.2f} ms, load {per_load * 1000:.2f} ms"
    )
    assert per_save < 0.1
