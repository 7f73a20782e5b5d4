"""The import operation: adopt existing remote tasks into the state (the only way to own them).

One job: the adoption rules. A task is adopted under its own name, by a manifest of that name,
when neither the name nor the task is managed yet; ``all_matching`` adopts every task whose name
matches exactly one unmanaged manifest, and leaves alone what the ignore rules declare someone
else's. The remote body is recorded as last applied; nothing is written to the API.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import InventoryError, NotFoundError, UsageError
from reconciler.ops import observe
from reconciler.ops.aio import run_async
from reconciler.ops.neighbours import held_elsewhere
from reconciler.planning.canonical import name_key

if TYPE_CHECKING:
    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions
    from reconciler.remote.observed import RemoteSchedule
    from reconciler.state.schema import State

LOCK_HOLDER = "reconciler import"


@dataclass(frozen=True)
class AdoptRequest:
    """What ``reconciler import`` was asked: NAME=SCHEDULE_ID pairs or ``all_matching``."""

    pairs: tuple[tuple[str, str], ...] = ()  # (manifest name, schedule id), each name and id once
    all_matching: bool = False
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class AdoptResult:
    """The tasks adopted, and those ``all_matching`` left alone with why."""

    skipped: tuple[str, ...]  # "'name': why"
    imported: tuple[tuple[str, str], ...]  # (name, schedule id), by name


def adopt(options: GlobalOptions, request: AdoptRequest, feedback: Feedback) -> AdoptResult:
    """Record the chosen remote tasks in the state under the state lock."""
    from reconciler.planning.canonical import fingerprint
    from reconciler.remote.inventory import read_inventory
    from reconciler.state import edits as st

    wanted = dict(request.pairs)
    ws = observe.open_workspace(options, feedback)
    desired, _ = observe.load_desired(ws)
    by_name = {d.name: d for d in desired}
    unknown = sorted(set(wanted) - set(by_name))
    if unknown:
        raise UsageError(
            f"no manifest named {', '.join(repr(n) for n in unknown)} in {ws.env.manifests}",
            hint="write the manifest first; import links a manifest name to a remote task",
        )
    ws.say_where(feedback.note)

    async def run() -> AdoptResult:
        with ws.store.lock(request.lock_timeout, LOCK_HOLDER):
            state = observe.load_state(ws)
            claimed = {e.schedule_id: n for n, e in state.entries.items()}
            # The journal's own: the old task an interrupted replace still has to delete is
            # not free to adopt, and a name with a journal entry is not free to link: recording
            # a task under it would settle that entry (a create whose answer may still come,
            # a debt) without its write being resolved.
            journalled = {
                p.old_schedule_id: n for n, p in state.pending.items() if p.old_schedule_id
            }
            # Managed by another environment's state on this same app: a second manager.
            elsewhere = held_elsewhere(ws).ids
            skipped: list[str] = []
            imported: list[tuple[str, str]] = []
            async with ws.target.client() as client:
                if request.all_matching:
                    # Confirmed: a single pass that churn fooled (a task deleted before a page
                    # boundary moves the next onto a page already read) could hide one of two
                    # tasks of a name, and the other would be adopted as if it were the only one.
                    inventory = await read_inventory(client, confirm=True)
                    if not inventory.complete:
                        # A task the list missed could be a second one of the same name: adopting
                        # one of two would leave the other firing unmanaged.
                        raise InventoryError(
                            "the remote list could not be read completely ("
                            + "; ".join(inventory.problems)
                            + "); nothing was imported",
                            hint="re-run when the API answers every page, or import single "
                            "tasks with NAME=SCHEDULE_ID",
                        )
                    # Tasks found by the key the planner compares names by: a task "promo "
                    # beside "promo" is a second task of the manifest's name, not another name.
                    alike: dict[str, list[RemoteSchedule]] = {}
                    for task in inventory.schedules.values():
                        alike.setdefault(name_key(task.name), []).append(task)
                    for name in sorted(by_name):
                        tasks = alike.get(name_key(name), [])
                        if not tasks or name in state.entries:
                            continue
                        if name in state.pending:
                            skipped.append(
                                f"{name!r}: {_journalled(state, name)}; `reconciler apply` "
                                "resolves it, import after it"
                            )
                            continue
                        free = [
                            t
                            for t in tasks
                            if t.schedule_id not in claimed and t.schedule_id not in journalled
                        ]
                        if not free:
                            continue
                        if len(free) > 1:
                            ids = ", ".join(t.schedule_id for t in free)
                            skipped.append(f"{name!r}: {len(free)} remote tasks ({ids})")
                            continue
                        if free[0].name != name:
                            skipped.append(
                                f"{name!r}: task {free[0].schedule_id} is named "
                                f"{free[0].name!r} (other spaces or character forms); rename "
                                "the task or the manifest so that the names are the same"
                            )
                            continue
                        if free[0].schedule_id in elsewhere:
                            skipped.append(
                                f"{name!r}: task {free[0].schedule_id} "
                                f"{_elsewhere(elsewhere[free[0].schedule_id])}"
                            )
                            continue
                        rule = ws.env.ignore.rule_for(free[0].schedule_id, name)
                        if rule is not None:
                            # Declared as someone else's: the bulk import leaves it alone; an
                            # explicit NAME=ID is the deliberate way to take it over.
                            skipped.append(
                                f"{name!r}: task {free[0].schedule_id} is ignored by "
                                f"reconciler.yaml ({rule}); import it by NAME=ID to take it over"
                            )
                            continue
                        wanted[name] = free[0].schedule_id
                bodies: dict[str, dict[str, object]] = {}
                for name, sid in sorted(wanted.items()):
                    if name in state.entries:
                        raise UsageError(
                            f"{name!r} is already managed as {state.entries[name].schedule_id}",
                            hint=f"`reconciler state rm {shlex.quote(name)}` first to re-link it",
                        )
                    if sid in claimed:
                        raise UsageError(
                            f"task {sid} is already managed as {claimed[sid]!r}",
                            hint="one remote task can back only one manifest",
                        )
                    if name in state.pending:
                        raise UsageError(
                            f"cannot import {name!r}: {_journalled(state, name)}",
                            hint="run `reconciler apply` first (it resolves the journal), then "
                            "import",
                        )
                    if sid in elsewhere:
                        raise UsageError(
                            f"cannot import task {sid}: it {_elsewhere(elsewhere[sid])}",
                            hint="give each environment its own app (AppKey and endpoint), or "
                            "manage this app from one environment only",
                        )
                    if sid in journalled:
                        raise UsageError(
                            f"cannot import task {sid}: the journal still has to delete it (the "
                            f"old task of an interrupted replace of {journalled[sid]!r})",
                            hint="run `reconciler apply`: it finishes the replace",
                        )
                    try:
                        body = await client.get_schedule(sid)
                    except NotFoundError:
                        raise UsageError(
                            f"no active remote task {sid} (for {name!r})",
                            hint="check the id for typos; `reconciler remote list` lists the "
                            "app's tasks with their ids",
                        ) from None
                    if body.get("name") != name:
                        raise UsageError(
                            f"task {sid} is named {body.get('name')!r}, not {name!r}",
                            hint="import a task under its own name (rename the manifest first)",
                        )
                    bodies[name] = body
            ws.server_clock.follow(client)
            for name, body in bodies.items():
                sid = wanted[name]
                state = st.record_create(
                    state, name, sid, fingerprint(body), by_name[name].protected, ws.clock()
                )
                imported.append((name, sid))
            if bodies:
                ws.store.save(state)
            return AdoptResult(tuple(skipped), tuple(imported))

    return run_async(run())


def _elsewhere(env: str) -> str:
    return (
        f"is managed by the environment {env!r}, whose state file is bound to this same app "
        "(endpoint and AppKey): two environments must not manage one app's tasks"
    )


def _journalled(state: State, name: str) -> str:
    """Why ``name``'s journal entry keeps an import away (for a message)."""
    p = state.pending[name]
    if p.op == "delete" and p.old_schedule_id:
        return (
            f"the journal still has to delete its old task {p.old_schedule_id} (an interrupted "
            "replace)"
        )
    return f"an interrupted {p.op} of it is still in the journal"
