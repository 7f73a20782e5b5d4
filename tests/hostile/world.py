"""A project in sync with a hostile server's emulator, and one CLI run against a lie.

``build_world`` writes ``tasks`` manifests, serves a ``HostileApp`` on 127.0.0.1 (accepting
the canary credentials of ``tests/secrets``) and runs an honest ``apply``: afterwards the
manifests, the state file and the server agree, so a trustworthy ``plan`` has nothing to do
and any write is the lie's doing. ``run_against`` aims a lie, runs one command and returns
what the tool did; ``check`` asserts the guarantees every lie must leave intact.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.emulator import Emulator
from tests.badinput.helpers import NOW, Outcome, describe, invoke, write_project
from tests.badinput.server import serve_asgi
from tests.kit.clock import FakeClock
from tests.reliability.campaign import FULL
from tests.secrets.conftest import CANARY_ENV, CANARY_KEY, CANARY_SECRET, leaks

from .lies import DuplicateIds
from .server import HostileApp, Lie, Seen

COMMANDS: dict[str, tuple[str, ...]] = {
    "plan": ("plan",),
    "apply": ("apply", "--auto-approve"),
    "drift": ("drift",),
}
# Short enough that slow lies end quickly, long enough for an honest loopback read.
TIMEOUT = 1.0
READ_DEADLINE = 8.0 if FULL else 3.0
RATE_LIMIT = 5000.0  # requests/s: loopback; the default 50/s would make the reads take seconds
BOUND = 30.0  # seconds any one run may take, whatever the lie


def manifest(i: int) -> str:
    return f"""\
name: hostile_{i:04d}
enabled: true
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
push:
  to: all
  body:
    platform: all
    notification:
      alert: Hello {i}
"""


@dataclass
class World:
    app: HostileApp
    url: str
    root: Path
    ids: list[str]  # oldest first, as the list shows them
    names: dict[str, str]  # id -> name


@contextmanager
def build_world(root: Path, tasks: int) -> Iterator[World]:
    emulator = Emulator(app_key=CANARY_KEY, master_secret=CANARY_SECRET, clock=FakeClock(NOW).wall)
    app = HostileApp(emulator)
    write_project(root, {f"hostile_{i:04d}.yaml": manifest(i) for i in range(tasks)})
    with serve_asgi(app) as url, _inside(root):
        setup = ["--endpoint", url, "--rate-limit", str(RATE_LIMIT), *COMMANDS["apply"]]
        outcome = invoke(setup, env=CANARY_ENV)
        assert outcome.exit_code == 0, describe(outcome)
        state = json.loads((root / ".reconciler" / "state.json").read_text())
        names = {e["schedule_id"]: name for name, e in state["entries"].items()}
        assert len(names) == tasks
        creates = [r for r in emulator.request_log if r.method == "POST"]
        assert len(creates) == tasks
        # Created in name order, so the list (oldest first) shows them in name order.
        ids = sorted(names, key=names.__getitem__)
        yield World(app=app, url=url, root=root, ids=ids, names=names)


@contextmanager
def _inside(root: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass
class Run:
    lie: Lie
    command: str
    outcome: Outcome
    seconds: float
    writes: list[Seen]
    requests: int


def run_against(
    world: World, lie: Lie, command: str, target: int = 0, extra: tuple[str, ...] = ()
) -> Run:
    """Aim ``lie`` at the ``target``-th task (the first one for repeated rows) and run
    ``command`` (with ``extra`` arguments) once against it, from the project's directory."""
    index = 0 if isinstance(lie, DuplicateIds) else target % len(world.ids)
    lie.target = world.ids[index]
    if isinstance(lie, DuplicateIds) and not lie.target_name:
        lie.target_name = world.names[lie.target]
    world.app.use(lie)
    args = [
        "--endpoint",
        world.url,
        "--timeout",
        str(TIMEOUT),
        "--read-deadline",
        str(READ_DEADLINE),
        "--rate-limit",
        str(RATE_LIMIT),
        *COMMANDS[command],
        *extra,
    ]
    started = time.monotonic()
    with _inside(world.root):
        outcome = invoke(args, env=CANARY_ENV)
    seconds = time.monotonic() - started
    writes = world.app.writes()
    requests = len(world.app.seen)
    world.app.use(Lie())
    return Run(lie, command, outcome, seconds, writes, requests)


def check(run: Run) -> None:
    """What every lie must leave intact: no write, no traceback, bounded time, no secret; and
    when the lie is one the tool must see through, exit 1 with a message saying so."""
    why = f"{run.lie!r} / {run.command}\n{describe(run.outcome)}"
    assert run.writes == [], why
    assert run.outcome.escaped is None, why
    assert "Traceback" not in run.outcome.text, why
    assert run.seconds < BOUND, why
    assert leaks(run.outcome.text) == [], why
    if run.lie.refuse is not None:
        assert run.outcome.exit_code == 1, why
        assert "error:" in run.outcome.stderr, why
        assert run.lie.refuse in run.outcome.stderr, why
    else:
        assert run.outcome.exit_code in (0, 1, 2), why
