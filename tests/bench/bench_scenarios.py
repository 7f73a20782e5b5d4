"""Benchmark: the whole tool on the user's scenarios, against the lower bound and the official SDK.

Each scenario runs ``python -m reconciler ...`` as a fresh process in a temporary project
(start-up and imports included) against ``reconciler emulator serve`` in its own process on
loopback with ``--latency-ms`` injected per request; the tool is limited to ``--rate`` requests/s
with ``--concurrency`` in flight. Measured: wall time and peak RSS of the tool's process, and
the vendor API requests it made (the emulator's request log).

Scenarios, at every size N of ``--sizes``:

- ``validate``: N manifests (no network; median of ``--validate-runs``).
- ``apply (creates)``: N new manifests into an empty app.
- ``plan (no-op)``: the same N, nothing to change.
- ``apply (updates)``: every manifest's alert changed: N full-body updates, planned and applied
  by one command (it reads every detail to know what to change).
- ``apply PLAN_FILE (updates)``: the alert changed again, ``plan --out`` (not timed), then the
  saved plan applied: the list is read to check the plan is fresh, then N full-body updates.
  This is the SDK loop's situation: it too knows what to send before it starts.
- ``drift``: 10 tasks edited out of band (through the API, not the tool) among N.

After them, ``validate`` again in every YAML style (block, flow, mixed, anchors) at 1000 and
5000 (``bench_validate.py``; ``--validate-only`` runs just that).

Lower bound of a network scenario = max(critical-path round trips x latency, necessary
requests / rate), where the necessary requests are the ones no correct tool can skip: every list
page and every detail (a plan must compare whole bodies), plus one write per change; a plan that
creates reads a list of more than one page twice (an absence is only trusted when two passes
agree); applying a saved plan reads every list page (to know the plan is still fresh) and writes.

Baselines in the same run, at the sizes in ``--sdk-sizes``: the official SDK
(``engagelab-apppush``) used as its README shows, one call after another: every create, every
list page then every detail (what a plan needs), every update.

Run:  .venv/bin/python -m tests.bench [--quick] [--sizes 100,1000,5000] [--sdk-sizes 1000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.bench import bench_validate
from tests.bench.harness import (
    NOW,
    Measured,
    ServedEmulator,
    list_round_trips,
    load_state_ids,
    lower_bound,
    manifest_body,
    pages,
    read_round_trips,
    run_tool,
    schedule_name,
    sdk_client,
    sdk_create_all,
    sdk_read_all,
    sdk_update_all,
    write_manifests,
)

OUT_OF_BAND_EDITS = 10

# Targets of issue 9.
TARGET_RATIO = 1.3
TARGET_SPEEDUP = 15.0
TARGET_VALIDATE_S = 1.0
TARGET_RSS_MB = 200.0


@dataclass
class Row:
    """One scenario at one size."""

    size: int
    scenario: str
    wall: float
    peak_rss_mb: float
    requests: int = 0  # made, as the emulator logged them
    necessary: int = 0  # what the bound counts
    round_trips: int = 0
    bound: float | None = None
    sdk_wall: float | None = None
    sdk_requests: int | None = None

    @property
    def ratio(self) -> float | None:
        return self.wall / self.bound if self.bound else None

    @property
    def speedup(self) -> float | None:
        return self.sdk_wall / self.wall if self.sdk_wall else None


@dataclass(frozen=True)
class Settings:
    latency: float  # seconds
    rate: float
    concurrency: int
    validate_runs: int


class ScenarioFailed(SystemExit):
    pass


def _check(m: Measured, what: str, *, exit_code: int = 0, expect: str | None = None) -> None:
    text = m.stdout + m.stderr
    if m.exit_code != exit_code or (expect is not None and expect not in text):
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise ScenarioFailed(
            f"{what}: exit {m.exit_code} (expected {exit_code}"
            f"{f', output with {expect!r}' if expect else ''}):\n{tail}"
        )


def run_size(size: int, s: Settings, *, sdk: bool) -> list[Row]:
    """All scenarios at one size, in one project against one emulator."""
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        ServedEmulator(latency_ms=s.latency * 1000, max_active=max(1000, size)) as em,
    ):
        project = Path(tmp)
        manifests = project / "schedules"
        write_manifests(manifests, size, revision=0)
        if size > 1000:
            # The vendor's limit is 1000 active tasks (API.md 2.4); the emulator's is raised for
            # the scaling runs, and the plan's safety rule must follow it.
            (project / "reconciler.yaml").write_text(
                f"environments:\n  default:\n    max_active: {size}\n", encoding="utf-8"
            )

        runs = [run_tool(["--now", NOW, "validate"], project) for _ in range(s.validate_runs)]
        for m in runs:
            _check(m, "validate", expect=f"{size} schedule(s)")
        rows.append(
            Row(
                size,
                "validate",
                statistics.median(m.wall for m in runs),
                max(m.peak_rss_mb for m in runs),
            )
        )

        common = [
            "--endpoint", em.url, "--rate-limit", f"{s.rate:g}",
            "--concurrency", str(s.concurrency), "--now", NOW,
        ]  # fmt: skip
        read = pages(size) + size  # every list page and every detail
        rt = read_round_trips(size)

        def network(
            scenario: str, args: list[str], necessary: int, round_trips: int, **check: object
        ) -> Row:
            em.take_requests()
            m = run_tool([*common, *args], project)
            _check(m, scenario, **check)  # type: ignore[arg-type]
            made = sum(em.take_requests().values())
            bound = lower_bound(round_trips, necessary, s.latency, s.rate)
            row = Row(size, scenario, m.wall, m.peak_rss_mb, made, necessary, round_trips, bound)
            rows.append(row)
            return row

        # A plan that creates confirms the absence of its names (engine.observe, ``confirm``);
        # the empty list is one page that is not full, a snapshot: one read, then the POSTs.
        creates = network(
            "apply (creates)",
            ["apply", "--auto-approve"],
            pages(0) + size,
            read_round_trips(0) + 1,
            expect=f"{size} remote write(s)",
        )
        plan = network(
            "plan (no-op)", ["plan", "--detailed-exitcode"], read, rt, expect="No changes"
        )
        write_manifests(manifests, size, revision=1)
        updates = network(
            "apply (updates)",
            ["apply", "--auto-approve"],
            read + size,
            rt + 1,
            expect=f"{size} remote write(s)",
        )
        write_manifests(manifests, size, revision=2)
        plan_file = project / "plan.json"
        _check(
            run_tool([*common, "plan", "--out", str(plan_file)], project),
            "plan --out",
            expect=f"{size} to update",
        )
        saved = network(
            "apply PLAN_FILE (updates)",
            ["apply", str(plan_file)],
            pages(size) + size,
            list_round_trips(size) + 1,
            expect="The remote list matches the saved plan",
        )
        ids = load_state_ids(project)
        edits = min(OUT_OF_BAND_EDITS, size)
        for i in range(0, size, max(1, size // edits))[:edits]:
            em.put(ids[schedule_name(i)], manifest_body(i, revision=9))
        network("drift", ["drift"], read, rt, exit_code=2)

        if sdk:
            em.reset()
            client = sdk_client(em.url)
            wall, new_ids = sdk_create_all(client, [manifest_body(i) for i in range(size)])
            creates.sdk_wall, creates.sdk_requests = wall, sum(em.take_requests().values())
            wall, count, _ = sdk_read_all(client)
            if count != size:
                raise ScenarioFailed(f"SDK read {count} of {size} tasks")
            plan.sdk_wall, plan.sdk_requests = wall, sum(em.take_requests().values())
            wall = sdk_update_all(client, new_ids, [manifest_body(i, 1) for i in range(size)])
            # One baseline for both ways of applying updates: the loop knows what to send.
            made = sum(em.take_requests().values())
            for row in (updates, saved):
                row.sdk_wall, row.sdk_requests = wall, made
    return rows


# -- output -----------------------------------------------------------------------------------


def _f(value: float | None, fmt: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{fmt}}{suffix}"


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (it reads as plain text too)."""
    head = (
        "| N | scenario | wall | peak RSS | requests | lower bound | ratio | SDK loop "
        "| speed-up |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|"
    )
    lines = [head]
    for r in rows:
        req = "–" if not r.necessary else str(r.requests)
        if r.necessary and r.requests != r.necessary:
            req += f" (need {r.necessary})"
        bound = (
            "–" if r.bound is None else f"{r.bound:.2f} s ({r.round_trips} RT, {r.necessary} req)"
        )
        lines.append(
            f"| {r.size} | {r.scenario} | {r.wall:.2f} s | {r.peak_rss_mb:.0f} MB | {req} | "
            f"{bound} | {_f(r.ratio, '.2f', '×')} | {_f(r.sdk_wall, '.1f', ' s')} | "
            f"{_f(r.speedup, '.0f', '×')} |"
        )
    return "\n".join(lines)


def scaling(rows: list[Row]) -> str:
    """Per scenario: time per schedule between consecutive sizes (linear growth: it stays flat)."""
    sizes = sorted({r.size for r in rows})
    if len(sizes) < 2:
        return ""
    by = {(r.scenario, r.size): r for r in rows}
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    steps = list(itertools.pairwise(sizes))
    head = "| scenario | " + " | ".join(f"{a}→{b}" for a, b in steps) + " |"
    lines = [
        "Marginal cost per schedule (Δwall / ΔN, and Δrequests / ΔN):",
        "",
        head,
        "|---|" + "--:|" * len(steps),
    ]
    for sc in scenarios:
        cells = []
        for a, b in steps:
            ra, rb = by[(sc, a)], by[(sc, b)]
            ms = (rb.wall - ra.wall) / (b - a) * 1000
            cell = f"{ms:.2f} ms"
            if rb.requests:
                cell += f", {(rb.requests - ra.requests) / (b - a):.2f} req"
            cells.append(cell)
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(rows: list[Row], at: int) -> list[str]:
    """Which targets of issue 9 hold at size ``at``."""
    out = []
    for r in rows:
        if r.size != at:
            continue
        if r.scenario == "validate":
            out.append(
                _verdict(f"validate {at} ≤ {TARGET_VALIDATE_S} s", r.wall, TARGET_VALIDATE_S)
            )
        else:
            assert r.ratio is not None
            out.append(_verdict(f"{r.scenario} ≤ {TARGET_RATIO}× bound", r.ratio, TARGET_RATIO))
            if r.speedup is not None:
                ok = r.speedup >= TARGET_SPEEDUP
                out.append(
                    f"{'ok ' if ok else 'MISS'} {r.scenario} ≥ {TARGET_SPEEDUP:g}× SDK: "
                    f"{r.speedup:.0f}×"
                )
        out.append(
            _verdict(f"{r.scenario} RSS ≤ {TARGET_RSS_MB:g} MB", r.peak_rss_mb, TARGET_RSS_MB)
        )
    return out


def _verdict(what: str, value: float, limit: float) -> str:
    return f"{'ok ' if value <= limit else 'MISS'} {what}: {value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated")
    parser.add_argument("--sdk-sizes", default="1000", help="sizes with SDK baselines ('' none)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate", type=float, default=500.0, help="client rate limit, req/s")
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--validate-runs", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: sizes 100 and 300, SDK at 100"
    )
    parser.add_argument("--json", dest="json_path", default=None, help="also write rows here")
    parser.add_argument(
        "--validate-only",
        action="store_true",
        help="only validate in every YAML style (block, flow, mixed, anchors) at 1000 and 5000",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.sdk_sizes, args.validate_runs = "100,300", "100", 1
    sizes = [int(x) for x in args.sizes.split(",") if x]
    # validate in every YAML style, at the sizes its targets are stated for (bench_validate.py)
    style_sizes = [n for n in sizes if n in bench_validate.TARGETS] or sizes[-1:]
    if args.validate_only:
        print(bench_validate.report(bench_validate.run_styles(style_sizes, args.validate_runs)))
        return 0
    sdk_sizes = {int(x) for x in args.sdk_sizes.split(",") if x}
    settings = Settings(args.latency_ms / 1000, args.rate, args.concurrency, args.validate_runs)

    load_before = os.getloadavg()
    rows: list[Row] = []
    for size in sizes:
        rows.extend(run_size(size, settings, sdk=size in sdk_sizes))
        print(f"  size {size} done", flush=True)
    load_after = os.getloadavg()

    print()
    print(
        f"latency {args.latency_ms:g} ms, client rate limit {args.rate:g}/s, concurrency "
        f"{args.concurrency}; {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print()
    print(table(rows))
    scale = scaling(rows)
    if scale:
        print()
        print(scale)
    print()
    if 1000 in sizes:
        print("Targets at N=1000:")
        for line in verdicts(rows, 1000):
            print(f"  {line}")
    else:
        print("The targets (issue 9) are stated for N=1000, which this run left out.")
    print()
    print(bench_validate.report(bench_validate.run_styles(style_sizes, args.validate_runs)))
    if args.json_path:
        data = [{**asdict(r), "ratio": r.ratio, "speedup": r.speedup} for r in rows]
        Path(args.json_path).write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0
