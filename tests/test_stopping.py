"""SIGTERM on the command line: taken the way of Ctrl-C, unless the process was told to ignore it.

The processes themselves are in tests/e2e/test_interactive.py (the read, the prompt, SIGINT
ignored) and tests/e2e/test_crash.py (committed creates, then the heal).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from reconciler import stopping


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_ignored_from_the_start_stays_ignored(sigterm_restored: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stopping.stop_gently_on_sigterm()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_a_sigterm_is_answered_by_whatever_answers_ctrl_c(
    sigterm_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler calls the SIGINT handler of the moment (Python's, asyncio's or the
    prompt's), and what the command then says is "terminated", 143."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    monkeypatch.setattr(stopping, "_terminated", False)
    assert stopping.stopped() == ("interrupted", 130)
    stopping.stop_gently_on_sigterm()
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT]
    assert stopping.stopped() == ("terminated", 143)
