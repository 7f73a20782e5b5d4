"""The remote operations: the app's tasks classified (``remote list|show``), and the delete of
tasks nobody manages (``remote delete``).

One job: what the tool makes of the app's tasks (managed, elsewhere, copy, unmanaged,
conflict, ignored), for
people and for ``export`` (``reconciler/ops/export.py``), which writes manifests from them; and
the one way to remove a task the tool does not manage (the API's tasks are not in the vendor's
console).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.errors import UsageError
from reconciler.ops import observe
from reconciler.ops.aio import run_async
from reconciler.ops.neighbours import held_elsewhere
from reconciler.planning.canonical import name_key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions
    from reconciler.remote.observed import Inventory, RemoteSchedule
    from reconciler.state.schema import State


@dataclass(frozen=True)
class RemoteTask:
    """One remote task and how the tool sees it."""

    task: RemoteSchedule
    status: str  # managed | elsewhere | copy | unmanaged | conflict | ignored
    managed_as: str | None = None
    # for ignored: the rule; for conflict: the manifest; for elsewhere: the environment
    why: str | None = None
    # For conflict: the name it clashes with (a manifest's or the state's), which `import`
    # takes; the task's own may differ from it as the planner tells names apart ("promo ").
    named_as: str | None = None

    @property
    def trigger(self) -> str:
        from reconciler.planning.canonical import trigger_kind

        try:
            return trigger_kind(self.task.body)
        except ValueError:
            return "?"


@dataclass(frozen=True)
class RemoteView:
    """The whole app: every task with its status, and whether the read was complete."""

    env: str
    tasks: list[RemoteTask]
    complete: bool
    problems: tuple[str, ...]
    manifests: dict[str, str]  # manifest name -> where it is written
    # name_key of a lifecycle.previous_names entry -> the manifest listing it
    previous_names: dict[str, str] = field(default_factory=dict)

    @property
    def incomplete(self) -> str:
        """Why the read is not the whole app (for a message)."""
        return "the remote list could not be read completely (" + "; ".join(self.problems) + ")"


def list_tasks(options: GlobalOptions, feedback: Feedback) -> RemoteView:
    """Every remote task (all pages) with its status; an incomplete read is the caller's to
    report (what was read is still worth showing)."""
    ws = observe.open_workspace(options, feedback)
    ws.say_where(feedback.note)
    return read_view(ws, confirm=False)


def show_tasks(options: GlobalOptions, which: str, feedback: Feedback) -> list[RemoteTask]:
    """The task of schedule id ``which``, or every task named ``which``; UsageError if none."""
    view = list_tasks(options, feedback)
    found = [t for t in view.tasks if which in (t.task.schedule_id, t.task.name)]
    if not found:
        more = "" if view.complete else f"; note: {view.incomplete}"
        raise UsageError(
            f"no remote task has the id or name {which!r}{more}",
            hint="`reconciler remote list` shows every task",
        )
    return found


def _classify(
    ws: observe.Workspace,
    inventory: Inventory,
    state: State,
    manifests: dict[str, str],
    previous_names: dict[str, str],
    elsewhere: Mapping[str, str],
) -> RemoteView:
    owner = {e.schedule_id: n for n, e in state.entries.items()}
    owned = observe.managed_ids(state)
    # Names compared as the planner compares them (``name_key``): a task "promo " beside a
    # manifest "promo" is the same name, and a manifest written for it would stop every plan.
    by_key = {name_key(n): (n, src) for n, src in manifests.items()}
    state_keys = {name_key(n): n for n in (*state.entries, *state.pending)}
    tasks: list[RemoteTask] = []
    for sid in sorted(inventory.schedules, key=lambda s: (inventory.schedules[s].name, s)):
        task = inventory.schedules[sid]
        key = name_key(task.name)
        if sid in owned:
            tasks.append(RemoteTask(task, "managed", managed_as=owner.get(sid, task.name)))
        elif sid in elsewhere:
            # Another environment's state manages it on this same app (neighbours.held_elsewhere).
            why = f"the environment {elsewhere[sid]!r}"
            tasks.append(RemoteTask(task, "elsewhere", why=why))
        elif key in by_key and _live(by_key[key][0], state, inventory):
            # A second task of a schedule this state manages: the plan's "live more than
            # once"; `import` cannot take it (the name is managed), `remote delete` removes it.
            name = by_key[key][0]
            why = f"a second task of the managed schedule {name!r}"
            tasks.append(RemoteTask(task, "copy", why=why, named_as=name))
        elif key in by_key:
            # Named like a manifest: the same-name rule beats an ignore rule (as in observe).
            name, src = by_key[key]
            tasks.append(RemoteTask(task, "conflict", why=f"the manifest {src}", named_as=name))
        elif key in state_keys:
            # The name is the state's (its manifest removed, a delete still to come): adopting
            # this task under it would orphan the managed one.
            name = state_keys[key]
            why = f"the state's entry {name!r}"
            tasks.append(RemoteTask(task, "conflict", why=why, named_as=name))
        elif (rule := ws.env.ignore.rule_for(sid, task.name)) is not None:
            tasks.append(RemoteTask(task, "ignored", why=rule))
        else:
            tasks.append(RemoteTask(task, "unmanaged"))
    return RemoteView(
        ws.env.name, tasks, inventory.complete, inventory.problems, manifests, previous_names
    )


def _live(name: str, state: State, inventory: Inventory) -> bool:
    """Whether the state manages ``name`` with a task the read shows (the plan's twin test)."""
    entry = state.entries.get(name)
    return entry is not None and entry.schedule_id in inventory.schedules


def read_view(ws: observe.Workspace, *, confirm: bool) -> RemoteView:
    from reconciler.remote.inventory import read_inventory

    desired, _ = observe.load_desired(ws)
    manifests = {d.name: d.source for d in desired}
    previous_names = {name_key(old): d.source for d in desired for old in d.previous_names}
    state = observe.load_state(ws)

    async def run() -> Inventory:
        async with ws.target.client() as client:
            return await read_inventory(
                client, known_ids=observe.managed_ids(state), confirm=confirm
            )

    inventory = run_async(run())
    elsewhere = held_elsewhere(ws).ids
    return _classify(ws, inventory, state, manifests, previous_names, elsewhere)


LOCK_HOLDER = "reconciler remote delete"


def delete_tasks(
    options: GlobalOptions,
    ids: tuple[str, ...],
    feedback: Feedback,
    *,
    confirm: Callable[[str], bool] | None,
    auto_approve: bool = False,
    lock_timeout: float = 0.0,
) -> tuple[list[tuple[str, str]], list[str]] | None:
    """Delete remote tasks nobody manages (a second copy of a schedule, a leftover of a test):
    the tasks the API made cannot be seen in the vendor's console, so this is the way to
    remove them. Returns (id, name) of each task deleted (one found gone meanwhile counts) and a
    line for each delete that failed, the others tried still; None when the person declined.

    Refused before any write: an id that is not a schedule id, one the state manages or its
    journal works on (its manifest and apply manage it; a journalled create, which records a
    name and no id, by the task's name), one another environment of this config manages on the
    same app, one no active task has, and one the environment's ignore rules declare someone
    else's. Under the state lock, so that no apply
    of this checkout takes the task on meanwhile. Nothing is recorded: no state names the task.
    """
    from reconciler.errors import NotFoundError, RemoteError
    from reconciler.printable import escaped
    from reconciler.remote.responses import is_safe_id

    for sid in ids:
        if not is_safe_id(sid):
            raise UsageError(
                f"{escaped(sid)!r} is not a schedule id",
                hint="`reconciler remote list` lists the app's tasks with their ids",
            )
    if not auto_approve and confirm is None:
        raise UsageError(
            "remote delete needs confirmation but this is not a terminal",
            hint="check the tasks with `reconciler remote show ID`, then pass --auto-approve",
        )
    ws = observe.open_workspace(options, feedback)
    ws.say_where(feedback.note)
    with ws.store.lock(lock_timeout, LOCK_HOLDER):
        state = observe.load_state(ws)
        owner = {e.schedule_id: n for n, e in state.entries.items()}
        journalled = observe.managed_ids(state)
        pending = {name_key(n) for n in state.pending}
        elsewhere = held_elsewhere(ws).ids
        for sid in dict.fromkeys(ids):
            if sid in owner:
                raise UsageError(
                    f"task {sid} is managed as {owner[sid]!r}: remote delete removes only "
                    "tasks nobody manages",
                    hint="remove its manifest and apply (the plan shows the delete), or stop "
                    "managing it first with `reconciler state rm NAME`",
                )
            if sid in journalled:
                raise UsageError(
                    f"task {sid} is in the journal of an interrupted apply",
                    hint="run `reconciler apply`: it finishes or undoes that change",
                )
            if sid in elsewhere:
                raise UsageError(
                    f"task {sid} is managed by the environment {elsewhere[sid]!r}, whose state "
                    "file is bound to this same app (endpoint and AppKey)",
                    hint=f"delete it from there: remove its manifest from the environment "
                    f"{elsewhere[sid]!r} and apply with --env {shlex.quote(elsewhere[sid])}; two "
                    "environments must not manage one app's tasks",
                )

        async def run() -> tuple[list[tuple[str, str]], list[str]] | None:
            async with ws.target.client() as client:
                found: list[tuple[str, str]] = []
                for sid in dict.fromkeys(ids):
                    try:
                        name = str((await client.get_schedule(sid))["name"])
                    except NotFoundError:
                        raise UsageError(
                            f"no active remote task {sid}",
                            hint="`reconciler remote list` lists the app's tasks with their ids",
                        ) from None
                    if name_key(name) in pending:
                        raise UsageError(
                            f"task {sid} ({name!r}) may be the one an interrupted apply was "
                            "creating (the journal holds a create of that name)",
                            hint="run `reconciler apply`: it finishes or undoes that change",
                        )
                    rule = ws.env.ignore.rule_for(sid, name)
                    if rule is not None:
                        raise UsageError(
                            f"task {sid} ({name!r}) is ignored by reconciler.yaml ({rule}): it "
                            "is declared someone else's",
                            hint="take it out of the ignore rules first if it is yours to delete",
                        )
                    found.append((sid, name))
                for sid, name in found:
                    feedback.note(f"  - delete {sid} ({name!r}): not managed")
                if not auto_approve:
                    assert confirm is not None
                    if not confirm(f"Delete {len(found)} task(s)?"):
                        return None
                deleted: list[tuple[str, str]] = []
                failures: list[str] = []
                for sid, name in found:
                    try:
                        await client.delete_schedule(sid)
                    except NotFoundError:
                        pass  # gone meanwhile: what was asked holds
                    except RemoteError as exc:
                        failures.append(f"{sid} ({name!r}): {exc}")
                        continue
                    deleted.append((sid, name))
                return deleted, failures

        return run_async(run())
