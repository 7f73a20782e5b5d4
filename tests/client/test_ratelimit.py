"""Pacing: the token bucket spaces requests at the rate, the semaphore bounds those in flight."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.remote.limiter import Limiter, TokenBucket
from tests.kit.clock import FakeClock


def test_bucket_spaces_requests_at_the_rate() -> None:
    """At 10 req/s with no burst, the n-th of back-to-back requests waits n/10 s."""
    t = FakeClock(now=100.0)
    bucket = TokenBucket(10, clock=t.monotonic, sleep=t.sleep)
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_bucket_allows_a_burst_then_paces() -> None:
    """A burst of 3 goes out at once; the fourth waits one interval."""
    t = FakeClock(now=100.0)
    bucket = TokenBucket(10, burst=3, clock=t.monotonic, sleep=t.sleep)
    waits = [bucket.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1])


def test_bucket_refills_while_idle() -> None:
    """After a pause as long as the interval, the next request does not wait."""
    t = FakeClock(now=100.0)
    bucket = TokenBucket(10, clock=t.monotonic, sleep=t.sleep)
    bucket.reserve()
    t.now += 0.1
    assert bucket.reserve() == 0.0


def test_acquire_sleeps_for_the_reserved_wait() -> None:
    """acquire() really sleeps (through the injected sleep) before the paced request."""
    t = FakeClock(now=100.0)
    bucket = TokenBucket(4, clock=t.monotonic, sleep=t.sleep)

    async def go() -> None:
        for _ in range(3):
            await bucket.acquire()

    asyncio.run(go())
    assert t.sleeps == pytest.approx([0.25, 0.25])
    assert t.now == pytest.approx(100.5)


def test_waits_below_a_millisecond_are_not_slept_but_not_forgotten() -> None:
    """At 10 000 req/s the first few requests skip sub-ms waits; the rate still holds overall."""
    t = FakeClock(now=100.0)
    bucket = TokenBucket(10_000, clock=t.monotonic, sleep=t.sleep)

    async def go() -> None:
        for _ in range(100):
            await bucket.acquire()

    asyncio.run(go())
    # 100 requests at 10 000/s take at least 99 intervals = 9.9 ms, minus the 1 ms slack.
    assert t.now - 100.0 >= 0.0099 - 0.001
    assert all(s >= 0.001 for s in t.sleeps)


def test_limiter_never_exceeds_its_concurrency() -> None:
    """With 20 concurrent users and 3 slots, at most 3 are inside at any moment."""
    limiter = Limiter(rate=1e9, concurrency=3)
    inside = 0
    peak = 0

    async def user() -> None:
        nonlocal inside, peak
        async with limiter.slot():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    async def go() -> None:
        await asyncio.gather(*(user() for _ in range(20)))

    asyncio.run(go())
    assert peak == 3
    assert limiter.max_in_flight == 3


def test_bad_rate_or_concurrency_is_refused() -> None:
    """A zero rate or zero slots would hang forever: refused at construction."""
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="concurrency"):
        Limiter(rate=1, concurrency=0)


def test_a_window_that_grows_lets_waiting_requests_in_and_a_cancelled_waiter_holds_no_place() -> (
    None
):
    """The window changes size while requests wait: growing it from 1 to 3 lets two waiting
    requests in at once; a request cancelled while waiting takes no place."""
    from reconciler.remote.limiter import _Gate

    async def go() -> None:
        gate = _Gate(1)
        await gate.enter()
        waiting = [asyncio.ensure_future(gate.enter()) for _ in range(3)]
        await asyncio.sleep(0)
        assert gate.inside == 1
        waiting[0].cancel()
        await asyncio.sleep(0)
        gate.resize(3)
        await asyncio.sleep(0)
        assert [w.done() and not w.cancelled() for w in waiting] == [False, True, True]
        assert gate.inside == 3
        gate.leave()
        assert gate.inside == 2

    asyncio.run(go())
