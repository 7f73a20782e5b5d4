"""Concurrent requests over real HTTP: nothing lost, nothing doubled, the limit holds exactly."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reconciler.emulator import Emulator
from tests.emulator.helpers import AUTH, periodical, single


@pytest.fixture
def pooled(served_url: str, emulator: Emulator) -> Iterator[httpx.Client]:
    """One thread-safe client with up to 8 parallel connections to the served emulator."""
    limits = httpx.Limits(max_connections=8)
    with httpx.Client(base_url=served_url, auth=AUTH, limits=limits) as client:
        yield client


def test_parallel_creates_are_all_kept(pooled: httpx.Client, emulator: Emulator) -> None:
    """80 creates from 8 threads: 80 distinct ids, 80 listed tasks."""

    def create(i: int) -> str:
        return str(pooled.post("/v4/schedules", json=single(f"t{i:02d}")).json()["schedule_id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(create, range(80)))
    assert len(set(ids)) == 80
    assert {s["schedule_id"] for s in emulator.schedules()} == set(ids)


def test_limit_holds_under_parallel_creates(pooled: httpx.Client, emulator: Emulator) -> None:
    """With max_active 20, 40 parallel creates: exactly 20 succeed, 20 get 28100."""
    emulator.max_active = 20

    def create(i: int) -> int:
        return pooled.post("/v4/schedules", json=single(f"t{i:02d}")).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(40)))
    assert sorted(statuses) == [200] * 20 + [400] * 20
    assert len(emulator.schedules()) == 20


def test_parallel_deletes_of_one_task_succeed_once(
    pooled: httpx.Client, emulator: Emulator
) -> None:
    """Ten threads deleting the same task: one 200, nine 404."""
    sid = emulator.add_schedule(single())

    def delete(_: int) -> int:
        return pooled.delete(f"/v4/schedules/{sid}").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(delete, range(10)))
    assert statuses == [200] + [404] * 9


def test_clock_moves_safely_while_serving(pooled: httpx.Client, emulator: Emulator) -> None:
    """Advancing the clock from the test thread while requests run loses no firing."""
    sid = emulator.add_schedule(periodical())

    def read(_: int) -> int:
        return pooled.get("/v4/schedules").status_code

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(read, i) for i in range(40)]
        for _ in range(10):
            emulator.advance(86400)
        assert all(f.result() == 200 for f in futures)
    assert len(emulator.msg_records(sid)) == 10
