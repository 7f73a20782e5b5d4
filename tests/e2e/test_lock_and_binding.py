"""One state file, one writer, one app: the state lock and the state file's binding."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reconciler.emulator import Faults
from reconciler.testing import serve_emulator
from tests.e2e.helpers import Project, writes
from tests.kit.emulator import RecordingEmulator

HOLDER = """
import sys
from pathlib import Path
from reconciler.state.store import StateStore
with StateStore(Path(sys.argv[1])).lock(0, "reconciler apply"):
    print("locked", flush=True)
    sys.stdin.readline()
"""

OTHER_APP_KEY = "anotherappkey00000000042"  # 24 characters, like a real AppKey
OTHER_SECRET = "another-master-secret"


@contextmanager
def lock_held_elsewhere(project: Project) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the state lock until its stdin gets a line."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project.state_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "locked"
            yield proc
        finally:
            if proc.poll() is None:
                release(proc)
            proc.wait(timeout=10)


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    if not proc.stdin.closed:
        proc.stdin.write("\n")
        proc.stdin.flush()


def test_second_apply_fails_cleanly_naming_the_holder(project: Project) -> None:
    """While another process applies, apply with --lock-timeout 0 exits 1 at once, names the
    holder (command and pid) and sends nothing."""
    project.write("a")
    with lock_held_elsewhere(project) as holder:
        result = project.apply("--lock-timeout", "0")
    assert result.exit_code == 1, result.output
    assert "is locked by `reconciler apply`" in result.output
    assert f"pid {holder.pid}" in result.output
    assert "--lock-timeout" in result.output
    assert project.writes() == []
    assert not project.state_path.exists()


def test_second_apply_waits_for_the_lock(project: Project) -> None:
    """With --lock-timeout, apply waits for the holder to finish and then does its work once."""
    project.write("a")
    with lock_held_elsewhere(project) as holder:
        timer = threading.Timer(0.3, release, args=(holder,))
        started = time.monotonic()
        timer.start()
        try:
            result = project.apply("--lock-timeout", "20")
        finally:
            timer.join()
        waited = time.monotonic() - started
        assert holder.wait(timeout=10) == 0
    assert result.exit_code == 0, result.output
    assert waited >= 0.3
    assert project.write_summary() == [("POST", "/v4/schedules")]


def test_state_of_another_app_key_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state file written for one AppKey is refused with another AppKey on the same endpoint,
    before any request is made."""
    project.write("a")
    assert project.apply().exit_code == 0
    before = project.state()
    project.write("a", alert="changed")
    project.emulator.clear_log()
    monkeypatch.setenv("ENGAGELAB_APP_KEY", OTHER_APP_KEY)
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", OTHER_SECRET)

    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "belongs to another app or endpoint" in result.output
    assert OTHER_APP_KEY not in result.output
    assert project.emulator.request_log == []
    assert project.state() == before


def test_state_of_another_endpoint_is_refused(project: Project) -> None:
    """A state file written against one server is refused against another one: no write there,
    and the state file is unchanged."""
    project.write("a")
    assert project.apply().exit_code == 0
    before = project.state()
    other = RecordingEmulator()
    other.fresh()
    with serve_emulator(other) as other_url:
        result = project.run("--endpoint", other_url, "apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "belongs to another app or endpoint" in result.output
    assert writes(other) == []
    assert other.schedules() == []
    assert project.state() == before


def test_state_of_the_served_emulator_is_refused_by_the_embedded_one(project: Project) -> None:
    """Dropping --endpoint (falling back to the embedded emulator) does not reuse the state of
    the served one."""
    project.write("a")
    assert project.apply().exit_code == 0
    before = project.state()
    project.url = None
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "belongs to another app or endpoint" in result.output
    assert project.state() == before


def test_two_real_applies_one_waits_out_the_other(project: Project) -> None:
    """A real `reconciler apply` process is busy (its create's answer is held by the server):
    a second apply fails at once naming that process, sends nothing, and once the first one
    finishes there is exactly one task."""
    project.write("a")
    project.emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=30)
    args = [sys.executable, "-m", "reconciler", *project.args("apply", "--auto-approve")]
    with subprocess.Popen(
        args, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as first:
        try:
            deadline = time.monotonic() + 20
            while not project.writes():
                assert first.poll() is None, first.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.01)
            second = project.apply("--lock-timeout", "0")
            project.emulator.fresh_faults()  # let the first apply get its answer
            assert first.wait(timeout=20) == 0, first.communicate()
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
    assert second.exit_code == 1, second.output
    assert "is locked by `reconciler apply`" in second.output
    assert f"pid {first.pid}" in second.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert project.state_ids() == project.remote_ids()
