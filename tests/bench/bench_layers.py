"""Benchmark: ``validate`` of N manifests with shared defaults and an overlay vs. plain ones.

Run:  .venv/bin/python -m tests.bench.bench_layers [--count 1000] [--runs 5]

Writes the same N schedules twice (tests/bench/harness.py's periodical example):

- ``plain``: one complete manifest per file, ``reconciler validate schedules``;
- ``layered``: the push body in a root ``_defaults.yaml``, ten sub-directories of N/10
  manifests each with their own ``_defaults.yaml`` (the custom args), every tenth manifest
  naming a base with ``extends``, each manifest holding only its name, trigger and alert; and a
  ``staging`` environment whose overlay patches every schedule (``"*"``: the audience) and every
  tenth one by name (``shift: "+1d"``): ``reconciler --env staging validate``.

Each is a fresh process (start-up and imports included), ``--runs`` times; printed: median
wall and CPU time (user + system, from ``wait4``) of each, and the ratio layered / plain of the
CPU medians against the goal of 1.5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import NOW, alert, schedule_name, tool_env, write_manifests

GOAL = 1.5

DEFAULTS = """\
enabled: true
push:
  from: push
  to:
    registration_id:
      - 1a0018970ab49abda3e
      - 100d85590955c1d2793
  body:
    platform: android
    notification:
      android:
        title: repeats periodic tasks
        extras:
          key1: value1
    options:
      time_to_live: 60
  request_id: "67890"
"""
GROUP_DEFAULTS = """\
push:
  custom_args:
    Engagelab: push to you
"""
BASE = """\
trigger:
  periodical:
    time_unit: day
    point: []
    zone_type: 1
"""
MANIFEST = """\
name: {name}
trigger:
  periodical:
    start: "2027-01-01 00:00:00"
    end: "2027-06-30 00:00:00"
    time: "12:00:00"
    time_unit: day
    point: []
    zone_type: 1
push:
  body:
    notification:
      alert: {alert}
"""
EXTENDING = """\
extends: ../_base.yaml
name: {name}
trigger:
  periodical:
    start: "2027-01-01 00:00:00"
    end: "2027-06-30 00:00:00"
    time: "12:00:00"
push:
  body:
    notification:
      alert: {alert}
"""


def write_layered(project: Path, count: int) -> None:
    schedules = project / "schedules"
    schedules.mkdir(parents=True)
    (schedules / "_defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
    (schedules / "_base.yaml").write_text(BASE, encoding="utf-8")
    groups = 10
    for g in range(groups):
        group = schedules / f"group_{g}"
        group.mkdir()
        (group / "_defaults.yaml").write_text(GROUP_DEFAULTS, encoding="utf-8")
    patches = ['"*":\n  push:\n    to:\n      registration_id: null\n      tag: [qa]\n']
    for i in range(count):
        template = EXTENDING if i % 10 == 0 else MANIFEST
        text = template.format(name=schedule_name(i), alert=alert(i, 0))
        (schedules / f"group_{i % groups}" / f"periodical_{i:05d}.yaml").write_text(
            text, encoding="utf-8"
        )
        if i % 10 == 0:
            patches.append(f'{schedule_name(i)}:\n  shift: "+1d"\n')
    overlay = project / "overlays" / "staging"
    overlay.mkdir(parents=True)
    (overlay / "patches.yaml").write_text("".join(patches), encoding="utf-8")
    (project / "reconciler.yaml").write_text(
        "environments:\n  staging:\n    manifests: schedules\n    overlay: overlays/staging\n",
        encoding="utf-8",
    )


def run(args: list[str], cwd: Path, count: int) -> tuple[float, float]:
    """One ``python -m reconciler --now NOW ARGS`` in ``cwd``: wall and CPU seconds."""
    command = [sys.executable, "-m", "reconciler", "--now", NOW, *args]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=cwd, env=tool_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    lines = text.strip().splitlines()
    if os.waitstatus_to_exitcode(status) != 0 or f"{count} schedule(s)" not in lines[-1]:
        sys.exit(f"validate failed:\n{text[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args(argv)
    count = options.count
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
        plain = Path(tmp, "plain")
        write_manifests(plain / "schedules", count)
        layered = Path(tmp, "layered")
        write_layered(layered, count)
        rows: dict[str, list[tuple[float, float]]] = {"plain": [], "layered": []}
        for _ in range(options.runs):  # interleaved: both see the same machine load
            rows["plain"].append(run(["validate", "schedules"], plain, count))
            rows["layered"].append(run(["--env", "staging", "validate"], layered, count))
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in rows.items()
    }
    print(f"validate of {count} manifests, {options.runs} runs each (median)")
    print(f"{'':10} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in medians.items():
        print(f"{name:10} {wall:8.3f} {cpu:8.3f}")
    ratio = medians["layered"][1] / medians["plain"][1]
    wall_ratio = medians["layered"][0] / medians["plain"][0]
    verdict = "within" if ratio <= GOAL else "OVER"
    print(f"layered / plain: cpu {ratio:.2f}x, wall {wall_ratio:.2f}x ({verdict} the {GOAL}x goal)")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
