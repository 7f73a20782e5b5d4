"""Benchmark: ``reconciler validate`` on 1000 manifests with and without push policies.

Run:  .venv/bin/python tests/bench/bench_policies.py [--files 1000] [--runs 5] [--ratio 1.5]

Writes ``--files`` periodical manifests spanning a whole year (daily, weekly and monthly, times
spread over the day, audiences drawn from 40 tags, one in ten to ``all``) and times
``reconciler validate`` as a fresh process, start-up included, ``--runs`` times each:

- plain: no reconciler.yaml;
- policies: a reconciler.yaml whose environment sets all five rules (quiet hours, a frequency
  cap of 2 a day, blackout dates, a minimum lead time, a required field), so every firing of
  every schedule over its year is checked;
- worst case: the same rules, every schedule daily to one audience (every schedule collides
  with every other on every day).

Prints the medians and their ratios; exits 1 if policies / plain is above ``--ratio``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.harness import NOW

POLICIES = """\
environments:
  default:
    timezone: Europe/Berlin
    policies:
      quiet_hours: {from: "22:00", to: "07:00"}
      frequency_cap: {max_per_day: 2, level: warning}
      blackout_dates:
        dates: ["2027-12-24..2027-12-26", "2027-04-01"]
      min_lead_time: {hours: 1}
      required_fields:
        fields: [push.body.options.time_to_live]
        level: warning
"""

MANIFEST = """\
name: {name}
enabled: true
trigger:
  periodical:
    start: "2027-01-01 00:00:00"
    end: "2027-12-31 00:00:00"
    time: "{time}"
    time_unit: {unit}
    point: {point}
    zone_type: {zone_type}
push:
  from: push
  to: {to}
  body:
    platform: android
    notification:
      android:
        alert: Hi, this is a periodic push
        title: Periodic push
    options:
      time_to_live: 3600
"""


def write_manifests(directory: Path, count: int, *, worst: bool) -> None:
    directory.mkdir(parents=True)
    for i in range(count):
        if worst:
            unit, point, at, to = "day", "[]", "12:00:00", "\n    tag: [everyone]"
        else:
            unit, point = [("day", "[]"), ("week", "[MON, THU]"), ("month", "['01', '15']")][i % 3]
            at = f"{(7 + i % 15):02d}:{(i * 7) % 60:02d}:00"  # 07:00-21:59, outside quiet hours
            # Block style: the fast reader declines flow mappings (ruamel would time YAML).
            to = "all" if i % 10 == 0 else f"\n    tag: [t{i % 40}, u{i % 100}]"
        text = MANIFEST.format(
            name=f"push_{i:04d}", time=at, unit=unit, point=point, zone_type=1 + i % 2, to=to
        )
        (directory / f"push_{i:04d}.yaml").write_text(text, encoding="utf-8")


def command() -> list[str]:
    script = Path(sys.executable).with_name("reconciler")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]
    return [*launcher, "--now", NOW, "validate"]


def time_process(root: Path, runs: int, count: int) -> tuple[list[float], str]:
    times: list[float] = []
    last = ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [*command(), "schedules"], cwd=root, capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - start)
        last = done.stdout.splitlines()[-1] if done.stdout else done.stderr
        if f"{count} schedule(s)" not in last:
            sys.exit(f"validate failed (exit {done.returncode}): {last}\n{done.stderr}")
    return times, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ratio", type=float, default=1.5, help="policies / plain, medians")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        plain, policies, worst = Path(tmp, "plain"), Path(tmp, "policies"), Path(tmp, "worst")
        write_manifests(plain / "schedules", args.files, worst=False)
        write_manifests(policies / "schedules", args.files, worst=False)
        (policies / "reconciler.yaml").write_text(POLICIES, encoding="utf-8")
        write_manifests(worst / "schedules", args.files, worst=True)
        (worst / "reconciler.yaml").write_text(POLICIES, encoding="utf-8")
        # Interleaved, so that a change in the machine's load hits every set alike.
        results: dict[str, list[float]] = {"plain": [], "policies": [], "worst": []}
        summaries: dict[str, str] = {}
        for _ in range(args.runs):
            for name, root in (("plain", plain), ("policies", policies), ("worst", worst)):
                times, summaries[name] = time_process(root, 1, args.files)
                results[name] += times

    base = statistics.median(results["plain"])
    print(f"reconciler validate, {args.files} periodical manifests over a year, {args.runs} runs")
    print("(wall time of the whole process, s):")
    for name, label in (
        ("plain", "plain, no reconciler.yaml"),
        ("policies", "all five policies"),
        ("worst", "all five, worst case (one audience)"),
    ):
        median = statistics.median(results[name])
        print(
            f"  {label:<38} median {median:.3f}  min {min(results[name]):.3f}  "
            f"max {max(results[name]):.3f}  ratio {median / base:.2f}"
        )
        print(f"      {summaries[name]}")
    ratio = statistics.median(results["policies"]) / base
    verdict = "OK" if ratio <= args.ratio else "TOO SLOW"
    print(f"target: policies / plain <= {args.ratio:.2f}: {ratio:.2f} {verdict}")
    return 0 if ratio <= args.ratio else 1


if __name__ == "__main__":
    sys.exit(main())
