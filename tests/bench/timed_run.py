"""``python tests/bench/timed_run.py OUT ARGS...``: ``reconciler ARGS`` with a timeline in OUT.

The command runs as ``python -m reconciler`` would, in this process; OUT receives, as JSON,
seconds since this script started: when each request was handed to the transport and when its
answer was read (method, start, end), and when the process ended. What start-up
work moves is the time to the first request; the whole-process wall time also holds the paced
requests and the host's noise (bench_startup.py).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import atexit  # noqa: E402  (the clock starts before any import)
import json  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from reconciler.remote import transport  # noqa: E402


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    requests: list[tuple[str, float, float]] = []
    send = transport.Transport._send

    async def timed(self: transport.Transport, method: str, path: str, body: Any) -> Any:
        start = time.perf_counter() - STARTED
        response = await send(self, method, path, body)
        requests.append((method, start, time.perf_counter() - STARTED))
        return response

    def write() -> None:
        timeline = {
            "requests": sorted(requests, key=lambda r: r[1]),
            "exit": time.perf_counter() - STARTED,
        }
        with open(out, "w", encoding="utf-8") as f:
            json.dump(timeline, f)

    transport.Transport._send = timed  # type: ignore[method-assign]
    atexit.register(write)  # the command line ends with os._exit, after the exit handlers
    sys.argv = ["reconciler", *args]
    runpy.run_module("reconciler", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
