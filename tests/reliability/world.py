"""The world the reliability campaigns run in: seeded manifests, a project, the CLI, the verdict.

* ``make_manifests`` / ``mutate``: seeded manifest sets (single, periodical and intelligent
  triggers in both zone types) and the next generation of them: some edited (update), some
  removed (delete), some given another zone_type or trigger kind (replace), some disabled, some
  added (create).
* ``Project``: a temporary repository with ``schedules/``, ``.reconciler/`` and a
  ``reconciler.yaml``; manifests are written as JSON documents (JSON is YAML), several to a file.
* ``invoke`` runs the CLI in-process (CliRunner), ``spawn_apply`` as a subprocess.
* ``verify``: the promise, checked: remote tasks equal the manifests by name and canonical body,
  no two remote tasks share a name, every managed task is in the state with its id and
  fingerprint, no journal entry is left, the state file parses, unmanaged tasks are untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import IO, Any

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.emulator import Emulator, Faults
from reconciler.emulator.core import CHURN_PREFIX, RequestRecord
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning.diff import fingerprint_matches, same_body
from reconciler.state.store import StateStore
from tests.kit import bodies
from tests.kit.clock import FakeClock

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # every trigger below lies in 2027
RUN_INTERVAL = LATE_COMMIT_GRACE + timedelta(seconds=1)
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
ALERTS = ["Hello", "Grüße aus Köln", "今日のお知らせ", "مرحبا بك", "Ça va? 🎉", "Z\u0301ebra"]

Body = dict[str, Any]


def new_emulator(faults: Faults | None = None) -> Emulator:
    """An in-memory emulator frozen at ``NOW`` (the CLI is given the same ``--now``)."""
    return Emulator(clock=FakeClock(NOW).wall, faults=faults)


# -- manifests --------------------------------------------------------------------------------


def _stamp(rng: Random) -> str:
    return f"2027-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:" + (
        f"{rng.choice([0, 15, 30, 45]):02d}:00"
    )


def make_trigger(rng: Random, kind: str, zone_type: int) -> Body:
    if kind == "single":
        return {"single": {"time": _stamp(rng), "zone_type": zone_type}}
    if kind == "intelligent":
        return {"intelligent": {"backup_time": _stamp(rng)}}
    unit = rng.choice(["day", "week", "month"])
    point: list[str] = []
    if unit == "week":
        point = rng.sample(WEEKDAYS, rng.randint(1, 3))
    elif unit == "month":
        point = [f"{d:02d}" for d in sorted(rng.sample(range(1, 29), rng.randint(1, 3)))]
    return {
        "periodical": {
            "start": "2027-01-01 00:00:00",
            "end": "2027-06-30 23:59:59",
            "time": f"{rng.randint(0, 23):02d}:{rng.choice([0, 30]):02d}:00",
            "time_unit": unit,
            "point": point,
            "zone_type": zone_type,
        }
    }


def make_push(rng: Random, name: str, generation: int) -> Body:
    to: Any = rng.choice(
        [
            "all",
            {"tag": ["digest", f"t{rng.randint(1, 9)}"]},
            {"registration_id": ["1a0018970ab49"]},
        ]
    )
    return {
        "to": to,
        "body": {
            "platform": rng.choice(["all", "android", ["android", "ios"]]),
            "notification": {"alert": f"{rng.choice(ALERTS)} {name} v{generation}"},
            "options": {"time_to_live": rng.choice([60, 3600, 86400])},
        },
    }


def make_body(rng: Random, name: str, generation: int = 0) -> Body:
    kind = rng.choice(["single", "single", "periodical", "periodical", "intelligent"])
    trigger = make_trigger(rng, kind, rng.choice([1, 2]))
    return bodies.body(name, trigger=trigger, push=make_push(rng, name, generation))


def make_manifests(rng: Random, count: int, prefix: str = "s") -> dict[str, Body]:
    names = [f"{prefix}{i:03d}" if i % 7 else f"日报_{prefix}{i:03d}" for i in range(count)]
    return {name: make_body(rng, name) for name in names}


def trigger_kind(body: Mapping[str, Any]) -> str:
    return next(iter(body["trigger"]))


def zone_of(body: Mapping[str, Any]) -> int | None:
    spec = body["trigger"][trigger_kind(body)]
    zone = spec.get("zone_type")
    return zone if isinstance(zone, int) else None


def edited(rng: Random, body: Body, generation: int) -> Body:
    """The same task, changed in place (same trigger kind and zone_type): an update."""
    out = json.loads(json.dumps(body))
    out["push"]["body"]["notification"]["alert"] = (
        f"{rng.choice(ALERTS)} {body['name']} v{generation}"
    )
    kind = trigger_kind(out)
    if rng.random() < 0.5:
        if kind == "single":
            out["trigger"]["single"]["time"] = _stamp(rng)
        elif kind == "intelligent":
            out["trigger"]["intelligent"]["backup_time"] = _stamp(rng)
        else:
            out["trigger"]["periodical"]["time"] = f"{rng.randint(0, 23):02d}:15:00"
    return out


def replaced(rng: Random, body: Body, generation: int) -> Body:
    """The same name with another zone_type or trigger kind: a replace."""
    kind, zone = trigger_kind(body), zone_of(body)
    if kind != "intelligent" and rng.random() < 0.5:
        assert zone is not None
        trigger = make_trigger(rng, kind, 3 - zone)
    else:
        new_kind = rng.choice([k for k in ("single", "periodical", "intelligent") if k != kind])
        trigger = make_trigger(rng, new_kind, rng.choice([1, 2]))
    out = json.loads(json.dumps(body))
    out["trigger"] = trigger
    out["push"]["body"]["notification"]["alert"] = f"replaced {body['name']} v{generation}"
    return out


@dataclass
class Change:
    """The next generation of manifests and what it asks of apply."""

    manifests: dict[str, Body]
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # untouched by the change


def mutate(rng: Random, current: Mapping[str, Body], generation: int) -> Change:
    """A mixed change: at least one create, update, delete and replace (when there are enough)."""
    names = sorted(current)
    rng.shuffle(names)
    n = len(names)
    counts = [
        rng.randint(1, max(1, n // 5)),  # replaced
        rng.randint(1, max(1, n // 5)),  # deleted
        rng.randint(1, max(1, n // 4)),  # updated
        rng.randint(0, 1),  # disabled
    ]
    groups: list[list[str]] = []
    at = 0
    for k in counts:
        groups.append(names[at : at + k])
        at += k
    replaced_names, deleted, updated, disabled = groups
    out = {name: body for name, body in current.items() if name not in deleted}
    for name in updated:
        out[name] = edited(rng, current[name], generation)
    for name in replaced_names:
        out[name] = replaced(rng, current[name], generation)
    for name in disabled:
        out[name] = {**current[name], "enabled": False}
    created = [f"g{generation}_{i:02d}" for i in range(rng.randint(1, 5))]
    for name in created:
        out[name] = make_body(rng, name, generation)
    return Change(
        manifests=out,
        created=created,
        updated=updated,
        deleted=deleted,
        replaced=replaced_names,
        disabled=disabled,
        kept=names[at:],
    )


def add_unmanaged(
    em: Emulator, rng: Random, count: int, prefix: str = "unmanaged"
) -> dict[str, Body]:
    """Tasks created behind the reconciler's back; ``{schedule_id: full body}``."""
    out: dict[str, Body] = {}
    for i in range(count):
        name = f"{prefix}_{rng.randrange(10**6):06d}_{i}"
        sid = em.add_schedule(make_body(rng, name))
        out[sid] = _detail(em, sid)
    return out


def _detail(em: Emulator, schedule_id: str) -> Body:
    return next(t for t in em.schedules() if t["schedule_id"] == schedule_id)


# -- the project on disk ----------------------------------------------------------------------

CONFIG = """\
environments:
  default:
    manifests: schedules
    state: .reconciler/state.json
"""


@dataclass(frozen=True)
class Project:
    """A temporary repository the reconciler runs in.

    Commands run at ``NOW`` (``--now``), except that a command run while the journal holds a
    create (or replace) comes ``RUN_INTERVAL`` after the one before, and so do all after it:
    as in life, the re-run of an interrupted apply is later, and a create whose answer was lost
    is only given up once ``LATE_COMMIT_GRACE`` has passed (the server may still commit it); a
    re-run in the same instant would wait for ever. The emulator's own clock stays at ``NOW``:
    under ``--now`` the reconciler judges time by that, not by the server's ``Date``.
    """

    root: Path
    later: list[timedelta] = field(default_factory=lambda: [timedelta(0)], compare=False)

    def next_now(self) -> datetime:
        """``--now`` of the next command run in the project."""
        try:
            pending = StateStore(self.state_path).load().pending.values()
        except Exception:  # no state yet, or a test's broken one: the time does not move
            pending = []
        if any(p.op in ("create", "replace") for p in pending):
            self.later[0] += RUN_INTERVAL
        return NOW + self.later[0]

    @classmethod
    def create(cls, root: Path) -> Project:
        (root / "schedules").mkdir(parents=True)
        (root / ".reconciler").mkdir()
        (root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
        return cls(root)

    @property
    def config(self) -> Path:
        return self.root / "reconciler.yaml"

    @property
    def state_path(self) -> Path:
        return self.root / ".reconciler" / "state.json"

    def write(self, manifests: Mapping[str, Body], rng: Random) -> None:
        """Replace ``schedules/`` by ``manifests``, one to three documents per file."""
        for old in (self.root / "schedules").glob("*.yaml"):
            old.unlink()
        names = sorted(manifests)
        rng.shuffle(names)
        index = 0
        while names:
            take = names[: rng.randint(1, 3)]
            names = names[len(take) :]
            text = "\n---\n".join(json.dumps(manifests[n], ensure_ascii=False) for n in take)
            (self.root / "schedules" / f"m{index:03d}.yaml").write_text(text + "\n", "utf-8")
            index += 1

    def store(self) -> StateStore:
        return StateStore(self.state_path)


# -- running the CLI --------------------------------------------------------------------------

_FOREIGN = ("ENGAGELAB_", "RECONCILER_")


def _foreign(key: str) -> bool:
    return key.startswith(_FOREIGN) or key == "CI"


def global_args(project: Project, url: str, extra: Sequence[str] = ()) -> list[str]:
    """Top-level options: the served emulator (demo credentials), the project, frozen time."""
    return [
        "--config",
        str(project.config),
        "--emulator",
        "--endpoint",
        url,
        "--now",
        project.next_now().isoformat(),
        *extra,
    ]


def invoke(project: Project, url: str, args: Sequence[str], extra: Sequence[str] = ()) -> Result:
    """The CLI in this process (no credentials, no CI, no RECONCILER_* from outside)."""
    env: dict[str, str | None] = {k: None for k in os.environ if _foreign(k)}
    return CliRunner().invoke(cli, [*global_args(project, url, extra), *args], env=env)


def spawn_apply(
    project: Project, url: str, out: IO[bytes], extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """``python -m reconciler ... apply --auto-approve`` as a child process, output to ``out``."""
    env = {k: v for k, v in os.environ.items() if not _foreign(k)}
    args = [*global_args(project, url, extra), "apply", "--auto-approve", "--allow-mass-delete"]
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


# -- the verdict ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """Everything that breaks the promise; all empty when the world converged."""

    duplicates: dict[str, list[str]] = field(default_factory=dict)  # name -> ids
    losses: list[str] = field(default_factory=list)  # manifest names with no remote task
    strays: dict[str, str] = field(default_factory=dict)  # id -> name: remote, no manifest
    wrong_body: list[str] = field(default_factory=list)
    unmanaged_touched: list[str] = field(default_factory=list)
    state_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(
            (
                self.duplicates,
                self.losses,
                self.strays,
                self.wrong_body,
                self.unmanaged_touched,
                self.state_problems,
            )
        )

    def describe(self) -> str:
        parts = [f"{k}: {v}" for k, v in vars(self).items() if v]
        return "; ".join(parts) or "converged"


def verify(
    em: Emulator, project: Project, manifests: Mapping[str, Body], unmanaged: Mapping[str, Body]
) -> Verdict:
    """Compare the emulator's tasks and the state file with the manifests (module docstring)."""
    v = Verdict()
    remote = em.schedules()
    names = Counter(t["name"] for t in remote)
    for name, count in names.items():
        if count > 1:
            v.duplicates[name] = sorted(t["schedule_id"] for t in remote if t["name"] == name)
    current = {t["schedule_id"]: t for t in remote}
    for sid, body in unmanaged.items():
        if current.get(sid) != body:
            v.unmanaged_touched.append(sid)
    managed = {
        t["schedule_id"]: t
        for t in remote
        if t["schedule_id"] not in unmanaged and not t["name"].startswith(CHURN_PREFIX)
    }
    by_name = {t["name"]: t for t in managed.values()}
    try:
        state = project.store().load()
    except Exception as exc:  # the verdict reports, the caller asserts
        v.state_problems.append(f"state file does not load: {exc}")
        return v
    # docs/design.md: a disabled manifest that has no task yet is skipped, not created.
    expected = {
        name
        for name, body in manifests.items()
        if body["enabled"] is not False or name in by_name or name in state.entries
    }
    for name in sorted(expected):
        task = by_name.get(name)
        if task is None:
            v.losses.append(name)
        elif not same_body(_strip(task), manifests[name]):
            v.wrong_body.append(name)
    v.strays = {sid: t["name"] for sid, t in managed.items() if t["name"] not in manifests}
    if state.pending:
        v.state_problems.append(f"journal entries left: {sorted(state.pending)}")
    if set(state.entries) != expected:
        v.state_problems.append(
            f"state names differ: missing {sorted(expected - set(state.entries))}, "
            f"extra {sorted(set(state.entries) - expected)}"
        )
    for name, entry in state.entries.items():
        task = by_name.get(name)
        if task is None:
            continue
        if entry.schedule_id != task["schedule_id"]:
            v.state_problems.append(
                f"{name}: state id {entry.schedule_id}, remote {task['schedule_id']}"
            )
        elif name in manifests and not fingerprint_matches(entry.fingerprint, manifests[name]):
            v.state_problems.append(f"{name}: stale fingerprint in the state")
    return v


def _strip(task: Mapping[str, Any]) -> Body:
    return {k: val for k, val in task.items() if k != "schedule_id"}


# -- reading the request log ------------------------------------------------------------------


def writes(log: Iterable[RequestRecord]) -> list[RequestRecord]:
    return [r for r in log if r.method in WRITE_METHODS and r.path.startswith("/v4/")]


def fault_counts(log: Iterable[RequestRecord]) -> Counter[str]:
    return Counter(r.fault for r in log if r.fault)


def list_reads(log: Iterable[RequestRecord]) -> list[RequestRecord]:
    """The list-page requests (each one is followed by ``churn_per_page`` churn operations)."""
    return [r for r in log if r.method == "GET" and r.path == "/v4/schedules"]
