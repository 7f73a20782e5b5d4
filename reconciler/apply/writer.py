"""The state of one apply, made durable as it changes: at once before a POST, coalesced otherwise.

State is saved after every phase and, within a phase, at most every ``save_interval`` seconds
(saving 1000 entries after each of 1000 writes would cost more than the writes); what a crash
loses of that window is exactly what the journal and re-planning recover (``executor``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler.state.schema import State
from reconciler.state.store import StateStore


class StateWriter:
    """The state being changed by one apply, and when it was last made durable.

    ``flush`` saves at once, in the caller's thread: the journal must be on disk before a POST.
    ``maybe_flush``, the coalesced save during a phase, runs in a worker thread, so the requests
    in flight are answered while the file is written and fsynced (in the event loop, 23 saves
    of 1000 entries stalled an apply of 1000 creates by 0.25 s; tests/bench/bench_scenarios.py).
    Saves are serialised by a lock, and one never writes an older state over a newer one.
    """

    def __init__(
        self,
        store: StateStore,
        state: State,
        *,
        save_interval: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.state = state
        self.save_interval = save_interval
        self._monotonic = monotonic
        self._changes = 0  # changes made so far
        self._saved = 0  # changes that the file on disk holds
        self._serial = state.serial  # serial of the file on disk
        self._lock = threading.Lock()
        self._saving = False  # a coalesced save is under way
        self._last_save = monotonic()

    def change(self, fn: Callable[..., State], *args: Any, **kwargs: Any) -> None:
        """Replace the state by ``fn(state, *args, **kwargs)`` (a pure edit of ``state.edits``)."""
        self.state = fn(self.state, *args, **kwargs)
        self._changes += 1

    def flush(self) -> None:
        """Save now if anything changed (atomic; serial + 1)."""
        if self._changes != self._saved:
            self._save(self.state, self._changes)
            self._note_serial()

    async def maybe_flush(self) -> None:
        """Save if the last save is older than ``save_interval`` (in a worker thread)."""
        if (
            self._saving
            or self._changes == self._saved
            or self._monotonic() - self._last_save < self.save_interval
        ):
            return
        self._saving = True
        try:
            await asyncio.to_thread(self._save, self.state, self._changes)
        finally:
            self._saving = False
        self._note_serial()

    def _save(self, snapshot: State, changes: int) -> None:
        with self._lock:
            if changes <= self._saved:
                return  # a newer state is on disk already
            written = self.store.save(snapshot.model_copy(update={"serial": self._serial}))
            self._serial = written.serial
            self._saved = changes
            self._last_save = self._monotonic()

    def _note_serial(self) -> None:
        if self.state.serial != self._serial:
            self.state = self.state.model_copy(update={"serial": self._serial})
