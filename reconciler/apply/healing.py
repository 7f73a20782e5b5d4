"""Journal healing, decided (pure): what the pending entries of the state say still has to happen,
given a fresh read of the server.

An apply journals every create before its POST (apply.py); after a crash or a lost answer the
next run resolves each pending entry here, from the inventory alone, before it plans. Carrying
out what is decided (the deletes a replace still owes) is apply's ``finish_healing``. Here, apart
from the HTTP client, so that reading and planning need not import the apply machinery.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler.errors import InventoryError
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning.canonical import name_key
from reconciler.planning.diff import fingerprint_matches
from reconciler.remote.observed import Inventory
from reconciler.state import edits as st
from reconciler.state.schema import State


@dataclass
class Healing:
    """What the journal says still has to happen, decided from a fresh inventory."""

    state: State
    finish_deletes: list[tuple[str, str]] = field(default_factory=list)  # (name, old id)
    unresolved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # creates not listed yet, journalled too recently to be taken as never made: (name, when
    # their absence will be trusted)
    waiting: list[tuple[str, datetime]] = field(default_factory=list)
    # creates past their wait, not listed under their name, whose body a task has under
    # another name: (name, [(id, stored name)]); see ``look_alikes``
    look_alikes: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.notes or self.finish_deletes)


def journal_ids(state: State) -> list[str]:
    """Ids the inventory must confirm (listed or 404) for the journal to be healed."""
    ids = {e.schedule_id for e in state.entries.values()}
    ids |= {p.old_schedule_id for p in state.pending.values() if p.old_schedule_id}
    return sorted(ids)


def find_created(inventory: Inventory, name: str, fingerprint: str, exclude: set[str]) -> list[str]:
    """Ids of tasks named ``name`` with the journalled body that nobody else owns.

    Names are compared as a server may compare or store them (canonical.name_key): a server
    that stored "promo " as "promo" did make the task, and taking it as "never created" would
    make the next run create it a second time. Such a task's body is compared under the
    journalled name. Tasks with the exact name come first, then in the list's order (oldest
    first): of two alike, the one an apply racing this one keeps (``Executor._settle_races``
    has the later copy give way to the first).
    """
    key = name_key(name)
    found: list[tuple[bool, int, str]] = []
    for n, task in enumerate(inventory.schedules.values()):
        if task.schedule_id in exclude:
            continue
        if task.name == name:
            if fingerprint_matches(fingerprint, task.body):
                found.append((False, n, task.schedule_id))
        elif name_key(task.name) == key and fingerprint_matches(
            fingerprint, {**task.body, "name": name}
        ):
            found.append((True, n, task.schedule_id))
    return [sid for _, _, sid in sorted(found)]


def look_alikes(
    inventory: Inventory, name: str, fingerprint: str, exclude: set[str]
) -> list[tuple[str, str]]:
    """(id, stored name) of the tasks nobody owns whose body is the journalled one under a name
    ``name_key`` does not fold to ``name``.

    A server that stores a name in a form of its own beyond that key (shortened, case-folded,
    characters replaced) hides the create from :func:`find_created`; dropped once the wait has
    passed, the entry would let the next run create the schedule a second time. Such a task
    could also be someone else's copy, so it is not adopted either: the run stops and says."""
    key = name_key(name)
    return [
        (task.schedule_id, task.name)
        for task in sorted(inventory.schedules.values(), key=lambda t: t.schedule_id)
        if task.schedule_id not in exclude
        and name_key(task.name) != key
        and fingerprint_matches(fingerprint, {**task.body, "name": name})
    ]


@dataclass(frozen=True)
class Held:
    """What other state files hold on this app (another environment's: ``ops.neighbours``):
    task id -> environment, and ``name_key`` of each name it manages or journals a create of
    -> environment. Never adopted, deleted or given way to here."""

    ids: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)


def heal_journal(
    state: State,
    inventory: Inventory,
    now: datetime,
    local: datetime | None = None,
    foreign: frozenset[str] = frozenset(),
) -> Healing:
    """Resolve every pending entry against what the server holds (pure). ``now``: by the
    command's clock (the server's); ``local``: by this machine's (``edits.grace_left``);
    ``foreign``: tasks another state file manages (another environment's on this app): never
    taken for a create of this one, however alike.

    create / recreate / replace: the task with the journalled name and fingerprint that no state
    entry claims is adopted; if a complete read has no such task, the POST never took effect and
    the entry is dropped; if the read is incomplete, the entry stays (``unresolved``) and nothing
    may be planned for that name. delete: the old task is deleted if it still exists.
    update: always dropped (the next plan repeats or refreshes it).
    """
    out = Healing(state=state)
    claimed = {e.schedule_id for e in state.entries.values()} | foreign
    past_wait: list[str] = []
    for name in sorted(state.pending):
        p = state.pending[name]
        if p.op == "update":
            out.state = st.clear_pending(out.state, name)
            out.notes.append(f"{name!r}: interrupted update dropped from the journal")
            continue
        if p.op == "delete":
            old = p.old_schedule_id
            if old and old in inventory.schedules:
                out.finish_deletes.append((name, old))
                out.notes.append(_still_active(name, old))
            elif old and old not in inventory.gone and not inventory.complete:
                out.unresolved.append(name)
            else:
                out.state = st.clear_pending(out.state, name)
                out.notes.append(f"{name!r}: the old task {old} is already gone")
            continue
        # create, recreate (journalled as "create"), replace: find the task we may have made
        exclude = claimed | ({p.old_schedule_id} if p.old_schedule_id else set())
        matches = find_created(inventory, name, p.fingerprint, exclude)
        if matches:
            found = matches[0]
            entry = state.entries.get(name)
            protected = entry.protected if entry is not None else False
            out.state = st.record_create(out.state, name, found, p.fingerprint, protected, now)
            claimed.add(found)
            out.notes.append(f"{name!r}: adopted {found}, created before a crash")
            stored = inventory.schedules[found].name
            if stored != name:
                out.notes.append(f"{name!r}: the server stored the name of {found} as {stored!r}")
            if p.op == "replace" and p.old_schedule_id:
                out.state = st.begin_pending(
                    out.state, "delete", name, p.fingerprint, now, p.old_schedule_id
                )
                if p.old_schedule_id in inventory.schedules:
                    out.finish_deletes.append((name, p.old_schedule_id))
                    out.notes.append(_still_active(name, p.old_schedule_id))
                else:
                    out.state = st.clear_pending(out.state, name)
            if len(matches) > 1:
                extra = ", ".join(matches[1:])
                out.notes.append(
                    f"{name!r}: more tasks with the same name and body exist ({extra}); "
                    "they are reported as conflicts, not deleted"
                )
        elif not inventory.complete:
            out.unresolved.append(name)
        elif (left := st.grace_left(p, now, local)) > LATE_COMMIT_GRACE * 2:
            # Stamped by a clock ahead of this one (a rehearsal's --now, a server's Date, another
            # runner's clock): its age cannot be told, and waiting for that time could take a
            # month. Waited for from now instead (an apply saves the new stamp).
            out.state = st.restamp_pending(out.state, now, [name], local=local)
            out.waiting.append((name, now + LATE_COMMIT_GRACE))
            when = f"{p.started_at:%Y-%m-%d %H:%M:%S %Z}"
            out.notes.append(
                f"{name!r}: the interrupted {p.op} was journalled at {when}, after now by this "
                "command's clock or this machine's; it is waited for from now"
            )
        elif left <= timedelta(0):
            past_wait.append(name)
        else:
            if p.started_locally is None and local is not None:
                # Journalled before entries had this machine's stamp: from now on the wait
                # holds by this clock too (from here, as it cannot tell when it started). The
                # note makes apply save it.
                out.state = st.restamp_pending(out.state, p.started_at, [name], local=local)
                out.notes.append(
                    f"{name!r}: the interrupted {p.op} is waited for by this machine's clock "
                    "as well from now (its journal entry had the server's time only)"
                )
            out.waiting.append((name, now + left))
    # After every adoption above: a task another entry's create made is not a look-alike.
    journalled = {name_key(n) for n in state.pending}
    for name in past_wait:
        p = state.pending[name]
        exclude = claimed | ({p.old_schedule_id} if p.old_schedule_id else set())
        alike = [
            (sid, stored)
            for sid, stored in look_alikes(inventory, name, p.fingerprint, exclude)
            if name_key(stored) not in journalled
        ]
        if alike:
            out.look_alikes.append((name, alike))
            continue
        out.state = st.clear_pending(out.state, name)
        out.notes.append(f"{name!r}: the interrupted {p.op} did not take effect")
    return out


def _still_active(name: str, old: str) -> str:
    return (
        f"{name!r}: the task {old} it replaced is still active (an interrupted replace); "
        "apply deletes it before anything else"
    )


def planning_state(healing: Healing) -> State:
    """The healed state as the planner must see it: journalled deletes as already done.

    Apply finishes them before it runs the plan, and the inventory handed to the planner leaves
    the old tasks out; a pending entry left in would make the planner distrust the name's
    entry and report its new task as a conflict.
    """
    state = healing.state
    for name, _ in healing.finish_deletes:
        state = st.clear_pending(state, name)
    return state


def require_healed(healing: Healing) -> None:
    if healing.waiting:
        names = ", ".join(repr(n) for n, _ in healing.waiting)
        until = max(t for _, t in healing.waiting)
        raise InventoryError(
            f"the interrupted create of {names} is not in the remote list yet; its answer was "
            "lost or the run stopped, and a server may still commit a request it did not "
            f"answer, so it is not sent again before {until:%Y-%m-%d %H:%M:%S %Z} (by the "
            "server's clock)",
            hint="re-run after that time (the task is adopted if it has appeared, created "
            "if not); no change was planned",
        )
    if healing.look_alikes:
        name, alike = healing.look_alikes[0]
        tasks = ", ".join(f"{sid} (named {stored!r})" for sid, stored in alike)
        more = len(healing.look_alikes) - 1
        raise InventoryError(
            f"the interrupted create of {name!r} is not in the remote list under its name, but "
            f"{tasks} has its body under another name: the server may have stored the task "
            "under a name of its own; nothing was created again"
            + (f" (and {more} more such create(s))" if more else ""),
            hint=f"if that task is the one this create made, rename it to {name!r} in the "
            "console (the next apply adopts it) or delete it (the next apply creates the "
            "schedule)"
            + (
                f"; if it is someone else's, `reconciler state rm --pending {shlex.quote(name)}` "
                "lets the next apply create it"
                if healing.state.pending[name].op == "create"
                # A replace's entry is dropped only on purpose: its old task may still fire.
                else f"; if it is someone else's, `reconciler state rm --pending --force "
                f"{shlex.quote(name)}` drops the interrupted replace (check first that its old "
                "task is gone or still wanted)"
            ),
        )
    if healing.unresolved:
        names = ", ".join(repr(n) for n in healing.unresolved)
        raise InventoryError(
            f"interrupted writes of {names} cannot be resolved from an incomplete remote read",
            hint="re-run when the API answers every page; nothing was changed",
        )
