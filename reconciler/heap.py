"""The command-line process's heap: when the cycle collector runs, and how the process ends.

A command is a short process whose objects (modules, models, the loaded manifests, the remote
bodies) mostly live to its end, and whose garbage is almost all freed by reference counting.
The cycle collector still walks that heap: in a plan of 1000 schedules, two young-generation
passes during the load (40 ms) and one full pass in the middle of the read (170 ms, with every
request in flight held up behind it) found about 43 000 dead objects, a few MB. So the command
line defers collection until the long-lived part of the heap is built, then moves that part out
of the collector's sight (``gc.freeze``) and lets it run over what comes after: young and
cheap. A command that never reaches that point (``validate``, ``state``) ends with the collector
still off; what it leaves uncollected is bounded by the one command.

Freeing the heap object by object when the command is done gives nothing back either: the
operating system takes the whole process at once. In a plan of 1000 schedules the manifests,
the remote bodies and the plan took 35-50 ms to free, half when the operation returned and half
in the interpreter's shutdown. So what a command works from is ``keep``-ed to the end, and the
process ends with ``leave``: output flushed, threads joined, exit handlers run, then
``os._exit``.

The Python API never calls ``defer``, and without it nothing here does anything.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from contextlib import suppress
from typing import NoReturn

from reconciler import stopping

__all__ = ["defer", "keep", "leave", "settle"]

# Collections after ``settle``: with the default 700, the young generation was collected ~280
# times in a plan of 1000 schedules for 0.1 s of CPU, finding next to nothing.
_THRESHOLDS = (10_000, 10, 10)

_command_line = False  # ``defer`` ran: this process is one command
_deferred = False  # collection is off until ``settle``
_kept: list[object] = []


def defer() -> None:
    """No cycle collection until ``settle`` (called once, by the command line's entry point)."""
    global _command_line, _deferred
    gc.disable()
    _command_line = _deferred = True
    # At exit the interpreter runs one last full collection over everything still alive, which
    # finds nothing worth freeing before the process ends: 70 ms after a plan of 1000
    # schedules. Frozen objects are skipped. (Files are closed by then; stdio is flushed anyway.)
    atexit.register(gc.freeze)


def settle(*kept: object) -> None:
    """The objects alive now live to the end of the process: freeze them and collect again.

    ``kept`` are held to the end as well (``keep``). Does nothing unless ``defer`` ran, so
    that a program using the Python API keeps its own collector settings; the freeze and the
    thresholds happen once.
    """
    global _deferred
    keep(*kept)
    if not _deferred:
        return
    _deferred = False
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
    gc.enable()


def keep(*objects: object) -> None:
    """Hold ``objects`` until the command-line process ends, so that they are never freed one
    by one (a no-op without ``defer``: a program using the Python API frees what it likes)."""
    if _command_line:
        _kept.extend(objects)


def leave(code: int) -> NoReturn:
    """End the command-line process with ``code``, without freeing its heap.

    Everything an orderly exit does that anyone can see still happens: threads that are not
    daemons are joined (a state save in progress finishes), the exit handlers run (logging
    flushes its handlers), and standard output and error are flushed. Under a tracer or a
    profiler (coverage, cProfile), or without ``defer``, the exit is the ordinary one, so that
    they can write their results.
    """
    # The interpreter's own first steps of shutdown are private functions; a Python without
    # them (they are not an API) gets the ordinary exit, slower by the heap's freeing only.
    join_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if (
        not _command_line
        or sys.gettrace() is not None
        or sys.getprofile() is not None
        or join_threads is None
        or run_exit_handlers is None
    ):
        sys.exit(code)
    # What the interpreter's own shutdown does first: thread pools told to stop, then every
    # thread that is not a daemon joined (a pool's idle workers would otherwise wait forever).
    try:
        join_threads()
    except KeyboardInterrupt:
        # Ctrl-C while a thread finishes (a state save: a temporary file renamed into place,
        # so the file is whole either way, and the journal covers what it did not record).
        said, code = stopping.stopped()
        with suppress(OSError, ValueError):
            sys.stderr.write(said + "\n")
    said, stopped_code = stopping.stopped()
    if stopping.requested() and code != stopped_code:
        # Asked to stop (Ctrl-C, SIGTERM) while the end waited for the thread: it finished,
        # and the exit still says the command was stopped.
        with suppress(OSError, ValueError):
            sys.stderr.write(said + "\n")
        code = stopped_code
    run_exit_handlers()
    unflushed = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            unflushed = True
    # As the interpreter does: output that could not be written is no success (exit 120).
    os._exit(120 if unflushed and code == 0 else code)
