"""The state lock: one holder at a time across processes, named when someone else waits.

The holder runs in a real second process (flock is per process / open file); the waiting side
uses an injected clock and sleep, so no test sleeps for real.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.errors import StateLockedError
from reconciler.state.store import StateStore
from tests.kit.clock import FakeClock

# Takes the lock as "reconciler apply", says "locked", holds it until a line arrives on stdin,
# then releases it, says "released" and waits for EOF.
_HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.state.store import StateStore

    store = StateStore(Path(sys.argv[1]))
    with store.lock(0, "reconciler apply"):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    sys.stdin.read()
    """
)


@contextmanager
def _holder_process(state_path: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "locked"
            yield proc
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=30)


def _store(path: Path, clock: FakeClock) -> StateStore:
    return StateStore(path, sleep=clock.sleep_sync, monotonic=clock.monotonic, poll_interval=0.25)


def test_lock_writes_the_holder_and_clears_it_on_release(tmp_path: Path) -> None:
    """While held, <path>.lock names pid, host, start and command; afterwards it is empty."""
    store = StateStore(tmp_path / "state.json")
    with store.lock(0, "reconciler state rm") as holder:
        info = json.loads(store.lock_path.read_text(encoding="utf-8"))
        assert info["pid"] == os.getpid() == holder.pid
        assert info["host"] == socket.gethostname()
        assert info["command"] == "reconciler state rm"
        assert info["started"]
    assert store.lock_path.read_text(encoding="utf-8") == ""


def test_second_process_waits_then_fails_naming_the_holder(tmp_path: Path) -> None:
    """Against a lock held by another process, we poll until the timeout, then say who holds it."""
    clock = FakeClock()
    store = _store(tmp_path / "state.json", clock)
    with (
        _holder_process(store.path) as proc,
        pytest.raises(StateLockedError) as info,
        store.lock(2.0, "reconciler apply"),
    ):
        pytest.fail("got a lock another process holds")
    assert sum(clock.sleeps) == pytest.approx(2.0)
    assert len(clock.sleeps) == 8  # polled every 0.25 s
    message = info.value.message
    assert f"pid {proc.pid}" in message
    assert "`reconciler apply`" in message
    assert str(store.path) in message
    assert "after waiting 2s" in message
    assert "--lock-timeout" in (info.value.hint or "")


def test_zero_timeout_fails_at_once(tmp_path: Path) -> None:
    """--lock-timeout 0 never sleeps: one try, then the error."""
    clock = FakeClock()
    store = _store(tmp_path / "state.json", clock)
    with (
        _holder_process(store.path),
        pytest.raises(StateLockedError, match="locked by"),
        store.lock(0, "reconciler state mv"),
    ):
        pytest.fail("got a lock another process holds")
    assert clock.sleeps == []


def test_waiting_locker_gets_the_lock_once_the_holder_releases(tmp_path: Path) -> None:
    """A waiter within its timeout takes the lock as soon as the other process lets go."""
    store_path = tmp_path / "state.json"
    with _holder_process(store_path) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def release_on_third_poll(count: int) -> None:
            if count == 3:
                stdin.write("release\n")
                stdin.flush()
                assert stdout.readline().strip() == "released"

        clock = FakeClock(on_sleep=release_on_third_poll)
        store = _store(store_path, clock)
        with store.lock(60, "reconciler apply") as holder:
            assert holder.pid == os.getpid()
        assert len(clock.sleeps) == 3


def test_lock_is_free_again_after_the_holder_process_ends(tmp_path: Path) -> None:
    """flock dies with its process: a finished (or killed) holder leaves no stale lock."""
    store_path = tmp_path / "state.json"
    with _holder_process(store_path):
        pass
    with StateStore(store_path).lock(0, "reconciler apply"):
        pass


def test_lock_is_not_shared_between_two_stores_in_one_process(tmp_path: Path) -> None:
    """Two StateStore objects on one path exclude each other too (one flock per open file)."""
    path = tmp_path / "state.json"
    with (
        StateStore(path).lock(0, "reconciler apply"),
        pytest.raises(StateLockedError),
        StateStore(path).lock(0, "reconciler state rm"),
    ):
        pytest.fail("second lock granted")
