"""Shared machinery of the benchmarks: a served emulator, measured tool runs, bodies, SDK loops.

One job: give every benchmark in ``tests/bench/`` the same measuring instruments, so that their
figures can be compared. Nothing here prints or decides a verdict.

- :class:`ServedEmulator`: ``reconciler emulator serve`` in its own process (client and server
  must not share one interpreter lock, or the figure measures thread switching), driven through
  its control plane (latency, reset, request log).
- :func:`run_tool`: one ``python -m reconciler ...`` process, its wall time and its peak RSS
  (``os.wait4`` gives the rusage of exactly that child).
- :func:`manifest_text` / :func:`manifest_body`: the vendor's periodical example as a manifest
  and as the API body the SDK sends, numbered and with a revision (a revision changes the alert,
  so the next apply is a full-body update of every schedule).
- ``sdk_*``: what a user of the official SDK (``engagelab-apppush``) writes: one call after
  another.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.kit import bodies

ROOT = Path(__file__).resolve().parents[2]
# The manifests' dates (2027) are in the future of this fixed "now", whenever the bench runs.
NOW = "2026-11-25T00:00:00+00:00"
PAGE_SIZE = 50  # docs/api.md section 3: list pages hold 50 tasks

MANIFEST = """\
name: {name}
enabled: true
trigger:
  periodical:
    start: "2027-01-01 00:00:00"
    end: "2027-06-30 00:00:00"
    time: "12:00:00"
    time_unit: day
    point: []
    zone_type: 1
push:
  from: push
  to:
    registration_id:
      - 1a0018970ab49abda3e
      - 100d85590955c1d2793
  body:
    platform: android
    notification:
      alert: {alert}
      android:
        title: repeats periodic tasks
        extras:
          key1: value1
    options:
      time_to_live: 60
  request_id: "67890"
  custom_args:
    Engagelab: push to you
"""


def schedule_name(i: int) -> str:
    return f"Timed_Push_Example_periodical_{i:05d}"


def alert(i: int, revision: int) -> str:
    return f"repeats periodic tasks {i} r{revision}"


def manifest_text(i: int, revision: int = 0) -> str:
    """Manifest ``i`` (one schedule per file) like the vendor's periodical example."""
    return MANIFEST.format(name=schedule_name(i), alert=alert(i, revision))


def manifest_body(i: int, revision: int = 0) -> dict[str, Any]:
    """The API body of :func:`manifest_text` (what a user of the SDK would send)."""
    trigger = bodies.periodical(
        end="2027-06-30 00:00:00", time="12:00:00", time_unit="day", point=()
    )
    section = bodies.push(
        to={"registration_id": list(bodies.REGISTRATION_IDS)},
        platform="android",
        notification={
            "alert": alert(i, revision),
            "android": {"title": "repeats periodic tasks", "extras": {"key1": "value1"}},
        },
        options={"time_to_live": 60},
    )
    section.update(request_id="67890", custom_args={"Engagelab": "push to you"})
    return bodies.body(schedule_name(i), trigger=trigger, push=section)


def write_manifests(directory: Path, count: int, revision: int = 0) -> None:
    """``count`` manifest files in ``directory`` (created; existing files are overwritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"periodical_{i:05d}.yaml").write_text(
            manifest_text(i, revision), encoding="utf-8"
        )


def pages(count: int) -> int:
    """List pages an inventory of ``count`` tasks reads (page 1 even when empty)."""
    return max(1, math.ceil(count / PAGE_SIZE))


def read_round_trips(count: int) -> int:
    """Round trips on the critical path of an inventory: page 1, other pages, then details."""
    if count == 0:
        return 1
    return 2 if pages(count) == 1 else 3


def list_round_trips(count: int) -> int:
    """Round trips on the critical path of reading the list alone: page 1, then the others."""
    return 1 if pages(count) == 1 else 2


def lower_bound(round_trips: int, requests: int, latency: float, rate: float) -> float:
    """No client can do better: the critical path at this latency, or the requests at this rate."""
    return max(round_trips * latency, requests / rate)


# -- measured tool runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One finished process: wall time, peak resident memory, exit code and its output."""

    wall: float
    peak_rss_mb: float
    exit_code: int
    stdout: str
    stderr: str


def tool_env() -> dict[str, str]:
    """The environment of a tool run: a user's, with credentials, no CI, no RECONCILER_*.

    The credentials are the emulator's demo pair, in the variables a user sets for a real app,
    so the tool takes the path it takes for one: the endpoint as the real API's, and every
    manifest it reads and everything it prints checked for the credentials (``redact``), which
    a run without credentials skips (about 20 ms more for a plan of 1000 creates).
    Python's bytecode cache is left on (PYTHONDONTWRITEBYTECODE dropped), as on a user's
    machine after the first run: a machine that sets it otherwise recompiles every module of
    the tool in every process, about 0.1 s that no user pays twice.
    """
    drop = ("ENGAGELAB_", "RECONCILER_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k not in ("CI", "PYTHONDONTWRITEBYTECODE")
    }
    env["ENGAGELAB_APP_KEY"] = DEMO_APP_KEY
    env["ENGAGELAB_MASTER_SECRET"] = DEMO_MASTER_SECRET
    return env


def tool_command() -> list[str]:
    return [sys.executable, "-m", "reconciler"]


def run_tool(args: list[str], cwd: Path, command: list[str] | None = None) -> Measured:
    """Run ``python -m reconciler ARGS`` (or ``command`` ARGS) in ``cwd``; wall time and peak
    RSS of that process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*(command or tool_command()), *args],
            cwd=cwd,
            env=tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
            exit_code=proc.returncode,
            stdout=out.read(),
            stderr=err.read(),
        )


# -- the emulator in its own process ----------------------------------------------------------


class ServedEmulator:
    """``reconciler emulator serve`` on a free loopback port, and its control plane.

    Use as a context manager; the process is terminated on exit.
    """

    def __init__(self, *, latency_ms: float, max_active: int = 1000) -> None:
        self.latency_ms = latency_ms
        self.max_active = max_active
        self.url = ""
        self.server_limit: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._http: httpx.Client | None = None

    def __enter__(self) -> ServedEmulator:
        self._proc = subprocess.Popen(
            [*tool_command(), "--now", NOW, "emulator", "serve", "--port", "0",
             "--latency-ms", str(self.latency_ms), "--max-active", str(self.max_active)],
            cwd=ROOT,
            env=tool_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if "listening on" not in line:
            self._proc.kill()
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.url = line.strip().rsplit(" ", 1)[-1]
        self._http = httpx.Client(
            base_url=self.url, auth=(DEMO_APP_KEY, DEMO_MASTER_SECRET), timeout=60
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            self._http.close()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    @property
    def http(self) -> httpx.Client:
        assert self._http is not None, "use ServedEmulator as a context manager"
        return self._http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def set_latency(self, latency_ms: float) -> None:
        self.set_faults(latency_ms=latency_ms)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some fault switches; returns the previous ones."""
        faults: dict[str, Any] = self.call("GET", "/_emulator/faults")
        self.call("PUT", "/_emulator/faults", {**faults, **changes})
        return faults

    def set_server_limit(self, requests_per_second: float | None, shape: str = "429") -> None:
        """The server's own request limit (the ``rate_limit`` fault; beyond it 429, or with
        ``shape`` "28100" the schedule page's 400/28100 "rate limit exceeded"); None: off."""
        self.set_faults(rate_limit=requests_per_second, rate_limit_shape=shape)
        self.server_limit = requests_per_second

    def reset(self) -> None:
        """No tasks, no request log (latency stays)."""
        self.call("POST", "/_emulator/reset")

    def take_requests(self) -> Counter[str]:
        """Vendor API requests since the last call, by method; the log is cleared."""
        return Counter(r["method"] for r in self.take_log())

    def take_log(self) -> list[dict[str, Any]]:
        """The request log since the last call (method, path, status, fault); cleared."""
        records: list[dict[str, Any]] = self.call("GET", "/_emulator/requests")["requests"]
        self.call("DELETE", "/_emulator/requests")
        return records

    def seed(self, bodies: list[dict[str, Any]]) -> list[str]:
        """Create tasks fast (latency and the server limit off meanwhile); their ids in order."""
        before = self.set_faults(latency_ms=0, rate_limit=None)
        try:
            ids = [self.call("POST", "/v4/schedules", b)["schedule_id"] for b in bodies]
        finally:
            self.call("PUT", "/_emulator/faults", before)
        self.take_requests()
        return ids

    def put(self, schedule_id: str, body: dict[str, Any]) -> None:
        """An out-of-band edit (the server limit off meanwhile, it is not the tool's traffic)."""
        before = self.set_faults(rate_limit=None)
        try:
            self.call("PUT", f"/v4/schedules/{schedule_id}", body)
        finally:
            self.call("PUT", "/_emulator/faults", before)


# -- the official SDK, one call after another -------------------------------------------------


def sdk_client(url: str) -> Any:
    import engagelab

    return engagelab.Client(DEMO_APP_KEY, DEMO_MASTER_SECRET, base_url=url)


def sdk_read_all(client: Any) -> tuple[float, int, int]:
    """List every page, then get every detail: (wall, tasks read, requests)."""
    started = time.perf_counter()
    first = client.schedule.list(1)
    rows = list(first.schedules or [])
    requests = 1
    for page in range(2, first.total_pages + 1):
        rows.extend(client.schedule.list(page).schedules or [])
        requests += 1
    details = [client.schedule.get(row["schedule_id"]) for row in rows]
    requests += len(details)
    return time.perf_counter() - started, len(details), requests


def sdk_create_all(client: Any, bodies: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """One create after another: (wall, new ids)."""
    started = time.perf_counter()
    ids = [client.schedule.create(body).schedule_id for body in bodies]
    return time.perf_counter() - started, ids


def sdk_update_all(client: Any, ids: list[str], bodies: list[dict[str, Any]]) -> float:
    """One full-body update after another: wall."""
    started = time.perf_counter()
    for schedule_id, body in zip(ids, bodies, strict=True):
        client.schedule.update(schedule_id, body)
    return time.perf_counter() - started


def load_state_ids(project: Path) -> dict[str, str]:
    """name -> schedule_id from a project's default state file."""
    data = json.loads((project / ".reconciler" / "state.json").read_text(encoding="utf-8"))
    return {name: entry["schedule_id"] for name, entry in data["entries"].items()}
