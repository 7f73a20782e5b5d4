"""The read side of every command: manifests, state and remote observed together, then planned.

One job: gather the three inputs of the planner in the right order (manifests first, so a bad
manifest stops everything before any call; state and its binding next; then the inventory and
the journal healing) and hand back a ``Observation`` holding the plan. Writes belong to apply.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from reconciler import heap
from reconciler.apply.healing import (
    Healing,
    heal_journal,
    journal_ids,
    planning_state,
    require_healed,
)
from reconciler.config.environments import Environment
from reconciler.config.ignore import split_ignored
from reconciler.config.session import Target, load_environment, now_of, resolve_target
from reconciler.errors import InventoryError, Problem, UnsafePlanError
from reconciler.manifests.load import Manifest, load_manifests
from reconciler.ops.feedback import Feedback, silent
from reconciler.ops.neighbours import held_elsewhere, refuse_same_app
from reconciler.options import GlobalOptions
from reconciler.planning.artifact import Plan
from reconciler.planning.canonical import name_key
from reconciler.planning.inputs import Desired, listed_digest
from reconciler.planning.planner import make_plan
from reconciler.planning.safety import PlanOptions, fire_guard_violations
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import read_inventory
from reconciler.remote.listing import RemoteList, read_list
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.binding import binding_for, check_binding
from reconciler.state.schema import State
from reconciler.state.store import StateStore

Progress = Callable[[str], None]
_T = TypeVar("_T")

# A server clock further than this from ours is worth a warning (the decisions follow the server
# either way: a schedule fires by its clock).
SKEW_WARNING = timedelta(minutes=1)


@dataclass
class ServerClock:
    """The command's clock: ``--now`` if given, else the server's (its ``Date`` header), else ours.

    Expiry, the fire guard and "does it still fire" are decided by the time the server fires
    by; a runner with a wrong clock must not forget, recreate or guard schedules by its own.
    """

    fixed: datetime | None
    offset: timedelta | None = None
    warn: Callable[[str], None] = silent  # a skew worth telling the person about

    def now(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        return datetime.now(UTC) + (self.offset or timedelta(0))

    def local(self) -> datetime:
        """Now by this machine's clock (``--now`` if given: a rehearsal moves both)."""
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    def follow(self, client: EngageLabClient) -> None:
        """Take the server's clock from the client's first answer (once; not under ``--now``)."""
        if self.fixed is not None or self.offset is not None or client.server_offset is None:
            return
        self.offset = client.server_offset
        if abs(self.offset) > SKEW_WARNING:
            side = "ahead of" if self.offset > timedelta(0) else "behind"
            self.warn(
                f"the server's clock is {_span(abs(self.offset))} {side} this "
                f"machine's; times are judged by the server's ({_iso(self.now())})"
            )


def _span(delta: timedelta) -> str:
    days, minutes = divmod(round(delta.total_seconds() / 60), 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts) or "under a minute"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Workspace:
    """What one command works on: environment, API target, state file and the clock."""

    options: GlobalOptions
    env: Environment
    target: Target
    store: StateStore
    now: datetime  # when the command started (manifest checks run before any answer)
    server_clock: ServerClock = field(default_factory=lambda: ServerClock(None))

    @property
    def binding(self) -> str:
        return binding_for(self.target.binding_endpoint, self.target.app_key)

    def clock(self) -> datetime:
        """Now by the server's clock once an answer has come (``--now`` if given)."""
        return self.server_clock.now()

    def local_clock(self) -> datetime:
        """Now by this machine's clock (``--now`` if given): the journal's second stamp."""
        return self.server_clock.local()

    def say_where(self, note: Callable[[str], None]) -> None:
        """First line of output when the app is not real (docs/design.md "Embedded default")."""
        if self.target.banner:
            note(self.target.banner)


def open_workspace(options: GlobalOptions, feedback: Feedback | None = None) -> Workspace:
    """Resolve environment, target and state file; no network, no file writes.

    ``feedback`` hears of a server clock far from ours (nobody, without it)."""
    env = load_environment(options)
    target = resolve_target(options, env)
    ws = Workspace(
        options=options,
        env=env,
        target=target,
        store=StateStore(env.state),
        now=now_of(options),
        server_clock=ServerClock(options.now, warn=feedback.warn if feedback else silent),
    )
    refuse_same_app(ws)
    return ws


def load_desired(
    ws: Workspace, *, strict: bool = False, loaded: list[Manifest] | None = None
) -> tuple[list[Desired], list[Problem]]:
    """The manifests of the environment as planner input; raises ManifestError on any error.

    ``loaded`` receives the manifests themselves (the policies locate fields in them).
    """
    result = load_manifests([ws.env.manifests], now=ws.now, tz=ws.env.tz, overlay=ws.env.overlay)
    result.raise_for_errors(strict=strict)
    if loaded is not None:
        loaded.extend(result.manifests)
    desired = result.desired()
    # What the command works from is built; the rest is the read and the writes. It lives to
    # the end of the process (reconciler.heap).
    heap.settle(result, desired)
    return desired, list(result.warnings)


def load_state(ws: Workspace) -> State:
    """The state file, checked to belong to this app and endpoint (bound in memory if new)."""
    return check_binding(ws.store.load(), ws.binding, path=ws.store.path)


@dataclass(frozen=True)
class Observation:
    """Everything a plan was computed from, and the plan."""

    desired: list[Desired]
    inventory: Inventory  # as the planner saw it (tasks the journal deletes are left out)
    healing: Healing
    plan: Plan
    ignored: tuple[RemoteSchedule, ...] = ()  # left out by the environment's ignore rules


async def observe(
    ws: Workspace,
    client: EngageLabClient,
    state: State,
    desired: list[Desired],
    options: PlanOptions,
    progress: Progress | None = None,
    *,
    creates: bool = True,
) -> Observation:
    """Read the remote side completely, heal the journal in memory, and plan. ``creates``:
    the plan is one that may be carried out or saved (``plan``), so the tasks it makes must
    rest on a confirmed read (``confirm_absences``); ``drift`` reports and makes nothing."""
    inventory, healing = await read_and_heal(ws, client, state, desired, progress)
    observed = plan_healed(ws, desired, inventory, healing, options)
    if creates:
        await confirm_absences(client, observed)
    return observed


async def read_and_heal(
    ws: Workspace,
    client: EngageLabClient,
    state: State,
    desired: list[Desired],
    progress: Progress | None = None,
) -> tuple[Inventory, Healing]:
    """The first half of :func:`observe`: the complete read and the journal healed in memory.

    Apply pays the journal's debts (the old halves of interrupted replaces) between this and
    :func:`plan_healed`: they finish changes already approved, so neither an unresolved name
    nor a safety rule of the new plan may hold them up.
    """

    def reading(done: int, started: int) -> None:
        if progress is not None and (done % 100 == 0 or done == started):
            progress(f"reading remote schedules: {done}/{started}")

    inventory = await _while_fingerprinting(
        desired,
        read_inventory(
            client,
            known_ids=journal_ids(state),
            progress=reading,
            confirm=_needs_confirmed_read(state, desired),
        ),
    )
    ws.server_clock.follow(client)  # expiry and healing are judged by the server's clock
    heap.keep(inventory)  # used to the end of the command (reconciler.heap)
    creating = any(p.op in ("create", "replace") for p in state.pending.values())
    # Only with creates to resolve: another environment's files are read then alone.
    foreign = frozenset(held_elsewhere(ws).ids) if creating else frozenset()
    return inventory, heal_journal(state, inventory, ws.clock(), ws.local_clock(), foreign)


def plan_healed(
    ws: Workspace,
    desired: list[Desired],
    inventory: Inventory,
    healing: Healing,
    options: PlanOptions,
) -> Observation:
    """The second half of :func:`observe`: plan on the healed journal (none left unresolved)."""
    require_healed(healing)
    retiring = {sid for _, sid in healing.finish_deletes}
    if retiring:
        # Old halves of interrupted replaces are deleted before anything else; the plan must not
        # show them as unmanaged tasks.
        inventory = replace(
            inventory,
            schedules={k: v for k, v in inventory.schedules.items() if k not in retiring},
            gone=inventory.gone | retiring,
            total_count=inventory.total_count - len(retiring),
        )
    # After healing: a create the journal just resolved is managed, never ignored.
    inventory, ignored = without_ignored(ws, inventory, healing.state, desired)
    plan = _with_neighbours(
        ws,
        make_plan(
            desired,
            inventory,
            planning_state(healing),
            now=ws.clock(),
            tz=ws.env.tz,
            options=options,
        ),
    )
    observed = Observation(
        desired=desired, inventory=inventory, healing=healing, plan=plan, ignored=ignored
    )
    heap.keep(observed)  # used to the end of the command (reconciler.heap)
    return observed


# The actions that make a task: a same-name task the read missed would become its twin.
CREATING = frozenset({"create", "recreate", "replace"})


def creates_tasks(plan: Plan) -> bool:
    """Whether carrying out ``plan`` would make a new task."""
    return any(a.kind in CREATING for a in plan.actions)


async def confirm_absences(
    client: EngageLabClient,
    observed: Observation,
    plan: Plan | None = None,
    *,
    debts_paid: bool = False,
) -> None:
    """Refuse a plan (``plan``, else the observed one) that makes a task on the strength of a
    list read only once.

    The planner makes no task of a name the read shows on a task it does not manage (that is a
    conflict, or a held replace). A list pass that adds up can still miss one: a task deleted
    before a page boundary moves the next task onto a page already read. The read asks for a
    second, identical pass up front when it can tell that a conclusion will rest on an absence
    (``_needs_confirmed_read``: a manifest without a state entry, a journalled create), but a
    recreate (the state's task is gone) and a replace (the trigger's kind or zone_type changed)
    are only known once the plan is made. For them, one more pass now, which must still list
    every task the first one did: only a deletion (or a single task firing for the last time)
    moves a task onto a page already read, and a task created meanwhile joins the end of a list
    that is oldest first, hiding nothing. When apply has just paid the journal's debts
    (``debts_paid``), the old tasks it deleted (``finish_deletes``) are ours to miss; a plan
    that paid none must still see them.
    """
    inventory, plan = observed.inventory, plan or observed.plan
    if inventory.confirmed or not inventory.complete or not creates_tasks(plan):
        return
    again = await read_list(client, expect=len(inventory.listed))
    ours = {sid for _, sid in observed.healing.finish_deletes} if debts_paid else set()
    if again.complete and not (inventory.listed - ours) - set(again.rows):
        return
    names = sorted({a.name for a in plan.actions if a.kind in CREATING})
    shown = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
    raise InventoryError(
        "the list of remote tasks changed while it was read (tasks were deleted, or fired for "
        f"the last time, meanwhile), and this plan makes new tasks ({shown}): a task of the "
        "same name may have been missed, and the new one would be its twin",
        hint="nothing was created; run the command again once the app is quiet",
    )


async def check_after_waiting(
    ws: Workspace, client: EngageLabClient, plan: Plan, seen: Mapping[str, str | None]
) -> None:
    """Refuse, after a person's answer, a plan the world moved under while they read it.

    An interactive apply waits at its prompt for as long as the person takes: another checkout
    or a CI job may apply the same new manifest meanwhile (its state file and lock are its own),
    and a push may come within the fire guard. The list is read again when the plan makes tasks
    (``seen``: every task the plan was made from): a task of a name this plan creates, new since,
    would get a twin; and the fire guard is judged again by the clock of the answer.
    ``seen``: each task's id and name, None for one listed whose name the plan did not keep (an
    ignored task). A task renamed meanwhile to such a name counts as new (another checkout
    applying a declared rename).
    """
    racing = fire_guard_violations(plan.actions, ws.clock(), plan.options)
    if racing:
        raise UnsafePlanError(
            racing,
            hint="no change of the plan was sent; plan again when the push has fired, or --force",
        )
    if not creates_tasks(plan):
        return
    wanted = {name_key(a.name) for a in plan.actions if a.kind in CREATING}
    again = await read_list(client, expect=len(seen))
    arrived = [
        f"{row.name!r} ({sid})"
        for sid, row in again.rows.items()
        if (key := name_key(row.name)) in wanted and (seen.get(sid) is None or seen[sid] != key)
    ]
    if arrived or not again.complete:
        why = (
            f"task(s) of a name this plan creates appeared while it waited for the answer: "
            f"{', '.join(arrived)} (another checkout or job applied them?); the new ones "
            "would be their twins"
            if arrived
            else "the list could not be read again completely after the answer ("
            + "; ".join(again.problems)
            + "): a task of a name this plan creates may have appeared meanwhile"
        )
        raise InventoryError(why, hint="no change of the plan was sent; run the command again")


def _with_neighbours(ws: Workspace, plan: Plan) -> Plan:
    """``plan`` with what its conflicts' advice must know beyond the planner: the tasks another
    environment manages on this app (the advice says so, not `import`), and those the ignore
    rules declare someone else's (`remote delete` refuses them, so it is not advised). The
    other state files are read only when the plan holds a conflict."""
    from reconciler.planning.actions import ConflictAction

    if not any(isinstance(a, ConflictAction) for a in plan.actions):
        return plan
    held = held_elsewhere(ws).ids

    def annotated(a: ConflictAction) -> ConflictAction:
        declared = {
            sid: rule
            for sid in a.schedule_ids
            if (rule := ws.env.ignore.rule_for(sid, a.named_otherwise.get(sid, a.name)))
        }
        here = {i: held[i] for i in a.schedule_ids if i in held}
        if not here and not declared:
            return a
        return a.model_copy(update={"held_elsewhere": here, "declared_others": declared})

    actions = [annotated(a) if isinstance(a, ConflictAction) else a for a in plan.actions]
    return plan.model_copy(update={"actions": actions})


def managed_ids(state: State) -> set[str]:
    """Ids the state owns or the journal is working on: never ignored."""
    return {e.schedule_id for e in state.entries.values()} | set(journal_ids(state))


def _split_ignored(
    ws: Workspace,
    tasks: Mapping[str, _T],
    name_of: Callable[[_T], str],
    state: State,
    desired: Sequence[Desired],
) -> tuple[dict[str, _T], dict[str, _T]]:
    """``split_ignored`` by the environment's ignore rules, never leaving out a task the state
    owns or one named like a manifest: the one rule for the inventory and for a bare list."""
    return split_ignored(
        tasks, name_of, ws.env.ignore, managed_ids(state), (d.name for d in desired)
    )


def without_ignored(
    ws: Workspace, inventory: Inventory, state: State, desired: Sequence[Desired]
) -> tuple[Inventory, tuple[RemoteSchedule, ...]]:
    """The inventory less the tasks the environment's ignore rules leave to someone else.

    ``total_count`` is kept: an ignored task still takes one of the app's active slots. A task
    the state owns, or one named like a manifest, is never left out (``split_ignored``).
    """
    kept, ignored = _split_ignored(ws, inventory.schedules, lambda t: t.name, state, desired)
    if not ignored:
        return inventory, ()
    return replace(inventory, schedules=kept), tuple(ignored[sid] for sid in sorted(ignored))


def kept_rows(
    ws: Workspace, listed: RemoteList, state: State, desired: Sequence[Desired]
) -> list[tuple[str, str]]:
    """(id, name) of the listed tasks the ignore rules leave in, as the planner saw them."""
    kept, _ = _split_ignored(ws, listed.rows, lambda r: r.name, state, desired)
    return [(sid, row.name) for sid, row in kept.items()]


def _needs_confirmed_read(state: State, desired: Sequence[Desired]) -> bool:
    # Two conclusions rest on a task's absence from a complete read: healing drops a journalled
    # create, and a manifest without a state entry is created (no same-name task, no conflict).
    # Such an absence must be confirmed by a second identical pass (read_inventory ``confirm``).
    return any(p.op in ("create", "replace") for p in state.pending.values()) or any(
        d.name not in state.entries for d in desired
    )


async def check_saved_by_list(
    ws: Workspace,
    client: EngageLabClient,
    state: State,
    desired: Sequence[Desired],
    saved: Plan,
) -> RemoteList | None:
    """Vouch for a saved plan by reading the list alone; None when only a full read can.

    The plan holds every body it was computed from. What a full re-read adds is the contents
    of tasks whose list row (id, name, enabled) did not move: a task the plan writes gets the
    reviewed manifest's full body either way, and one it does not write is not touched (the
    next plan or drift shows its edit). So the list decides, and one request in fifty of a
    full read is made. Declined, for a full read instead (``observe``, ``check_fresh`` and
    ``check_same_actions``): plan files without the list digest; a journal to heal (healing
    matches bodies); a plan holding actions the planner chooses from the tasks' contents or
    absence, or a rename (``Plan.needs_fresh_plan``); a list that differs from the plan's;
    and a guarded change whose recorded firing is near or past (the next firing must be
    computed from the task as it is now).
    """
    if saved.inputs.listed_digest is None or state.pending or saved.needs_fresh_plan():
        return None
    # The fingerprints are for the caller's check of the manifests (Plan.check_local).
    listed = await _while_fingerprinting(
        desired,
        read_list(
            client,
            # A plan that makes tasks is carried out on a confirmed list (confirm_absences).
            confirm=_needs_confirmed_read(state, desired) or creates_tasks(saved),
            expect=len(managed_ids(state)),
        ),
    )
    ws.server_clock.follow(client)  # the guard is judged by the server's clock
    if fire_guard_violations(saved.actions, ws.clock(), saved.options):
        return None
    kept, _ = _split_ignored(ws, listed.rows, lambda r: r.name, state, desired)
    rows = [(r.schedule_id, r.name, r.enabled) for r in kept.values()]
    if listed_digest(rows, listed.complete) != saved.inputs.listed_digest:
        return None
    return listed


async def _while_fingerprinting(desired: Sequence[Desired], read: Awaitable[_T]) -> _T:
    """The result of ``read``, with every manifest's body made and fingerprinted while it is on
    its way."""
    task = asyncio.ensure_future(read)
    try:
        await _fingerprint_while_reading(desired, task)
        return await task
    finally:
        if not task.done():  # we were cancelled (or interrupted) before the read finished
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        elif not task.cancelled():
            task.exception()  # retrieved: a failed read is not reported again at exit


async def _fingerprint_while_reading(desired: Sequence[Desired], read: asyncio.Future[_T]) -> None:
    """Make every manifest's body and fingerprint while the first list page is on its way.

    The plan needs them all (digest, in-sync check, new bodies), and the read leaves the process
    idle for a round trip before the details flood in: in a 1000-schedule plan, 25 ms of
    fingerprints and 35 ms of bodies (``Desired``: made on first use) moved off the critical
    path. Small slices (about 0.25 ms): the first request itself takes several turns of the
    event loop (connect, send, receive), and slices of 100 fingerprints delayed page 1 by 20 ms.
    Stops when the read is done: a failed read is reported at once, and what is left of a read
    that was quick is made when the plan needs it.
    """
    await asyncio.sleep(0)  # let the read send its first request
    for start in range(0, len(desired), _SLICE):
        if read.done():
            return
        for d in desired[start : start + _SLICE]:
            _ = d.fingerprint  # cached on the Desired, and the body with it
        await asyncio.sleep(0)


_SLICE = 4  # manifests between two turns of the event loop (~65 us each: body, fingerprint)


def plan_options(
    ws: Workspace,
    *,
    max_deletes: int | None,
    allow_mass_delete: bool,
    fire_guard: float | None,
    force: bool,
) -> PlanOptions:
    """Safety thresholds: command-line flags win over reconciler.yaml, which wins over defaults."""
    guard = fire_guard if fire_guard is not None else ws.env.fire_guard_minutes
    return PlanOptions(
        max_deletes=max_deletes if max_deletes is not None else ws.env.max_deletes,
        allow_mass_delete=allow_mass_delete,
        fire_guard_minutes=int(guard),
        force=force,
        mass_delete_ratio=ws.env.mass_delete_ratio,
        max_active=ws.env.max_active,
    )
