"""Pace outgoing requests: at most N per second (token bucket) and at most M in flight (semaphore).

The clock and the sleep are parameters so that tests check the pacing without waiting for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

# Shorter waits are not worth a trip through the event loop; the debt is not forgotten (the
# next reservation starts later), so the long-run rate still holds.
MIN_SLEEP = 0.001


class TokenBucket:
    """A token bucket of ``burst`` tokens refilled at ``rate`` per second.

    Implemented as the equivalent "generic cell rate algorithm": every caller reserves the next
    free send time synchronously, then sleeps until it. Reservations are made in call order, so
    waiting callers are served first come, first served, without a lock.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._tat = clock()  # theoretical arrival time of the next request

    def reserve(self) -> float:
        """Take one token; return how many seconds the caller must wait before using it."""
        now = self._clock()
        tat = max(self._tat, now)
        self._tat = tat + self._interval
        return max(0.0, tat - self._tolerance - now)

    async def acquire(self) -> float:
        """Wait until one request may be sent; return the time waited."""
        wait = self.reserve()
        if wait >= MIN_SLEEP:
            await self._sleep(wait)
        return wait


class Limiter:
    """Both limits together: a semaphore slot first, then a token, held for one request."""

    def __init__(
        self,
        *,
        rate: float,
        concurrency: int,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.bucket = TokenBucket(rate, burst=burst, clock=clock, sleep=sleep)
        self.concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self.in_flight = 0
        self.max_in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of ``concurrency`` slots; entered only once the rate allows a request.

        The slot is taken before the token so that the token's time is the send time: a token
        taken while waiting for a slot would let a burst through once slots free up.
        """
        async with self._semaphore:
            await self.bucket.acquire()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
