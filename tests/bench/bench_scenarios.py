"""Benchmark: the whole tool on the user's scenarios, against the lower bound and the official SDK.

Each scenario runs ``python -m reconciler ...`` as a fresh process in a temporary project
(start-up and imports included), with credentials in its environment as a user's runs have
(``harness.tool_env``), against ``reconciler emulator serve`` in its own process on loopback
with ``--latency-ms`` injected per request. Measured: wall time and peak RSS of the
tool's process, and the vendor API requests it made and the ones refused for the rate (the
emulator's request log).

Every network scenario runs once per **server** and **client**:

- servers (``--server-limits``, at the sizes of ``--limit-sizes``; other sizes run against a
  server without a limit): the emulator's own request limit (its ``rate_limit`` fault, 429
  beyond it, or 400/28100 with ``--limit-shape 28100``), below, at and above the client's
  default ceiling of 500 requests/s;
- clients (``--clients``): ``default`` (no ``--rate-limit``, no ``--concurrency``: what users
  run) and ``tuned`` (``--rate-limit`` set to what the server allows, at most ``--rate``, and
  ``--concurrency`` ``--concurrency``: what someone who knows the server would pick).

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
requests / rate), where the rate is the lower of the client's ceiling and the server's limit
and the necessary requests are the ones no correct tool can skip: every list page and every
detail (a plan must compare whole bodies), plus one write per change; a plan that creates reads
a list of more than one page twice (an absence is only trusted when two passes agree); applying
a saved plan reads every list page (to know the plan is still fresh) and writes.

Baselines in the same run, at the sizes in ``--sdk-sizes``, against the same emulator without
a limit: the official SDK (``engagelab-apppush``) used as its README shows, one call after
another: every create, every list page then every detail (what a plan and drift need), every
update.

Run:  .venv/bin/python -m tests.bench [--quick] [--sizes 100,1000,5000] [--sdk-sizes 1000]
      [--server-limits 100,500,1000] [--limit-sizes 1000] [--limit-shape 429|28100]
      [--clients default,tuned] [--repeat K]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reconciler.settings import RATE_LIMIT
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

# Targets at N = 1000.
TARGET_RATIO = 1.3
TARGET_SPEEDUP = 15.0
TARGET_VALIDATE_S = 0.5
TARGET_RSS_MB = 150.0
TARGET_REFUSED = 0.02
# The scenarios the speed targets name: a no-op plan, creates, updates from a saved plan and
# drift. `apply` that plans and applies updates in one command is measured and shown, not
# judged: it must read every detail before it writes (2020 requests at 1000), so its bound
# alone is 13x the SDK's update loop, which sends the 1000 updates it is told to send.
TARGET_SCENARIOS = ("apply (creates)", "plan (no-op)", "apply PLAN_FILE (updates)", "drift")


@dataclass(frozen=True)
class Client:
    """How the tool is run: ``rate`` / ``concurrency`` None leave the option out (default)."""

    label: str
    rate: float | None = None
    concurrency: int | None = None

    @property
    def ceiling(self) -> float:
        return self.rate if self.rate is not None else RATE_LIMIT.default

    def args(self) -> list[str]:
        out: list[str] = []
        if self.rate is not None:
            out += ["--rate-limit", f"{self.rate:g}"]
        if self.concurrency is not None:
            out += ["--concurrency", str(self.concurrency)]
        return out


@dataclass
class Row:
    """One scenario at one size, one client against one server."""

    size: int
    scenario: str
    wall: float
    peak_rss_mb: float
    client: str = "–"
    server_limit: float | None = None
    requests: int = 0  # made, as the emulator logged them
    refused: int = 0  # of those, refused for the rate
    necessary: int = 0  # what the bound counts
    round_trips: int = 0
    bound: float | None = None
    sdk_wall: float | None = None
    sdk_requests: int | None = None
    walls: list[float] = field(default_factory=list)  # every repetition's, when repeated

    @property
    def ratio(self) -> float | None:
        return self.wall / self.bound if self.bound else None

    @property
    def speedup(self) -> float | None:
        return self.sdk_wall / self.wall if self.sdk_wall else None

    @property
    def refused_share(self) -> float:
        return self.refused / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Settings:
    latency: float  # seconds
    rate: float  # the tuned client's most
    concurrency: int  # the tuned client's
    validate_runs: int
    server_limits: list[float | None] = field(default_factory=lambda: [None])
    clients: list[str] = field(default_factory=lambda: ["default"])
    limit_sizes: set[int] = field(default_factory=set)  # sizes run against server_limits
    limit_shape: str = "429"  # how the server refuses beyond its limit: "429" or "28100"
    repeat: int = 1  # runs of every network scenario (the median is shown)

    def limits_at(self, size: int) -> list[float | None]:
        """Servers to run against at ``size``: the limited ones only at ``limit_sizes``."""
        return self.server_limits if size in self.limit_sizes else [None]

    def client(self, label: str, server_limit: float | None) -> Client:
        if label == "default":
            return Client("default")
        rate = self.rate if server_limit is None else min(self.rate, server_limit)
        return Client("tuned", rate, self.concurrency)


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
            # The vendor's limit: 1000 active tasks (docs/api.md 2.4); the emulator's is raised for
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

        network_rows: list[Row] = []
        for server_limit in s.limits_at(size):
            for label in s.clients:
                client = s.client(label, server_limit)
                repeated: list[list[Row]] = []
                for _ in range(s.repeat):
                    em.reset()
                    em.set_server_limit(server_limit, s.limit_shape)
                    shutil.rmtree(project / ".reconciler", ignore_errors=True)
                    write_manifests(manifests, size, revision=0)
                    repeated.append(_network_scenarios(size, s, em, project, client))
                network_rows += [_median(runs) for runs in zip(*repeated, strict=True)]
                print(f"    {size}: {label} client, server {_limit(server_limit)} done", flush=True)
        em.set_server_limit(None)
        rows += network_rows

        if sdk:
            em.reset()
            sdk_rows = _sdk_baselines(size, em)
            for row in network_rows:
                if row.scenario in sdk_rows:
                    row.sdk_wall, row.sdk_requests = sdk_rows[row.scenario]
    return rows


def _network_scenarios(
    size: int, s: Settings, em: ServedEmulator, project: Path, client: Client
) -> list[Row]:
    rows: list[Row] = []
    manifests = project / "schedules"
    common = [*client.args(), "--endpoint", em.url, "--now", NOW]
    rate = client.ceiling if em.server_limit is None else min(client.ceiling, em.server_limit)
    read = pages(size) + size  # every list page and every detail
    rt = read_round_trips(size)

    def network(
        scenario: str, args: list[str], necessary: int, round_trips: int, **check: object
    ) -> Row:
        em.take_log()
        m = run_tool([*common, *args], project)
        _check(m, f"{scenario} ({client.label} client)", **check)  # type: ignore[arg-type]
        log = em.take_log()
        refused = sum(1 for r in log if r["fault"] == "rate_limit")
        bound = lower_bound(round_trips, necessary, s.latency, rate)
        row = Row(
            size, scenario, m.wall, m.peak_rss_mb, client.label, em.server_limit,
            len(log), refused, necessary, round_trips, bound,
        )  # fmt: skip
        rows.append(row)
        return row

    # A plan that creates confirms the absence of its names (engine.observe, ``confirm``);
    # the empty list is one page that is not full, a snapshot: one read, then the POSTs.
    network(
        "apply (creates)",
        ["apply", "--auto-approve"],
        pages(0) + size,
        read_round_trips(0) + 1,
        expect=f"{size} remote write(s)",
    )
    network("plan (no-op)", ["plan", "--detailed-exitcode"], read, rt, expect="No changes")
    write_manifests(manifests, size, revision=1)
    network(
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
    network(
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
    return rows


def _median(runs: tuple[Row, ...]) -> Row:
    """One scenario run several times: the run of median wall time (of an even number, the
    slower of the two middle ones), with every run's wall time, and the most refusals any run
    had (the refusal target must hold for each run)."""
    ordered = sorted(runs, key=lambda r: r.wall)
    middle = ordered[len(ordered) // 2]
    worst = max(runs, key=lambda r: r.refused_share)
    return replace(
        middle, requests=worst.requests, refused=worst.refused, walls=[r.wall for r in runs]
    )


def _sdk_baselines(size: int, em: ServedEmulator) -> dict[str, tuple[float, int]]:
    """The SDK loop's wall time and requests, by the scenario it is the baseline of."""
    out: dict[str, tuple[float, int]] = {}
    client = sdk_client(em.url)
    wall, new_ids = sdk_create_all(client, [manifest_body(i) for i in range(size)])
    out["apply (creates)"] = (wall, sum(em.take_requests().values()))
    wall, count, _ = sdk_read_all(client)
    if count != size:
        raise ScenarioFailed(f"SDK read {count} of {size} tasks")
    # A plan and drift both need every page and every detail: the same loop.
    out["plan (no-op)"] = out["drift"] = (wall, sum(em.take_requests().values()))
    wall = sdk_update_all(client, new_ids, [manifest_body(i, 1) for i in range(size)])
    # One baseline for both ways of applying updates: the loop knows what to send.
    out["apply (updates)"] = out["apply PLAN_FILE (updates)"] = (
        wall,
        sum(em.take_requests().values()),
    )
    return out


def _limit(limit: float | None) -> str:
    return "no limit" if limit is None else f"{limit:g}/s"


# -- output -----------------------------------------------------------------------------------


def _f(value: float | None, fmt: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{fmt}}{suffix}"


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (it reads as plain text too)."""
    head = (
        "| N | scenario | client | server | wall | peak RSS | requests | refused | lower bound "
        "| ratio | SDK loop | speed-up |\n|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    lines = [head]
    for r in rows:
        network = r.necessary > 0
        req = str(r.requests) if network else "–"
        if network and r.requests != r.necessary:
            req += f" (need {r.necessary})"
        refused = f"{r.refused} ({r.refused_share:.1%})" if network else "–"
        bound = (
            "–" if r.bound is None else f"{r.bound:.2f} s ({r.round_trips} RT, {r.necessary} req)"
        )
        server = _limit(r.server_limit) if network else "–"
        wall = f"{r.wall:.2f} s"
        if len(r.walls) > 1:
            wall += f" ({min(r.walls):.2f}–{max(r.walls):.2f})"
        lines.append(
            f"| {r.size} | {r.scenario} | {r.client} | {server} | {wall} | "
            f"{r.peak_rss_mb:.0f} MB | {req} | {refused} | {bound} | {_f(r.ratio, '.2f', '×')} | "
            f"{_f(r.sdk_wall, '.1f', ' s')} | {_f(r.speedup, '.0f', '×')} |"
        )
    return "\n".join(lines)


def scaling(rows: list[Row]) -> str:
    """Per scenario and setting: time per schedule between consecutive sizes (linear: flat)."""
    sizes = sorted({r.size for r in rows})
    if len(sizes) < 2:
        return ""
    by = {(r.scenario, r.client, r.server_limit, r.size): r for r in rows}
    keys = list(dict.fromkeys((r.scenario, r.client, r.server_limit) for r in rows))
    steps = list(itertools.pairwise(sizes))
    head = "| scenario | client | server | " + " | ".join(f"{a}→{b}" for a, b in steps) + " |"
    lines = [
        "Marginal cost per schedule (Δwall / ΔN, and Δrequests / ΔN):",
        "",
        head,
        "|---|---|--:|" + "--:|" * len(steps),
    ]
    for sc, client, limit in keys:
        cells = []
        for a, b in steps:
            ra, rb = by.get((sc, client, limit, a)), by.get((sc, client, limit, b))
            if ra is None or rb is None:
                cells.append("–")
                continue
            ms = (rb.wall - ra.wall) / (b - a) * 1000
            cell = f"{ms:.2f} ms"
            if rb.requests:
                cell += f", {(rb.requests - ra.requests) / (b - a):.2f} req"
            cells.append(cell)
        server = "–" if sc == "validate" else _limit(limit)
        lines.append(f"| {sc} | {client} | {server} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(rows: list[Row], at: int) -> list[str]:
    """Which targets hold at size ``at``.

    Every row: peak RSS. ``validate``: its time. Default client, in the TARGET_SCENARIOS:
    within TARGET_RATIO of the bound against every server; against a server at or above its
    ceiling also TARGET_SPEEDUP times the SDK loop; against one below it fewer than
    TARGET_REFUSED of requests refused.
    """
    out = []
    for r in rows:
        if r.size != at:
            continue
        what = f"{r.scenario}, {r.client} client, server {_limit(r.server_limit)}"
        if r.scenario == "validate":
            limit, rss = TARGET_VALIDATE_S, TARGET_RSS_MB
            out.append(_verdict(f"validate {at} ≤ {limit} s", r.wall, limit))
            out.append(_verdict(f"validate: RSS ≤ {rss:g} MB", r.peak_rss_mb, rss))
            continue
        if r.client == "default" and r.scenario not in TARGET_SCENARIOS:
            assert r.ratio is not None
            out.append(f"--   {what}: shown, not a target row: {r.ratio:.3g}× bound")
        elif r.client == "default":
            assert r.ratio is not None
            out.append(_verdict(f"{what}: ≤ {TARGET_RATIO}× bound", r.ratio, TARGET_RATIO))
            below = r.server_limit is not None and r.server_limit < RATE_LIMIT.default
            if below:
                out.append(
                    _verdict(f"{what}: refused < 2 %", r.refused_share, TARGET_REFUSED, strict=True)
                )
            elif r.speedup is not None:
                ok = r.speedup >= TARGET_SPEEDUP
                out.append(
                    f"{'ok ' if ok else 'MISS'} {what}: ≥ {TARGET_SPEEDUP:g}× SDK: {r.speedup:.0f}×"
                )
        out.append(_verdict(f"{what}: RSS ≤ {TARGET_RSS_MB:g} MB", r.peak_rss_mb, TARGET_RSS_MB))
    return out


def _verdict(what: str, value: float, limit: float, *, strict: bool = False) -> str:
    ok = value < limit if strict else value <= limit
    return f"{'ok ' if ok else 'MISS'} {what}: {value:.3g}"


def _limits(text: str) -> list[float | None]:
    return [None if x.strip() == "none" else float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated")
    parser.add_argument("--sdk-sizes", default="1000", help="sizes with SDK baselines ('' none)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument(
        "--server-limits",
        default="100,500,1000",
        help="the emulator's request limits to run against, req/s ('none': no limit)",
    )
    parser.add_argument(
        "--limit-sizes",
        default="1000",
        help="sizes run against --server-limits (the others: a server without a limit)",
    )
    parser.add_argument(
        "--limit-shape",
        choices=["429", "28100"],
        default="429",
        help="the limited server's refusal: 429 with Retry-After, or 400/28100 without",
    )
    parser.add_argument(
        "--clients", default="default,tuned", help="'default' and/or 'tuned' settings"
    )
    parser.add_argument("--rate", type=float, default=500.0, help="tuned client's rate, req/s")
    parser.add_argument("--concurrency", type=int, default=48, help="tuned client's in flight")
    parser.add_argument("--validate-runs", type=int, default=3)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every network scenario this many times; the table shows the median wall "
        "time (with the range) and the most refusals of any run",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few minutes: 300 schedules against 100/s and 500/s servers, SDK at 300",
    )
    parser.add_argument("--json", dest="json_path", default=None, help="also write rows here")
    parser.add_argument(
        "--validate-only",
        action="store_true",
        help="only validate in every YAML style (block, flow, mixed, anchors) at 1000 and 5000",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.sdk_sizes, args.validate_runs = "300", "300", 1
        args.server_limits, args.limit_sizes = "100,500", "300"
    sizes = [int(x) for x in args.sizes.split(",") if x]
    # validate in every YAML style, at the sizes its targets are stated for (bench_validate.py)
    style_sizes = [n for n in sizes if n in bench_validate.TARGETS] or sizes[-1:]
    if args.validate_only:
        print(bench_validate.report(bench_validate.run_styles(style_sizes, args.validate_runs)))
        return 0
    sdk_sizes = {int(x) for x in args.sdk_sizes.split(",") if x}
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = set(clients) - {"default", "tuned"}
    if unknown:
        parser.error(f"unknown client(s) {', '.join(sorted(unknown))}: use default, tuned")
    settings = Settings(
        args.latency_ms / 1000,
        args.rate,
        args.concurrency,
        args.validate_runs,
        _limits(args.server_limits),
        clients,
        {int(x) for x in args.limit_sizes.split(",") if x},
        args.limit_shape,
        max(1, args.repeat),
    )

    load_before = os.getloadavg()
    rows: list[Row] = []
    for size in sizes:
        rows.extend(run_size(size, settings, sdk=size in sdk_sizes))
        print(f"  size {size} done", flush=True)
    load_after = os.getloadavg()

    print()
    print(
        f"latency {args.latency_ms:g} ms; refusal beyond a server limit: {args.limit_shape}; "
        f"default client: ceiling {RATE_LIMIT.default:g}/s, "
        f"adaptive; tuned client: --rate-limit min({args.rate:g}, server limit) --concurrency "
        f"{args.concurrency}; {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after"
    )
    print()
    print(table(rows))
    scale = scaling(rows)
    if scale:
        print()
        print(scale)
    print()
    target_size = 1000 if 1000 in sizes else max(sizes)
    if target_size != 1000:
        print(f"The targets are stated for N=1000; this run checks them at N={target_size}:")
    else:
        print("Targets at N=1000:")
    for line in verdicts(rows, target_size):
        print(f"  {line}")
    print()
    print(bench_validate.report(bench_validate.run_styles(style_sizes, args.validate_runs)))
    if args.json_path:
        data = [
            {**asdict(r), "ratio": r.ratio, "speedup": r.speedup, "refused_share": r.refused_share}
            for r in rows
        ]
        Path(args.json_path).write_text(json.dumps(data, indent=2), encoding="utf-8")
    return 0
