"""Benchmark: how long a command takes to send its first request, and its first write.

The 500/s rows of ``python -m tests.bench`` are the paced requests (about 2 s at 1000) plus
what comes before the first request (interpreter, imports, reading the manifests) and between
the read and the first write (planning, printing the plan). Work on those moves them by tens of
milliseconds, and the host's noise moves the whole-process wall time by more than that from one
run to the next. So this runs each command ``--runs`` times under ``timed_run.py``, which
records from inside the process when each request went out and when its answer came, and
prints the medians and ranges of those moments next to the wall time.

Scenarios at ``--size`` (default 1000) against the emulator with 50 ms per answer and a limit
of 500/s, default settings: ``apply`` of N creates into an empty app, then a no-op ``plan``.

Run:  .venv/bin/python -m tests.bench.bench_startup [--size 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.bench.harness import NOW, ServedEmulator, run_tool, write_manifests

TIMED_RUN = Path(__file__).with_name("timed_run.py")
WRITES = ("POST", "PUT", "DELETE")


def _timed(args: list[str], cwd: Path) -> dict[str, float | None]:
    """One run of ``reconciler ARGS`` under timed_run.py: its moments, in seconds."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = run_tool([out.name, *args], cwd, command=[sys.executable, str(TIMED_RUN)])
        if done.exit_code not in (0, 2):
            raise SystemExit(f"reconciler {' '.join(args)} failed: {done.stderr[-2000:]}")
        timeline: dict[str, Any] = json.loads(Path(out.name).read_text(encoding="utf-8"))
    requests = timeline["requests"]
    writes = [start for method, start, _ in requests if method in WRITES]
    return {
        "first request": requests[0][1],
        "first write": writes[0] if writes else None,  # a plan writes nothing
        "last answer": max(end for _, _, end in requests),
        "exit": timeline["exit"],
        "wall": done.wall,
    }


def _row(name: str, runs: list[dict[str, float | None]]) -> str:
    cells = []
    for key in runs[0]:
        values = [v for r in runs if (v := r[key]) is not None]
        if not values:
            cells.append("–")
            continue
        cells.append(f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})")
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    project = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    creates: list[dict[str, float | None]] = []
    plans: list[dict[str, float | None]] = []
    try:
        with ServedEmulator(latency_ms=50) as em:
            common = ["--endpoint", em.url, "--now", NOW]
            for _ in range(args.runs):
                em.reset()
                em.set_server_limit(500)
                shutil.rmtree(project / ".reconciler", ignore_errors=True)
                write_manifests(project / "schedules", args.size)
                creates.append(_timed([*common, "apply", "--auto-approve"], project))
                plans.append(_timed([*common, "plan", "--detailed-exitcode"], project))
            # The no-op plan must have been one: the last apply left nothing to do.
            check = run_tool([*common, "plan", "--detailed-exitcode"], project)
            if check.exit_code != 0:
                raise SystemExit(f"the plan after apply was not a no-op: {check.stdout[-500:]}")
    finally:
        shutil.rmtree(project, ignore_errors=True)
    print(
        f"\nN = {args.size}, 50 ms per answer, server limit 500/s, default settings; "
        f"seconds since the process started, median (range) of {args.runs} runs\n"
    )
    print("| command | first request | first write | last answer | exit | wall (outside) |")
    print("|---|--:|--:|--:|--:|--:|")
    print(_row(f"apply ({args.size} creates)", creates))
    print(_row("plan (no-op)", plans))
    return 0


if __name__ == "__main__":
    sys.exit(main())
