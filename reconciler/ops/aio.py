"""Running an operation's coroutine to its end from the synchronous command line."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[object, None, T]) -> T:
    """``asyncio.run(coro)``, without CPython 3.11 formatting the result into a string.

    On its way out ``asyncio.run`` asks ``signal.getsignal`` about its SIGINT handler, a
    partial bound to the main task; 3.11 builds a ValueError message from the handler's repr,
    which includes the repr of the task's result: for a plan of 1000 schedules 75 ms of the
    command's wall time, growing with the plan. The result is handed over beside the task.
    """
    import asyncio  # here: `validate` and `schema` need no event loop at start-up

    from reconciler import stopping

    if stopping.requested():  # stopped while the command got ready: no request goes out
        coro.close()
        stopping.check()

    box: list[T] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        # A Ctrl-C or SIGTERM cancels the command at its next await (reconciler/stopping.py).
        cancel = stopping.ignore_errors_of(lambda: loop.call_soon_threadsafe(task.cancel))
        with stopping.cancelling(cancel):
            if stopping.requested():  # one that came before the canceller was in place
                coro.close()
                raise asyncio.CancelledError
            box.append(await coro)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        stopping.check()  # cancelled for a Ctrl-C or SIGTERM: say so
        raise
    return box[0]
