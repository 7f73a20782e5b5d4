"""How a command-line process is stopped from outside: Ctrl-C (SIGINT) or SIGTERM, at a safe point.

A CI runner that cancels a job, a container being stopped and a cron job's time limit send
SIGTERM; a person presses Ctrl-C. Python dies at once on SIGTERM (safe thanks to the journal,
but silent, with every journalled create left for the next run to wait out) and raises
KeyboardInterrupt wherever SIGINT lands: inside a weak reference's callback or a class being
built it is only printed and the command goes on, and a validator interrupted while pydantic
builds it stays broken (a sound state file then reads as corrupt).

So the first of these signals only asks the command to stop. While the event loop runs, the
command's task is cancelled: it stops at its next ``await``, and apply drops the journal entries
of creates that never left. Outside the loop the request is honoured at the next safe point
(``check``: before the loop starts, while waiting for the state lock, at apply's prompt) or when
the command ends. Either way the command says "interrupted" (exit 130) or "terminated" (143),
the shell's codes (the exit codes are in docs/workflow.md "What a plan contains"). A second
Ctrl-C stops at once, the old way, for a person who will not wait; a second SIGTERM changes
nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

_requested: int | None = None  # the signal that first asked the command to stop
_cancel: Callable[[], None] | None = None  # the running command task's, while there is one
_ending = False  # the command is saying how it ended: no signal interrupts that any more


def stop_gently() -> None:
    """Take SIGTERM and Ctrl-C as requests to stop (the command line only).

    A signal the process was started ignoring stays ignored (SIGINT in a script's background
    job): whoever started it meant that.
    """
    # Ctrl-C's first: whoever waits for the SIGTERM handler to appear (a runner, a test
    # reading SigCgt) may send Ctrl-C the instant it does, and must find ours.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _requested
    if _requested is not None:
        if signum == signal.SIGINT and not _ending:
            raise KeyboardInterrupt  # Ctrl-C again: now, wherever it lands
        return
    _requested = signum
    if _cancel is not None:
        _cancel()


def ending() -> None:
    """The command has stopped and is saying how (its message, its exit code, the exit's
    last save): from now on a signal is only noted, never raised into that."""
    global _ending
    _ending = True


def consumed() -> None:
    """The request to stop was the command's normal end (a server stops when told): nothing
    more to say about it, and the command's own exit code stands."""
    global _requested
    _requested = None


def requested() -> bool:
    """Whether a signal asked the command to stop."""
    return _requested is not None


def check() -> None:
    """Stop here (KeyboardInterrupt, as Python stops at Ctrl-C) if a signal asked for it."""
    if _requested is not None:
        raise KeyboardInterrupt


@contextmanager
def cancelling(cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, a request to stop calls ``cancel`` (the running command task's, made safe to
    call from a signal handler: ``loop.call_soon_threadsafe(task.cancel)``)."""
    global _cancel
    _cancel = cancel
    try:
        yield
    finally:
        _cancel = None


def stopped() -> tuple[str, int]:
    """What a command stopped from outside says, and its exit code."""
    return ("terminated", 143) if _requested == signal.SIGTERM else ("interrupted", 130)


def ignore_errors_of(call: Callable[[], object]) -> Callable[[], None]:
    """``call`` that raises nothing: it runs inside a signal handler, where an exception would
    land in whatever code the signal interrupted (a loop closed meanwhile: RuntimeError)."""

    def safely() -> None:
        with suppress(RuntimeError):
            call()

    return safely
