"""Ctrl-C and SIGTERM on the command line: a request to stop, honoured at safe points, never an
exception raised wherever the signal lands (but for a second Ctrl-C).

The processes themselves are in tests/e2e/test_interactive.py (the read, the prompt, the
start-up, Ctrl-C ignored) and tests/e2e/test_crash.py (committed creates, then the heal).
"""

from __future__ import annotations

import fcntl
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest

from reconciler import stopping
from reconciler.commands import plan
from reconciler.state.lock import StateLock


@pytest.fixture
def sigterm_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(stopping, "_requested", None)
    monkeypatch.setattr(stopping, "_cancel", None)
    monkeypatch.setattr(stopping, "_ending", False)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_a_signal_ignored_from_the_start_stays_ignored(sigterm_restored: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping.stop_gently()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_sigterm_only_asks_and_cancels_the_running_task_once(sigterm_restored: None) -> None:
    """The handler raises nothing where the signal lands; it marks the request and cancels
    the command's task (when one runs), once however many SIGTERMs come."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stopping.stop_gently()
    assert stopping.stopped() == ("interrupted", 130)
    cancels: list[str] = []
    with stopping.cancelling(lambda: cancels.append("cancel")):
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
    assert cancels == ["cancel"]
    assert stopping.requested()
    assert stopping.stopped() == ("terminated", 143)
    with pytest.raises(KeyboardInterrupt):
        stopping.check()


def test_ctrl_c_asks_once_and_stops_at_once_the_second_time(sigterm_restored: None) -> None:
    """The first Ctrl-C is a request like SIGTERM's ("interrupted", 130); a second one is
    Python's KeyboardInterrupt where it lands, for a person who will not wait."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stopping.stop_gently()
    cancels: list[str] = []
    with stopping.cancelling(lambda: cancels.append("cancel")):
        signal.raise_signal(signal.SIGINT)
        assert cancels == ["cancel"]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert stopping.stopped() == ("interrupted", 130)


def test_ctrl_c_once_sigterm_is_caught_is_a_request_too(
    sigterm_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever waits for the SIGTERM handler (a CI runner, the end-to-end tests reading
    SigCgt) may send Ctrl-C the instant it is there: that Ctrl-C must find ours already, not
    Python's KeyboardInterrupt raised into the set-up itself (a traceback, exit -2)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    install = signal.signal
    sent: list[int] = []

    def install_then_ctrl_c(sig: int, handler: object) -> object:
        previous = install(sig, handler)  # type: ignore[arg-type]
        if sig == signal.SIGTERM and not sent:
            sent.append(sig)
            signal.raise_signal(signal.SIGINT)
        return previous

    monkeypatch.setattr(stopping.signal, "signal", install_then_ctrl_c)
    stopping.stop_gently()
    assert stopping.requested()
    assert stopping.stopped() == ("interrupted", 130)


def test_a_canceller_that_fails_raises_nothing_into_the_interrupted_code() -> None:
    def closed_loop() -> None:
        raise RuntimeError("Event loop is closed")

    stopping.ignore_errors_of(closed_loop)()


def test_the_wait_for_the_state_lock_stops_at_a_sigterm(
    sigterm_restored: None, tmp_path: Path
) -> None:
    """Another process holds the lock; a SIGTERM during the wait ends it at the next poll,
    not when the timeout runs out."""
    state = tmp_path / "state.json"
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        stopping._on_signal(signal.SIGTERM, None)

    lock = StateLock(
        tmp_path / "state.json.lock",
        state_path=state,
        sleep=sleep,
        monotonic=lambda: sum(sleeps),
        now=lambda: datetime.now(UTC),
        poll_interval=0.1,
    )
    with lock.lock_path.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(KeyboardInterrupt), lock.hold(timeout=60, command="apply"):
            pass
    assert len(sleeps) == 1


def test_no_question_is_asked_once_a_sigterm_came(
    sigterm_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGTERM while the plan was shown: apply stops before asking, so nobody answers "y"
    to a command that is going away."""
    stopping._on_signal(signal.SIGTERM, None)
    with pytest.raises(click.Abort):
        plan.confirm_on_terminal("Apply these changes?")
    assert "Apply these changes?" not in capsys.readouterr().out


def test_once_the_command_says_how_it_ended_a_ctrl_c_is_only_noted(
    sigterm_restored: None,
) -> None:
    """A hail of Ctrl-Cs after "interrupted" was printed must not cut into the exit (a
    traceback, or the redacting hook interrupted and Python's raw one printing instead)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stopping.stop_gently()
    signal.raise_signal(signal.SIGINT)
    stopping.ending()
    for _ in range(3):
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt
    assert stopping.stopped() == ("interrupted", 130)


def test_a_signal_while_manifests_load_stops_at_the_next_file(
    sigterm_restored: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while thousands of manifests load (seconds, before any request): the load stops
    at the next file, instead of reading every one and then saying "interrupted"."""
    from reconciler.manifests import load

    for n in range(3):
        (tmp_path / f"s{n}.yaml").write_text(f"name: s{n}\n", "utf-8")
    read: list[str] = []
    original = load._load_file

    def loading(path: Path, *args: object) -> object:
        read.append(path.name)
        stopping._on_signal(signal.SIGINT, None)  # the signal lands while this file is read
        return original(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(load, "_load_file", loading)
    with pytest.raises(KeyboardInterrupt):
        load.load_manifests([tmp_path], now=datetime.now(UTC), tz=ZoneInfo("UTC"))
    assert read == ["s0.yaml"]
