"""Benchmark: requests per second the emulator serves on loopback with faults off.

Run:  .venv/bin/python tests/bench/bench_emulator.py [--seconds 5] [--workers 4] [--min-rps 1000]
      [--data FILE]   (persist to FILE after every write, like the embedded default)

The server runs as ``reconciler emulator serve`` in its own process (so the load generator does
not share its interpreter lock); the load comes from keep-alive ``http.client`` connections in
threads, a realistic mix of reads and writes: detail GETs, list pages, msg-ids, full-body PUTs,
and create + delete pairs. Prints the figure; exits 1 if it is below ``--min-rps``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.kit import bodies

ROOT = Path(__file__).resolve().parents[2]
AUTH = "Basic " + base64.b64encode(f"{DEMO_APP_KEY}:{DEMO_MASTER_SECRET}".encode()).decode()
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}


def schedule_body(i: int) -> dict[str, object]:
    trigger = bodies.periodical(
        start="2030-01-01 00:00:00",
        end="2030-06-01 00:00:00",
        time="09:30:00",
        point=("MON", "THU"),
    )
    section = bodies.push(
        to={"tag": ["bench"]},
        notification={"alert": f"digest {i}", "android": {"title": "Digest"}},
        options={"time_to_live": 3600},
    )
    return bodies.body(f"bench_{i}", trigger=trigger, push=section)


def start_server(data: str | None) -> tuple[subprocess.Popen[str], str, int]:
    extra = ["--data", data] if data else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--now", "2029-12-01T00:00:00+00:00",
         "emulator", "serve", "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    host, port = url.removeprefix("http://").split(":")
    return proc, host, int(port)


def call(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=payload, headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {data!r}")
    return data


def worker(host: str, port: int, ids: list[str], wid: int, stop: float, counts: list[int]) -> None:
    conn = http.client.HTTPConnection(host, port)
    n = 0
    i = 0
    while time.perf_counter() < stop:
        sid = ids[(wid * 7 + i) % len(ids)]
        step = i % 10
        if step < 5:
            call(conn, "GET", f"/v4/schedules/{sid}")
            n += 1
        elif step == 5:
            call(conn, "GET", f"/v4/schedules?page={1 + i % 4}")
            n += 1
        elif step == 6:
            call(conn, "GET", f"/v4/schedules/{sid}/msg-ids")
            n += 1
        elif step == 7:
            call(conn, "PUT", f"/v4/schedules/{sid}", schedule_body(wid * 1000 + i))
            n += 1
        else:
            created = json.loads(call(conn, "POST", "/v4/schedules", schedule_body(i)))
            call(conn, "DELETE", f"/v4/schedules/{created['schedule_id']}")
            n += 2
            i += 1
        i += 1
    conn.close()
    counts[wid] = n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--min-rps", type=float, default=1000.0)
    parser.add_argument(
        "--data",
        default=None,
        help="Persist to this file (fsync per write), as the embedded default does.",
    )
    args = parser.parse_args()

    proc, host, port = start_server(args.data)
    try:
        setup = http.client.HTTPConnection(host, port)
        ids = [
            json.loads(call(setup, "POST", "/v4/schedules", schedule_body(i)))["schedule_id"]
            for i in range(200)
        ]
        setup.close()
        counts = [0] * args.workers
        stop = time.perf_counter() + args.seconds
        started = time.perf_counter()
        threads = [
            threading.Thread(target=worker, args=(host, port, ids, w, stop, counts))
            for w in range(args.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    total = sum(counts)
    rps = total / elapsed
    print(
        f"emulator: {total} requests in {elapsed:.2f} s over {args.workers} keep-alive "
        f"connections = {rps:.0f} requests/s (faults off, 200 active tasks, mixed reads/writes, "
        f"{'persisted to ' + args.data if args.data else 'in memory'})"
    )
    return 0 if rps >= args.min_rps else 1


if __name__ == "__main__":
    sys.exit(main())
