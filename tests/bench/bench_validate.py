"""Benchmark: wall time of the whole ``reconciler validate`` process on 1000 manifests.

Run:  .venv/bin/python tests/bench/bench_validate.py [--files 1000] [--runs 5] [--target 1.0]

Writes ``--files`` manifests like the vendor's periodical example (one schedule per file, unique
names) into a temporary directory and times ``reconciler validate DIR`` as a fresh process,
start-up and imports included, ``--runs`` times. A second set uses the vendor's own naming
style (spaces in names), so every file also carries a warning. For orientation it also times
ruamel.yaml's pure-Python round-trip and safe loaders on the same files in this process (the
loaders the fast reader in ``reconciler/yamlfast.py`` stands in for). Prints the figures; exits
1 if the median wall time of the main set is above ``--target`` seconds.
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

# One manifest template and one fixed "now" for every benchmark (tests/bench/harness.py).
from tests.bench.harness import MANIFEST, NOW

ALERT = "repeats periodic tasks"


def write_manifests(directory: Path, count: int, name: str) -> None:
    directory.mkdir()
    for i in range(count):
        text = MANIFEST.format(name=name.format(i=i), alert=ALERT)
        (directory / f"periodical_{i:04d}.yaml").write_text(text, encoding="utf-8")


def command() -> list[str]:
    script = Path(sys.executable).with_name("reconciler")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]
    return [*launcher, "--now", NOW, "validate"]


def time_process(directory: Path, runs: int, count: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [*command(), str(directory)], capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - start)
        last = done.stdout.splitlines()[-1] if done.stdout else done.stderr
        if done.returncode != 0 or f"{count} schedule(s)" not in last:
            sys.exit(f"validate failed (exit {done.returncode}): {last}")
    return times


def time_ruamel(directory: Path) -> dict[str, float]:
    from ruamel.yaml import YAML

    texts = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.yaml"))]
    out: dict[str, float] = {}
    for typ in ("rt", "safe"):
        yaml = YAML(typ=typ, pure=True)
        start = time.perf_counter()
        for text in texts:
            yaml.load(text)
        out[typ] = time.perf_counter() - start
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.0, help="seconds (median, main set)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "plain")
        spaced = Path(tmp, "spaced")
        write_manifests(plain, args.files, "Timed_Push_Example_periodical_{i:04d}")
        write_manifests(spaced, args.files, "Timed Push Example_periodical {i:04d}")
        main_times = time_process(plain, args.runs, args.files)
        warn_times = time_process(spaced, args.runs, args.files)
        loaders = time_ruamel(plain)

    median = statistics.median(main_times)
    print(f"reconciler validate, {args.files} periodical manifests, {args.runs} runs (wall, s):")
    print(
        f"  underscore names:   median {median:.3f}  min {min(main_times):.3f}  "
        f"max {max(main_times):.3f}"
    )
    print(
        f"  names with spaces:  median {statistics.median(warn_times):.3f}  "
        f"min {min(warn_times):.3f}  max {max(warn_times):.3f}  (one warning per file)"
    )
    print("ruamel.yaml pure-Python loaders on the same files, parsing only (s):")
    print(f"  round-trip {loaders['rt']:.3f}   safe {loaders['safe']:.3f}")
    verdict = "OK" if median <= args.target else "TOO SLOW"
    print(f"target: median <= {args.target:.2f} s: {verdict}")
    return 0 if median <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
