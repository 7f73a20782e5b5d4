"""The Python API for scripts: load manifests, read the app, plan, apply (docs/python-api.md).

Thin wrappers of what the ``reconciler`` command runs, with the same rules: a plan is made from a
complete read and a healed state, apply refuses an unsafe or stale plan, holds the state file's
lock, journals every create before it is sent and saves the state as it goes. What the command
adds on top (environments, policies, confirmation, output) stays with the command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import ConfigError, PlanError
from reconciler.planning.artifact import Plan
from reconciler.planning.inputs import Desired
from reconciler.planning.safety import PlanOptions
from reconciler.remote.observed import Inventory
from reconciler.state.binding import binding_for, check_binding
from reconciler.state.schema import State
from reconciler.state.store import StateStore

if TYPE_CHECKING:
    from reconciler.apply.executor import ApplyReport
    from reconciler.remote.client import EngageLabClient

__all__ = ["apply_plan", "load_manifests", "load_state", "make_plan", "read_inventory"]

PathLike = str | Path


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"timezone {timezone!r} is not an IANA time zone name",
            hint="use a name such as UTC, Europe/Berlin or Asia/Singapore",
        ) from None


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware (e.g. datetime.now(UTC))")
    return now


def load_manifests(
    *paths: PathLike,
    timezone: str = "UTC",
    now: datetime | None = None,
    overlay: PathLike | None = None,
    strict: bool = False,
) -> list[Desired]:
    """The schedules the manifests under ``paths`` (files or directories) want, as planner
    input; raises ``ManifestError`` listing every problem (``strict``: warnings too).

    ``timezone`` is the app's (the environment's ``timezone``): trigger times are read in it.
    """
    from reconciler.manifests import load as manifests

    loaded = manifests.load_manifests(
        [Path(p) for p in paths or ("schedules",)],
        now=_now(now),
        tz=_zone(timezone),
        overlay=Path(overlay) if overlay is not None else None,
    )
    loaded.raise_for_errors(strict=strict)
    return loaded.desired()


def load_state(state_file: PathLike) -> State:
    """The state file (a fresh, empty state when it does not exist yet)."""
    return StateStore(Path(state_file)).load()


async def read_inventory(
    client: EngageLabClient, *, state: State | None = None, confirm: bool = True
) -> Inventory:
    """Every active task of the app with its full detail, and whether that is provably all.

    Tasks ``state`` manages that the list does not show are looked up one by one. ``confirm``
    (the default) reads the list until two passes agree, as the command does whenever an
    absence decides something (a create of a name the state does not manage).
    """
    from reconciler.apply.healing import journal_ids
    from reconciler.remote import inventory

    known = journal_ids(state) if state is not None else []
    return await inventory.read_inventory(client, known_ids=known, confirm=confirm)


def make_plan(
    desired: list[Desired],
    inventory: Inventory,
    state: State | None = None,
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    """The plan that makes the app match ``desired``: ordered, checked against the safety rules
    (``plan.violations``; ``options`` sets their thresholds), checksummed. Pure: no I/O.

    ``state`` is the state file's content (``load_state``); without it nothing is managed yet.
    A state holding an interrupted write (a journal entry) is refused: ``reconciler apply``
    resolves it against the server first; so is an inventory read without this state (a
    managed task the list did not show was not looked up, and would be created again).
    """
    from reconciler.planning import planner

    state = state if state is not None else State()
    _refuse_journal(state)
    unread = sorted(
        name
        for name, entry in state.entries.items()
        if entry.schedule_id not in inventory.schedules and entry.schedule_id not in inventory.gone
    )
    if unread:
        # The list alone does not prove a managed task gone (a list lagging behind a create
        # omits it): planned as gone, it would be created a second time.
        raise PlanError(
            f"the inventory was read without this state: the managed task(s) of "
            f"{', '.join(repr(n) for n in unread[:5])} were not looked up",
            hint="read it with read_inventory(client, state=state), the state passed here",
        )
    return planner.make_plan(
        desired,
        inventory,
        state,
        now=_now(now),
        tz=_zone(timezone),
        options=options or PlanOptions(),
    )


def _refuse_journal(state: State) -> None:
    """A state holding interrupted writes (journal entries) is for ``reconciler apply``."""
    if state.pending:
        names = ", ".join(repr(n) for n in sorted(state.pending))
        raise PlanError(
            f"the state holds interrupted writes of {names}",
            hint="run `reconciler apply` once: it resolves them against the server",
        )


async def apply_plan(
    plan: Plan,
    client: EngageLabClient,
    state_file: PathLike,
    *,
    lock_timeout: float = 0.0,
    now: Callable[[], datetime] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ApplyReport:
    """Carry out ``plan`` against the app ``client`` talks to, recording every task in
    ``state_file`` as it goes.

    Refuses, before any request, a plan that breaks a safety rule (``UnsafePlanError``), a state
    file that moved since the plan was made (``StalePlanError``: plan again), a state file
    bound to another app or endpoint, a write to a task the state does not record for its
    name (``PlanError``: an edited plan file), a state holding interrupted writes (``PlanError``:
    ``reconciler apply`` resolves them), and a change of a task that has come within the fire
    guard since the plan was made (``UnsafePlanError``). ``report.failures`` lists what
    did not succeed; the state records everything that did.

    A create answered with the id of a task the plan names (every task its read listed but
    the state's in-sync ones, which the state names) is not recorded but looked up like a lost
    answer, as ``reconciler apply`` does: recorded, the next apply would write over that task.
    """
    from reconciler.apply.executor import run_plan
    from reconciler.errors import UnsafePlanError
    from reconciler.ops.apply import state_writer
    from reconciler.planning.safety import fire_guard_violations

    plan.check_safe()
    clock = now or (lambda: datetime.now(UTC))
    # The journal stamps its entries with it; a naive time could not be saved and compared.
    _now(clock())
    store = StateStore(Path(state_file))
    settings = client.settings
    binding = binding_for(settings.base_url, settings.credentials.app_key)
    with store.lock(lock_timeout, "reconciler Python API apply_plan"):
        state = check_binding(store.load(), binding, path=store.path)
        plan.check_state(state)
        # A plan read with Plan.from_json is data anyone can edit (its checksum is no
        # signature): each write must target what this state file owns.
        plan.check_writes(state, None, ())
        # A plan made elsewhere (`reconciler plan --out` while a replace was interrupted) may
        # come with a journal this function does not resolve: the old task of the replace
        # would fire on beside its successor, unmentioned.
        _refuse_journal(state)
        # The guard was judged when the plan was made; a plan kept (a file, a notebook) may
        # have come within it since, as `reconciler apply FILE` also checks.
        racing = fire_guard_violations(plan.actions, clock(), plan.options)
        if racing:
            raise UnsafePlanError(
                racing,
                hint=f"the plan was made at {plan.planned_at}; make it again (make_plan) once "
                "the task has fired, or with PlanOptions(force=True)",
            )
        # The binding becomes durable before the first write, as with `reconciler apply`.
        writer = state_writer(store, state, dirty=False)
        return await run_plan(
            plan, client, writer, now=clock, progress=progress, existing=_ids_named(plan)
        )


def _ids_named(plan: Plan) -> frozenset[str]:
    """Every task id the plan's actions name: tasks that existed when it was made."""
    ids: set[str] = set()
    for action in plan.actions:
        # Every field of the action's model that holds task ids, by its name: a kind of action
        # added later with an id field of its own is covered without a list to keep up.
        for field in type(action).model_fields:
            if field.endswith("schedule_id"):
                value = getattr(action, field)
                if isinstance(value, str):
                    ids.add(value)
            elif field.endswith("schedule_ids"):
                ids.update(getattr(action, field))
    return frozenset(ids)
