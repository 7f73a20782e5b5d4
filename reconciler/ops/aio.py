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

    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
