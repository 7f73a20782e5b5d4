"""How a command-line process is stopped by SIGTERM: at a safe point, saying so.

A CI runner that cancels a job, a container being stopped and a cron job's time limit send
SIGTERM. Python's default is to die at once: safe (every remote write is journalled first),
but silent, with every journalled create left for the next run to wait out. Raising an
exception where the signal lands, as Python does for Ctrl-C, is worse for a signal sent once:
inside a weak reference's callback or a class being built the exception is only printed and
the command goes on, and a validator interrupted while pydantic builds it stays broken (a
sound state file then reads as corrupt).

So SIGTERM only asks the command to stop. While the event loop runs, the command's task is
cancelled: it stops at its next ``await``, as at Ctrl-C, and apply drops the journal entries
of creates that never left. Outside the loop the request is honoured at the next safe point
(``check``: before the loop starts, while waiting for the state lock, at apply's prompt) or
when the command ends. Either way the command says "terminated" and exits 143, the shell's
code for it (the exit codes are in docs/workflow.md "What a plan contains"). Repeated
SIGTERMs change nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

_requested = False
_cancel: Callable[[], None] | None = None  # the running command task's, while there is one


def stop_gently_on_sigterm() -> None:
    """Take SIGTERM as a request to stop (the command line only).

    A SIGTERM the process was started ignoring stays ignored: whoever started it meant that.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _requested
    if _requested:
        return
    _requested = True
    if _cancel is not None:
        _cancel()


def requested() -> bool:
    """Whether a SIGTERM asked the command to stop."""
    return _requested


def check() -> None:
    """Stop here (KeyboardInterrupt, the way of Ctrl-C) if a SIGTERM asked for it."""
    if _requested:
        raise KeyboardInterrupt


@contextmanager
def cancelling(cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, a SIGTERM calls ``cancel`` (the running command task's, made safe to
    call from a signal handler: ``loop.call_soon_threadsafe(task.cancel)``)."""
    global _cancel
    _cancel = cancel
    try:
        yield
    finally:
        _cancel = None


def stopped() -> tuple[str, int]:
    """What a command stopped from outside says, and its exit code."""
    return ("terminated", 143) if _requested else ("interrupted", 130)


def ignore_errors_of(call: Callable[[], object]) -> Callable[[], None]:
    """``call`` that raises nothing: it runs inside a signal handler, where an exception would
    land in whatever code the signal interrupted (a loop closed meanwhile: RuntimeError)."""

    def safely() -> None:
        with suppress(RuntimeError):
            call()

    return safely
