"""Benchmark: a full remote inventory of 1000 schedules, ours vs. the official SDK loop.

The emulator runs under uvicorn on loopback (``reconciler.testing.serve_emulator``) with 50 ms
injected latency per request; our client is limited to 500 requests/s (the vendor's published
per-app rate). Printed: wall time, the lower bound for that latency, concurrency and rate
(critical-path round trips x latency, or requests / rate, whichever is larger), the ratio, and
the same read done the way a user of ``engagelab-apppush`` would: list every page, then get
every detail, one call after another.

Run (about a minute, most of it the SDK loop):

    .venv/bin/python tests/bench/bench_inventory.py
    .venv/bin/python tests/bench/bench_inventory.py --skip-sdk --concurrency 32

Targets (issue 4): within 1.3x of the bound, and at least 15x faster than the SDK loop.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from reconciler.client import EngageLabClient
from reconciler.config import ClientSettings, Credentials
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults
from reconciler.inventory import read_inventory
from reconciler.testing import serve_emulator

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
# Page 1, then all other pages at once, then the details of the last page to arrive.
CRITICAL_PATH_ROUND_TRIPS = 3


def schedule_body(i: int) -> dict[str, Any]:
    return {
        "name": f"bench_{i:04d}",
        "enabled": True,
        "trigger": {
            "periodical": {
                "start": "2027-01-01 00:00:00",
                "end": "2027-06-01 00:00:00",
                "time": "09:00:00",
                "time_unit": "week",
                "point": ["MON", "THU"],
                "zone_type": 1,
            }
        },
        "push": {
            "to": {"tag": [f"segment_{i % 7}"]},
            "body": {
                "platform": "all",
                "notification": {"alert": f"Digest {i}", "android": {"title": "Digest"}},
            },
        },
    }


def _serve(conn: Connection, count: int, latency_ms: float) -> None:
    """Child process: fill an emulator, serve it under uvicorn, report the URL, wait for "stop"."""
    emulator = Emulator(clock=lambda: NOW, max_active=max(1000, count))
    for i in range(count):
        emulator.add_schedule(schedule_body(i))
    emulator.faults = Faults(latency_ms=latency_ms)
    with serve_emulator(emulator) as url:
        conn.send(url)
        conn.recv()


@contextmanager
def emulator_process(count: int, latency_ms: float) -> Iterator[str]:
    """The emulator in its own process, so that server and client do not share one GIL.

    In one process the two threads convoy on the GIL and the figure would measure Python's
    thread switching, not the client; the real API is on another machine anyway.
    """
    ours_end, child_end = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(child_end, count, latency_ms), daemon=True
    )
    process.start()
    try:
        if not ours_end.poll(120):
            raise SystemExit("the emulator process did not start")
        yield ours_end.recv()
    finally:
        ours_end.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()


async def ours(url: str, *, rate: float, concurrency: int) -> tuple[float, int, int, int, int]:
    settings = ClientSettings(
        base_url=url,
        credentials=Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET),
        rate_limit=rate,
        concurrency=concurrency,
    )
    async with EngageLabClient(settings) as client:
        started = time.perf_counter()
        inventory = await read_inventory(client)
        wall = time.perf_counter() - started
        if not inventory.complete:
            raise SystemExit(f"inventory incomplete: {inventory.problems}")
        return (
            wall,
            len(inventory.schedules),
            client.stats.requests,
            client.stats.retries,
            client.max_in_flight,
        )


def sdk_loop(url: str) -> tuple[float, int, int]:
    import engagelab

    client = engagelab.Client(DEMO_APP_KEY, DEMO_MASTER_SECRET, base_url=url)
    started = time.perf_counter()
    requests = 1
    first = client.schedule.list(1)
    rows = list(first.schedules or [])
    for page in range(2, first.total_pages + 1):
        rows.extend(client.schedule.list(page).schedules or [])
        requests += 1
    details = []
    for row in rows:
        details.append(client.schedule.get(row["schedule_id"]))
        requests += 1
    return time.perf_counter() - started, len(details), requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--skip-sdk", action="store_true", help="do not run the SDK loop")
    args = parser.parse_args(argv)

    latency = args.latency_ms / 1000
    with emulator_process(args.count, args.latency_ms) as url:
        wall, read, requests, retries, peak = asyncio.run(
            ours(url, rate=args.rate, concurrency=args.concurrency)
        )
        bound = max(CRITICAL_PATH_ROUND_TRIPS * latency, requests / args.rate)
        print(
            f"inventory of {read} schedules over HTTP, {args.latency_ms:g} ms latency, "
            f"rate limit {args.rate:g}/s, concurrency {args.concurrency}"
        )
        print(f"  requests      {requests} ({retries} retries, at most {peak} in flight)")
        print(f"  wall          {wall:.3f} s")
        print(
            f"  lower bound   {bound:.3f} s = max({CRITICAL_PATH_ROUND_TRIPS} round trips x "
            f"{latency:g} s, {requests} requests / {args.rate:g}/s)"
        )
        print(f"  ratio         {wall / bound:.2f}x the bound (target <= 1.3x)")
        if args.skip_sdk:
            return 0
        sdk_wall, sdk_read, sdk_requests = sdk_loop(url)
        print(f"official SDK loop (one call after another): {sdk_read} schedules")
        print(f"  requests      {sdk_requests}")
        print(f"  wall          {sdk_wall:.3f} s")
        print(f"  speed-up      {sdk_wall / wall:.1f}x faster than the SDK loop (target >= 15x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
