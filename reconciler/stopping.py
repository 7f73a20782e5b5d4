"""How a command-line process is stopped from outside: Ctrl-C (SIGINT) or a shutdown (SIGTERM).

A CI runner that cancels a job, a container being stopped and a cron job's time limit send
SIGTERM. Python's default is to die at once: safe (every remote write is journalled first),
but silent, with the write in flight left for the next run to heal and the state save that
was running thrown away. Here SIGTERM takes the path of Ctrl-C instead: the event loop's task
is cancelled, the state save finishes, and the command says "terminated" and exits 143 (the
shell's code for it), as "interrupted"/130 for Ctrl-C (the exit codes are in
docs/workflow.md "What a plan contains").
"""

from __future__ import annotations

import os
import signal
from types import FrameType

_terminated = False


def stop_gently_on_sigterm() -> None:
    """Answer SIGTERM as Ctrl-C is answered at that moment (the command line only).

    A SIGTERM the process was started ignoring stays ignored: whoever started it meant that.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminated
    # Whatever answers Ctrl-C now: Python's KeyboardInterrupt, asyncio's cancelling of the
    # command's task, or the prompt's own.
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        # Ctrl-C is ignored (a job started in the background by a script): nothing here would
        # unwind the command, so SIGTERM does what it always did.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _terminated = True
    handler(signal.SIGINT, frame)


def stopped() -> tuple[str, int]:
    """What a command stopped from outside says, and its exit code."""
    return ("terminated", 143) if _terminated else ("interrupted", 130)
