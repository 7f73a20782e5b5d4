"""Benchmark: the whole ``reconciler validate`` process on N manifests in every YAML style.

Run:  .venv/bin/python -m tests.bench.bench_validate [--sizes 1000,5000] [--runs 3]
      (``python -m tests.bench`` prints the same table after its scenarios; ``--validate-only``
      there runs just this.)

Writes N manifests like the vendor's periodical example (one schedule per file, unique names,
the same schedule in every style) into a temporary directory and times ``reconciler validate
DIR`` as a fresh process, start-up and imports included, ``--runs`` times per style:

- ``block``: plain block style (tests/bench/harness.py's template);
- ``flow``: the whole document as JSON, the way the vendor's examples are pasted;
- ``mixed``: block style with flow mappings and sequences inside (``extras: {key1: value1}``);
- ``anchors``: block style with anchors and aliases (the alert reused as title and custom arg).
- ``warnings``: block style, names with spaces as the vendor writes them (a warning per file).

Printed per style and size: median and best wall time, the CPU time of the process (user +
system, from ``wait4``: far less sensitive than wall time to other processes on the machine),
peak RSS, and the ratios of the median wall time to the target (1000: 0.5 s, 5000: 2 s) and
of the CPU time to the previous reader's CPU time on the same files (``BEFORE``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import NOW, alert, manifest_body, manifest_text, schedule_name, tool_env

TARGETS = {1000: 0.5, 5000: 2.0}  # seconds, wall, whole process

# CPU seconds (user + system) of `reconciler validate` with the previous reader (a block-style
# subset reader, everything else through ruamel.yaml's pure-Python loader), measured with this
# benchmark's files on the 2-core development machine while other work kept it busy.
BEFORE: dict[tuple[str, int], float] = {
    ("block", 1000): 0.44,
    ("flow", 1000): 2.58,
    ("mixed", 1000): 3.59,
    ("anchors", 1000): 3.66,
    ("block", 5000): 1.39,
    ("flow", 5000): 12.68,
    ("mixed", 5000): 16.69,
    ("anchors", 5000): 16.84,
}

MIXED = """\
name: {name}
enabled: true
trigger:
  periodical: {{start: "2027-01-01 00:00:00", end: "2027-06-30 00:00:00", time: "12:00:00",
    time_unit: day, point: [], zone_type: 1}}
push:
  from: push
  to: {{registration_id: [1a0018970ab49abda3e, 100d85590955c1d2793]}}
  body:
    platform: android
    notification:
      alert: {alert}
      android: {{title: repeats periodic tasks, extras: {{key1: value1}}}}
    options: {{time_to_live: 60}}
  request_id: "67890"
  custom_args: {{Engagelab: push to you}}
"""

ANCHORS = """\
name: {name}
enabled: true
trigger:
  periodical: &window
    start: "2027-01-01 00:00:00"
    end: "2027-06-30 00:00:00"
    time: "12:00:00"
    time_unit: day
    point: []
    zone_type: 1
push:
  from: push
  to:
    registration_id: &devices
      - 1a0018970ab49abda3e
      - 100d85590955c1d2793
  body:
    platform: android
    notification:
      alert: &alert {alert}
      android:
        title: *alert
        extras: &extras
          key1: value1
    options:
      time_to_live: 60
  request_id: "67890"
  custom_args:
    Engagelab: *alert
"""

STYLES: dict[str, Callable[[int], str]] = {
    "block": manifest_text,
    "flow": lambda i: json.dumps(manifest_body(i), ensure_ascii=False) + "\n",
    "mixed": lambda i: MIXED.format(name=schedule_name(i), alert=alert(i, 0)),
    "anchors": lambda i: ANCHORS.format(name=schedule_name(i), alert=alert(i, 0)),
    # block style with the vendor's own naming style (spaces): one warning per file
    "warnings": lambda i: manifest_text(i).replace(
        schedule_name(i), f"Timed Push Example_periodical {i:05d}"
    ),
}


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_rss_mb: float


@dataclass(frozen=True)
class StyleRow:
    style: str
    size: int
    runs: list[Run]

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)


def write_style(directory: Path, style: str, count: int) -> None:
    directory.mkdir(parents=True)
    make = STYLES[style]
    for i in range(count):
        (directory / f"periodical_{i:05d}.yaml").write_text(make(i), encoding="utf-8")


def time_validate(directory: Path, count: int) -> Run:
    """One ``python -m reconciler validate DIR``: wall time, CPU time and peak RSS."""
    command = [sys.executable, "-m", "reconciler", "--now", NOW, "validate", str(directory)]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=directory.parent,  # not the repository: `-m` would import from the cwd first
            env=tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    lines = text.strip().splitlines()
    if proc.returncode != 0 or f"{count} schedule(s)" not in (lines[-1] if lines else ""):
        sys.exit(f"validate failed (exit {proc.returncode}):\n{text[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def run_styles(sizes: list[int], runs: int, styles: list[str] | None = None) -> list[StyleRow]:
    rows: list[StyleRow] = []
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        for size in sizes:
            for style in styles or list(STYLES):
                directory = Path(tmp, f"{style}-{size}")
                write_style(directory, style, size)
                rows.append(
                    StyleRow(style, size, [time_validate(directory, size) for _ in range(runs)])
                )
    return rows


def style_table(rows: list[StyleRow]) -> str:
    lines = [
        "| N | style | wall (median) | wall (best) | CPU | peak RSS | wall / target "
        "| CPU / before |",
        "|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        target = TARGETS.get(r.size)
        before = BEFORE.get((r.style, r.size))
        vs_target = f"{r.wall / target:.2f} (target {target:g} s)" if target else "–"
        vs_before = f"{r.cpu / before:.3f} (before {before:.2f} s)" if before else "–"
        lines.append(
            f"| {r.size} | {r.style} | {r.wall:.2f} s | {min(x.wall for x in r.runs):.2f} s | "
            f"{r.cpu:.2f} s | {max(x.peak_rss_mb for x in r.runs):.0f} MB | {vs_target} | "
            f"{vs_before} |"
        )
    return "\n".join(lines)


def style_verdicts(rows: list[StyleRow]) -> list[str]:
    out = []
    for r in rows:
        target = TARGETS.get(r.size)
        if target is not None:
            ok = r.wall <= target
            out.append(
                f"{'ok ' if ok else 'MISS'} validate {r.size} {r.style} ≤ {target:g} s: "
                f"{r.wall:.2f} s (CPU {r.cpu:.2f} s)"
            )
    return out


def report(rows: list[StyleRow]) -> str:
    load = os.getloadavg()[0]
    return "\n".join(
        [
            f"reconciler validate, whole process, every YAML style ({os.cpu_count()} CPUs, "
            f"load average {load:.2f}):",
            "",
            style_table(rows),
            "",
            *style_verdicts(rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--styles", default=",".join(STYLES), help="comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    rows = run_styles(sizes, args.runs, [s for s in args.styles.split(",") if s])
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
