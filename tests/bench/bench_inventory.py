"""Benchmark: a full remote inventory of 1000 schedules, ours vs. the official SDK loop.

The emulator runs under uvicorn on loopback (``reconciler emulator serve`` in its own process,
through ``tests/bench/harness.py``) with 50 ms injected latency per request; our client is
limited to 500 requests/s (the vendor's published per-app rate). Printed: wall time, the lower
bound for that latency, concurrency and rate (critical-path round trips x latency, or requests /
rate, whichever is larger), the ratio, and the same read done the way a user of
``engagelab-apppush`` would: list every page, then get every detail, one call after another.

Run (about a minute, most of it the SDK loop):

    .venv/bin/python tests/bench/bench_inventory.py
    .venv/bin/python tests/bench/bench_inventory.py --skip-sdk --concurrency 32

Targets (issue 4): within 1.3x of the bound, and at least 15x faster than the SDK loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import read_inventory
from tests.bench.harness import ServedEmulator, manifest_body, sdk_client, sdk_read_all

# Page 1, then all other pages at once, then the details of the last page to arrive.
CRITICAL_PATH_ROUND_TRIPS = 3


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--skip-sdk", action="store_true", help="do not run the SDK loop")
    args = parser.parse_args(argv)

    latency = args.latency_ms / 1000
    # The emulator in its own process (``reconciler emulator serve``), so that server and client
    # do not share one GIL: in one process the two threads convoy on the interpreter lock and the
    # figure would measure Python's thread switching, not the client.
    with ServedEmulator(latency_ms=args.latency_ms, max_active=max(1000, args.count)) as em:
        em.seed([manifest_body(i) for i in range(args.count)])
        url = em.url
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
        sdk_wall, sdk_read, sdk_requests = sdk_read_all(sdk_client(url))
        print(f"official SDK loop (one call after another): {sdk_read} schedules")
        print(f"  requests      {sdk_requests}")
        print(f"  wall          {sdk_wall:.3f} s")
        print(f"  speed-up      {sdk_wall / wall:.1f}x faster than the SDK loop (target >= 15x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
