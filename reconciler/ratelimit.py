"""Pace outgoing requests: at most N per second (token bucket) and at most M in flight (semaphore).

The rate adapts to the server (additive increase, multiplicative decrease): a 429 halves it, at
most once per ``THROTTLE_INTERVAL``, and it then grows back linearly, by the configured rate
every ``RECOVERY_SECONDS``. The schedule API's own limit is not published (API.md section 1),
so the configured rate may be above it; retrying each refused request after its ``Retry-After``
while the others go on at the old rate keeps the server saturated until the retry budget runs
out (an apply that never converged in the fault campaign, tests/reliability).

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
THROTTLE_INTERVAL = 1.0  # seconds: the 429s of one burst halve the rate once, not once each
THROTTLE_FLOOR = 1 / 64  # the rate never drops below this share of the configured one
RECOVERY_SECONDS = 30.0  # time to grow back by the configured rate after a 429


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
        self.burst = burst
        self.set_rate(rate)
        self._clock = clock
        self._sleep = sleep
        self._tat = clock()  # theoretical arrival time of the next request

    def set_rate(self, rate: float) -> None:
        """Refill at ``rate`` per second from now on (reservations already made stand)."""
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (self.burst - 1) * self._interval

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
        self.configured_rate = rate
        self.concurrency = concurrency
        self._clock = clock
        self._last_throttle: float | None = None
        self._throttled_rate = rate  # the rate set by the last throttle
        self._semaphore = asyncio.Semaphore(concurrency)
        self.in_flight = 0
        self.max_in_flight = 0

    def throttle(self) -> None:
        """The server refused a request for its rate (429): halve ours (module docstring)."""
        now = self._clock()
        if self._last_throttle is not None and now - self._last_throttle < THROTTLE_INTERVAL:
            return
        self._last_throttle = now
        floor = self.configured_rate * THROTTLE_FLOOR
        self._throttled_rate = max(floor, self.bucket.rate / 2)
        self.bucket.set_rate(self._throttled_rate)

    def recover(self) -> None:
        """A request was answered: let the rate grow back towards the configured one."""
        if self._last_throttle is None or self.bucket.rate >= self.configured_rate:
            return
        grown = self.configured_rate * (self._clock() - self._last_throttle) / RECOVERY_SECONDS
        self.bucket.set_rate(min(self.configured_rate, self._throttled_rate + grown))

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
