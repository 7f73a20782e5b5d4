"""Two applies at once on the same state: one proceeds, the other waits or refuses clearly, and
nothing interleaves.

The applies are real ``python -m reconciler`` processes against one served emulator. A gate in
front of the emulator holds every write (POST/PUT/DELETE under ``/v4/``) until the test opens it,
so the first apply is provably in the middle of its work (it has read everything and sent its
first create) when the second one starts: no timing luck is involved.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator import Emulator, Faults, create_app
from tests.badinput.helpers import (
    CLEARED_ENV,
    NOW,
    NOW_ARGS,
    VALID_MANIFEST,
    Outcome,
    describe,
    run_module,
    write_project,
)
from tests.badinput.server import WRITE_METHODS, serve_asgi
from tests.kit.clock import FakeClock

NAMES = ("digest_a", "digest_b", "digest_c")
STATE = Path(".reconciler") / "state.json"
WAIT = 30.0  # seconds any single step may take before the test gives up


class WriteGate:
    """ASGI middleware holding every write request until ``opened`` is set."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.reached = threading.Event()  # a write has arrived (and is being held)
        self.opened = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in WRITE_METHODS
            and scope["path"].startswith("/v4/")
        ):
            self.reached.set()
            while not self.opened.is_set():
                await asyncio.sleep(0.005)
        await self.app(scope, receive, send)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_project(
        tmp_path,
        {f"{n}.yaml": VALID_MANIFEST.replace("weekly_digest", n) for n in NAMES},
    )
    return tmp_path


@pytest.fixture
def gated() -> Iterator[tuple[Emulator, WriteGate, str]]:
    emulator = Emulator(clock=FakeClock(NOW).wall)
    gate = WriteGate(create_app(emulator))
    with serve_asgi(gate) as url:
        try:
            yield emulator, gate, url
        finally:
            gate.opened.set()  # never leave a process hanging on the gate


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start(root: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    """``python -m reconciler apply --auto-approve`` in the background."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            *NOW_ARGS,
            "--endpoint",
            url,
            "apply",
            "--auto-approve",
            *extra,
        ],
        cwd=root,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> Outcome:
    out, err = proc.communicate(timeout=WAIT)
    return Outcome(proc.returncode, out, err)


def _wait_for_stderr_line(proc: subprocess.Popen[str], pattern: str) -> str:
    """Read ``proc``'s stderr until a line matches (the process keeps running)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.05)
        if ready:
            line = proc.stderr.readline()
            if re.search(pattern, line):
                return line
            if not line:
                break
    raise AssertionError(f"no stderr line matching {pattern!r}")


def _holder(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".reconciler" / "state.json.lock").read_text())
    return data


def _writes(emulator: Emulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emulator.request_log if r.method in WRITE_METHODS]


def _assert_converged(root: Path, emulator: Emulator, names: Sequence[str]) -> None:
    """Remote tasks are exactly the manifests, once each, and the state maps each to its task."""
    remote = [(t["name"], t["schedule_id"]) for t in emulator.schedules()]
    assert sorted(n for n, _ in remote) == sorted(names), remote
    state = json.loads((root / STATE).read_text())
    assert state["pending"] == {}
    assert {n: e["schedule_id"] for n, e in state["entries"].items()} == dict(remote)


def _hold_first_apply(root: Path, gate: WriteGate, url: str) -> subprocess.Popen[str]:
    """Start apply A and return once it holds the lock and waits at the gate mid-apply."""
    first = _start(root, url)
    assert gate.reached.wait(WAIT), describe(_finish(first))
    return first


@pytest.mark.parametrize("timeout", ["0", "0.5"], ids=["at-once", "after-waiting"])
def test_second_apply_refuses_naming_the_holder(
    project: Path, gated: tuple[Emulator, WriteGate, str], timeout: str
) -> None:
    """With ``--lock-timeout 0`` (or a short wait) the second apply exits 1 naming the first
    one (command, pid, host), before sending a single request; the first then finishes."""
    emulator, gate, url = gated
    first = _hold_first_apply(project, gate, url)
    holder = _holder(project)
    assert holder["pid"] == first.pid
    assert holder["command"] == "reconciler apply"
    seen = len(emulator.request_log)

    second = run_module(
        ["--endpoint", url, "apply", "--auto-approve", "--lock-timeout", timeout], cwd=project
    )
    assert second.exit_code == 1, describe(second)
    assert "Traceback" not in second.text
    assert second.stderr.startswith("error:") or "\nerror:" in second.stderr
    assert f"is locked by `reconciler apply` (pid {first.pid} on {holder['host']}" in second.stderr
    if timeout != "0":
        assert "after waiting 0.5s" in second.stderr
    assert "--lock-timeout" in second.stderr  # the hint says how to wait instead
    assert len(emulator.request_log) == seen, "the refused apply must not talk to the API"

    gate.opened.set()
    done = _finish(first)
    assert done.exit_code == 0, describe(done)
    assert sorted(_writes(emulator)) == [("POST", "/v4/schedules")] * len(NAMES)
    _assert_converged(project, emulator, NAMES)


def test_second_apply_waits_then_finds_nothing_to_do(
    project: Path, gated: tuple[Emulator, WriteGate, str]
) -> None:
    """With the default ``--lock-timeout`` (30 s) the second apply waits for the first, sends
    nothing meanwhile, then reads the finished work and has nothing left to do: no write of
    the second comes between or after the first one's writes."""
    emulator, gate, url = gated
    first = _hold_first_apply(project, gate, url)
    second = _start(project, url)
    # The banner is printed just before the lock is taken.
    _wait_for_stderr_line(second, r"Using the emulator at")
    seen = len(emulator.request_log)
    time.sleep(0.3)  # let it reach the lock; it must then be waiting, not working
    assert second.poll() is None, describe(_finish(second))
    assert len(emulator.request_log) == seen, "the waiting apply talked to the API"

    gate.opened.set()
    done = _finish(first)
    assert done.exit_code == 0, describe(done)
    waited = _finish(second)
    assert waited.exit_code == 0, describe(waited)
    assert "No changes" in waited.stdout, describe(waited)

    log = [(r.method, r.path) for r in emulator.request_log]
    writes = [n for n, (method, _) in enumerate(log) if method in WRITE_METHODS]
    assert len(writes) == len(NAMES)
    after = log[writes[-1] + 1 :]
    assert ("GET", "/v4/schedules") in after, "the waiting apply read after the writes"
    _assert_converged(project, emulator, NAMES)


def test_state_edit_during_apply_refuses_and_changes_nothing(
    project: Path, gated: tuple[Emulator, WriteGate, str]
) -> None:
    """``state rm --lock-timeout 0`` while an apply runs refuses at once naming the apply, and
    the apply's result is complete afterwards."""
    emulator, gate, url = gated
    first = _hold_first_apply(project, gate, url)
    edit = run_module(["state", "rm", "--lock-timeout", "0", "digest_a"], cwd=project)
    assert edit.exit_code == 1, describe(edit)
    assert f"locked by `reconciler apply` (pid {first.pid}" in edit.stderr
    gate.opened.set()
    assert _finish(first).exit_code == 0
    _assert_converged(project, emulator, NAMES)


def test_three_applies_racing_create_each_schedule_once(project: Path) -> None:
    """Three applies started together against a slow server (no gate): all succeed, each
    schedule is created exactly once, and the state matches the server."""
    emulator = Emulator(clock=FakeClock(NOW).wall, faults=Faults(latency_ms=40))
    with serve_asgi(create_app(emulator)) as url:
        procs = [_start(project, url) for _ in range(3)]
        outcomes = [_finish(p) for p in procs]
    for outcome in outcomes:
        assert outcome.exit_code == 0, describe(outcome)
    assert sum("No changes" in o.stdout for o in outcomes) == 2
    assert sorted(_writes(emulator)) == [("POST", "/v4/schedules")] * len(NAMES)
    _assert_converged(project, emulator, NAMES)
