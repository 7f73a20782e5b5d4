"""``apply`` at its confirmation prompt, in a real pseudo-terminal: one Ctrl-C aborts at once;
a Ctrl-C elsewhere is an interruption; a SIGTERM is a termination, never a decline."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.e2e.helpers import Project
from tests.kit.emulator import START, RecordingEmulator

PROMPT = b"Apply these changes? [y/N]"


def _read_until(fd: int, wanted: bytes, seconds: float) -> bytes:
    """What the terminal showed until ``wanted`` appeared (or the time ran out, or it closed)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _controlling_terminal() -> None:
    # In the child, after setsid: the pty on stdin becomes its controlling terminal, so that the
    # line discipline turns a typed Ctrl-C into SIGINT for it, as in a real terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _apply_in_a_terminal(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``reconciler apply`` (embedded emulator) with a pseudo-terminal as its controlling
    terminal; returns the process and the terminal's master side."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RECONCILER_")
        and k not in ("ENGAGELAB_APP_KEY", "ENGAGELAB_MASTER_SECRET", "CI")
    }
    env["NO_COLOR"] = "1"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--now", START.isoformat(), "apply"],
        cwd=root,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    return proc, master


def _at_the_prompt(
    root: Path, act: Callable[[subprocess.Popen[bytes], int], object], seconds: float
) -> tuple[int, bytes]:
    """``apply`` of one new schedule in a terminal: ``act`` (on the process and the terminal's
    master side) once the prompt shows; the exit code and all the terminal showed."""
    Project(root, RecordingEmulator(), url=None).write("a")
    proc, master = _apply_in_a_terminal(root)
    try:
        shown = _read_until(master, PROMPT, 60)
        assert PROMPT in shown, shown.decode(errors="replace")
        act(proc, master)
        try:
            code = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"apply did not end within {seconds:g} s of that at its prompt")
        shown += _read_until(master, b"\x00", 2)  # the rest of the output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    return code, shown


def _embedded_tasks(root: Path) -> list[str]:
    data = root / ".reconciler" / "emulator.json"
    if not data.exists():
        return []
    return [t["name"] for t in Emulator(data_path=data, clock=lambda: START).schedules()]


@pytest.mark.skipif(sys.platform != "linux", reason="TIOCSCTTY pseudo-terminal handling")
@pytest.mark.parametrize("attempt", range(5))
def test_one_ctrl_c_at_the_prompt_aborts_at_once_without_writes(
    tmp_path: Path, attempt: int
) -> None:
    """At "Apply these changes? [y/N]" a single Ctrl-C, typed as soon as the prompt shows,
    ends the command within seconds (exit 1, "aborted"); the embedded emulator received no
    write. Five times: a Ctrl-C landing between the prompt and the read must not be lost."""
    code, shown = _at_the_prompt(tmp_path, lambda proc, master: os.write(master, b"\x03"), 10)
    assert code == 1, shown.decode(errors="replace")
    assert b"aborted" in shown.splitlines()  # on a line of its own, not after the "^C"
    assert b"Traceback" not in shown
    assert _embedded_tasks(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="TIOCSCTTY pseudo-terminal handling")
def test_answering_y_at_the_prompt_applies(tmp_path: Path) -> None:
    """Typing "y" and Enter at the prompt carries the plan out (exit 0, the task created)."""
    code, shown = _at_the_prompt(tmp_path, lambda proc, master: os.write(master, b"y\n"), 30)
    assert code == 0, shown.decode(errors="replace")
    assert _embedded_tasks(tmp_path) == ["a"]


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, b"interrupted"), (signal.SIGTERM, 143, b"terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_the_read_is_an_interruption_not_a_decline(
    tmp_path: Path, sig: signal.Signals, code: int, said: bytes
) -> None:
    """A Ctrl-C (or a SIGTERM: a cancelled CI job, a stopped container) while the command
    waits for the server, not at the prompt: "interrupted" and exit 130, or "terminated" and
    143, the shell's codes for them, with no traceback. click turns both into its Abort, which
    at the prompt means "declined" (exit 1, above)."""
    proc, err, out = _signal_while_reading(tmp_path, sig)
    assert proc.returncode == code, err.decode(errors="replace")
    assert err.splitlines()[-1] == said
    assert b"Traceback" not in err + out


def test_sigterm_with_ctrl_c_ignored_stops_the_command_all_the_same(tmp_path: Path) -> None:
    """Started with SIGINT ignored (a background job of a script), a SIGTERM still stops the
    command the same way: it does not depend on how Ctrl-C is handled."""
    proc, err, _ = _signal_while_reading(tmp_path, signal.SIGTERM, ignore_ctrl_c=True)
    assert proc.returncode == 143, err.decode(errors="replace")
    assert err.splitlines()[-1] == b"terminated"


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/PID/status tells when it is ready")
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3])
@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, b"interrupted"), (signal.SIGTERM, 143, b"terminated")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_while_the_command_gets_ready_is_never_lost(
    tmp_path: Path, delay: float, sig: signal.Signals, code: int, said: bytes
) -> None:
    """Ctrl-C or SIGTERM at moments of start-up (imports, models being built, 300 manifests
    loading, the plan): apply stops with "interrupted" (130) or "terminated" (143), no
    traceback and no write. Raised where it landed, as Python does by default, it was at times
    only printed ("Exception ignored") and the apply went on to create everything."""
    project = Project(tmp_path, RecordingEmulator(), url=None)
    for n in range(300):
        project.write(f"s{n:03d}")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "ENGAGELAB_")) and k != "CI"
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--now", START.isoformat(), "apply", "--auto-approve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_it_catches_sigterm(proc.pid)
        time.sleep(delay)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == code, err.decode(errors="replace")
    assert err.splitlines()[-1] == said
    assert b"Traceback" not in err + out
    assert b"Exception ignored" not in err
    assert _embedded_tasks(tmp_path) == []


def _wait_until_it_catches_sigterm(pid: int) -> None:
    """Until the process has its SIGTERM handler (Linux: SigCgt in /proc/PID/status; its
    Ctrl-C handler comes with it); sent before that, SIGTERM kills it and Ctrl-C is Python's,
    as for any program that has not started yet."""
    deadline = time.monotonic() + 30
    mask = 1 << (signal.SIGTERM - 1)
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & mask:
            return
        time.sleep(0.001)
    pytest.fail("the command never installed its SIGTERM handler")


@pytest.mark.skipif(sys.platform != "linux", reason="TIOCSCTTY pseudo-terminal handling")
def test_sigterm_at_the_prompt_is_termination_not_a_decline(tmp_path: Path) -> None:
    """A SIGTERM while apply waits at its prompt: "terminated", exit 143, nothing written."""
    code, shown = _at_the_prompt(
        tmp_path, lambda proc, master: proc.send_signal(signal.SIGTERM), 10
    )
    assert code == 143, shown.decode(errors="replace")
    assert b"terminated" in shown
    assert b"aborted" not in shown
    assert b"Traceback" not in shown
    assert _embedded_tasks(tmp_path) == []


def _signal_while_reading(
    root: Path, sig: signal.Signals, *, ignore_ctrl_c: bool = False
) -> tuple[subprocess.Popen[bytes], bytes, bytes]:
    """``plan`` against a server that accepts the connection and never answers, sent ``sig``
    once the read has started; the ended process, its stderr and its stdout."""
    Project(root, RecordingEmulator(), url=None).write("a")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RECONCILER_", "ENGAGELAB_")) and k != "CI"
        }
        env.update(ENGAGELAB_APP_KEY="k" * 24, ENGAGELAB_MASTER_SECRET="s" * 24)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "--endpoint", url, "plan"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_ignore_ctrl_c if ignore_ctrl_c else None,
        )
        try:
            server.settimeout(60)
            connection, _ = server.accept()  # the read has started; no answer ever comes
            with connection:
                proc.send_signal(sig)
                out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return proc, err, out


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
