"""Virtual time for tests: one fake serving as wall clock, monotonic clock and sleep.

Nothing here waits for real. ``FakeClock`` holds a wall time (``moment``, what an emulator's
``clock=`` reads through ``wall``) and a monotonic time (``now``, what rate limiters, token
buckets and the state lock read through ``monotonic``). Its sleeps, async (``sleep``) and
blocking (``sleep_sync``), record each wait in ``sleeps`` and move ``now`` by it, so code that
waits for a token or a lock sees the seconds pass at once; ``advance=False`` keeps ``now``
still (a test that steps the clock itself and only wants to see the waits asked for).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

EPOCH = datetime(2027, 1, 1, tzinfo=UTC)


class FakeClock:
    """A wall clock, a monotonic clock and sleeps that move only in virtual time."""

    def __init__(
        self,
        moment: datetime = EPOCH,
        *,
        now: float = 1000.0,
        advance: bool = True,
        on_sleep: Callable[[int], None] | None = None,
    ) -> None:
        self.moment = moment
        self.now = now
        self.sleeps: list[float] = []
        self.advance = advance
        self.on_sleep = on_sleep  # called with the number of sleeps so far, after each one

    def wall(self) -> datetime:
        """The wall time: ``moment``, until a test sets another."""
        return self.moment

    def monotonic(self) -> float:
        """The monotonic time in seconds: ``now``."""
        return self.now

    def sleep_sync(self, seconds: float) -> None:
        """A blocking sleep that returns at once, the wait recorded (and passed, by default)."""
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))

    async def sleep(self, seconds: float) -> None:
        """``sleep_sync`` for coroutines; yields to the event loop once, as a real sleep does."""
        self.sleep_sync(seconds)
        await asyncio.sleep(0)
