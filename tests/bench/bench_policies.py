"""Benchmark: ``reconciler validate`` on 1000 manifests with and without push policies.

Run:  .venv/bin/python tests/bench/bench_policies.py [--files 1000] [--runs 5] [--ratio 1.5]

Writes ``--files`` periodical manifests spanning a year (daily, weekly and monthly, times
spread over the day, zone_type 1 and 2) and times ``reconciler validate`` as a fresh process,
start-up included, ``--runs`` times each, interleaved:

- plain: no reconciler.yaml;
- every rule holds: a reconciler.yaml whose environment sets all five rules (quiet hours, a
  frequency cap of 2 a day, blackout dates, a minimum lead time, a required field) over
  manifests that keep them, so every firing of every schedule over its year is checked and
  nothing is reported: the state a repository is in on most pull requests (the target);
- every schedule breaks some: audiences from 40 tags, one in ten to ``all``, every schedule on a
  blackout date (about 2000 problems printed);
- worst case: every schedule daily to one audience (each collides with every other every day).

Prints the medians and their ratios; exits 1 if "every rule holds" / plain is above ``--ratio``.
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
        dates: ["2027-12-24..2027-12-26"]
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
    end: "{end}"
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


def write_manifests(directory: Path, count: int, *, kind: str) -> None:
    """``kind``: ``compliant`` (every rule holds, every firing still checked), ``breaking``
    (every schedule breaks a blackout date and most the cap) or ``worst`` (all daily, one
    audience: every schedule collides with every other on every day)."""
    directory.mkdir(parents=True)
    for i in range(count):
        end = "2027-12-31 00:00:00"
        if kind == "worst":
            unit, point, at, to = "day", "[]", "12:00:00", "\n    tag: [everyone]"
        else:
            unit, point = [("day", "[]"), ("week", "[MON, THU]"), ("month", "['01', '15']")][i % 3]
            at = f"{(8 + i % 14):02d}:{(i * 7) % 60:02d}:00"  # 08:00-21:59, outside quiet hours
            # Block style: the fast reader declines flow mappings (ruamel would time YAML).
            if kind == "compliant":
                # Two schedules a tag (within the cap of 2), ending before the blackout days.
                to, end = f"\n    tag: [t{i % (count // 2 or 1)}]", "2027-12-20 00:00:00"
            else:  # and every one fires on the blackout days
                to = "all" if i % 10 == 0 else f"\n    tag: [t{i % 40}, u{i % 100}]"
        text = MANIFEST.format(
            name=f"push_{i:04d}",
            time=at,
            end=end,
            unit=unit,
            point=point,
            zone_type=1 + i % 2,
            to=to,
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

    sets = {
        "plain": ("plain, no reconciler.yaml", "compliant", False),
        "policies": ("all five, every rule holds", "compliant", True),
        "breaking": ("all five, every schedule breaks some", "breaking", True),
        "worst": ("all five, worst case (one audience)", "worst", True),
    }
    results: dict[str, list[float]] = {name: [] for name in sets}
    summaries: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for name, (_, kind, with_policies) in sets.items():
            roots[name] = Path(tmp, name)
            write_manifests(roots[name] / "schedules", args.files, kind=kind)
            if with_policies:
                (roots[name] / "reconciler.yaml").write_text(POLICIES, encoding="utf-8")
        # Interleaved, so that a change in the machine's load hits every set alike.
        for _ in range(args.runs):
            for name, root in roots.items():
                times, summaries[name] = time_process(root, 1, args.files)
                results[name] += times

    base = statistics.median(results["plain"])
    print(f"reconciler validate, {args.files} periodical manifests over a year, {args.runs} runs")
    print("(wall time of the whole process, s; ratio to plain):")
    for name, (label, _, _) in sets.items():
        median = statistics.median(results[name])
        print(
            f"  {label:<38} median {median:.3f}  min {min(results[name]):.3f}  "
            f"max {max(results[name]):.3f}  ratio {median / base:.2f}"
        )
        print(f"      {summaries[name]}")
    ratio = statistics.median(results["policies"]) / base
    verdict = "OK" if ratio <= args.ratio else "TOO SLOW"
    print(f"target: every rule holds / plain <= {args.ratio:.2f}: {ratio:.2f} {verdict}")
    return 0 if ratio <= args.ratio else 1


if __name__ == "__main__":
    sys.exit(main())
