"""What a saved plan may write: each write checked against the state and the manifests.

A saved plan is data, not a signed order: its checksum proves no authorship, since anyone who
can edit a plan file can recompute it. So before any request, apply checks every write of the
file as the planner would have made it (:func:`write_problems`, :func:`check_writes`) and applies
the safety rules afresh to its actions (:func:`recheck_violations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, assert_never

from reconciler.errors import PlanError
from reconciler.planning import canonical, timing
from reconciler.planning.actions import (
    Action,
    ConflictAction,
    CreateAction,
    DeleteAction,
    ExpiredAction,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UnmanagedAction,
    UpdateAction,
    is_change,
    target_id,
)
from reconciler.planning.inputs import Desired
from reconciler.planning.safety import violations
from reconciler.remote.observed import Inventory
from reconciler.state.schema import State, StateEntry

if TYPE_CHECKING:
    # Only for the annotations: the Plan's own methods call these functions.
    from reconciler.planning.artifact import Plan


def write_problems(
    plan: Plan,
    state: State,
    desired: Sequence[Desired] | None,
    remote: Iterable[tuple[str, str]],
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> list[str]:
    """Every write of ``plan`` that the state file and the manifests do not back.

    Each action is checked as the planner would have made it from ``state`` (pending
    names count as not in state, as in make_plan) and ``desired``: deletes, updates,
    replaces, recreates, refreshes and forgets target the id the state records for their
    name; bodies and fingerprints are the manifest's; prevent_destroy is what state and
    manifest say; a create names a manifest that neither the state nor any unclaimed
    remote task (``remote``: (id, name) pairs) already has; one write per name. A recreate,
    and a forget of a task that is gone (expired, or a skip that forgets), target a task
    ``remote`` does not list (a recreate, no other task of its name either): with it still
    there, a recreate makes a second live copy and a forget leaves it firing unmanaged. A
    delete is of a name no manifest wants (nor declares as its previous name), or (with
    ``now`` and ``tz``) of one whose manifest's trigger is entirely in the past, and (with
    ``desired``, as the command line's paths give it with the list read) of a listed task.
    Without ``desired`` (the Python API's apply_plan has no manifests) the targets and
    renames are checked against the state, the bodies are not.
    """
    entries = {n: e for n, e in state.entries.items() if n not in state.pending}
    wanted = {d.name: d for d in desired or ()}
    # A managed name a manifest declares as its previous name is renamed by the planner, never
    # deleted: without the rename, its delete would pass as the delete of a name no manifest
    # wants (and a sent "now" push's mark would go, to be sent again under the new name).
    # Unless the new name is managed too: then nothing is renamed, and the old name's task is
    # deleted with its manifest gone (``renames.declared_renames``).
    renamed_from = {
        old: d for d in desired or () if d.name not in entries for old in d.previous_names
    }
    claimed = {e.schedule_id for e in entries.values()}
    rows = list(remote)
    listed = {sid for sid, _ in rows}
    taken = {canonical.name_key(name) for sid, name in rows if sid not in claimed}
    problems: list[str] = []
    for new, old in sorted(plan.renames.items()):
        # A declared rename moves an entry: it must be one the manifests declare.
        d = wanted.get(new)
        declared = desired is None or (d is not None and old in d.previous_names)
        if not declared or old not in entries or new in entries:
            problems.append(
                f"rename {old!r} -> {new!r}: not a rename the manifests declare "
                "(lifecycle.previous_names) of a managed name"
            )
            continue
        entries[new] = entries.pop(old)
    writers: dict[str, str] = {}
    for a in plan.actions:
        if not is_change(a):
            continue  # no write, no state change
        what = f"{a.kind} {a.name!r}"
        if a.name in writers:
            problems.append(f"{what}: more than one write for one name ({writers[a.name]})")
            continue
        writers[a.name] = a.kind
        entry, d = entries.get(a.name), wanted.get(a.name)
        if isinstance(a, CreateAction):
            if entry is not None:
                problems.append(f"{what}: the state already manages it as {entry.schedule_id}")
            elif canonical.name_key(a.name) in taken:
                problems.append(f"{what}: a remote task of that name exists")
            # The planner skips a disabled manifest and one whose trigger has ended (the API
            # refuses both, which is not a guard to lean on).
            if d is not None and d.body.get("enabled") is False:
                problems.append(f"{what}: its manifest ({d.source}) is disabled")
            elif (
                d is not None
                and now is not None
                and tz is not None
                and timing.is_finished(d.body, now, tz)
            ):
                problems.append(f"{what}: its manifest's trigger ({d.source}) has ended")
            # The planner renames a managed previous name (``renames.declared_renames``): a
            # create beside it leaves the old task firing the same push.
            for old in d.previous_names if d is not None else ():
                if old in entries:
                    problems.append(
                        f"{what}: its manifest's previous name {old!r} is still managed "
                        f"({entries[old].schedule_id}); the plan renames it"
                    )
        else:
            target = target_id(a)
            if entry is None:
                problems.append(f"{what}: the state manages no schedule of that name")
            elif target is not None and target != entry.schedule_id:
                problems.append(
                    f"{what}: targets {target}, but the state records {entry.schedule_id} for it"
                )
        if _gone(a) and entry is not None:
            # Planned only for the state's task, gone from the list: one that names no task
            # (a skip that forgets, written without its id) drops whatever the state holds.
            if target_id(a) is None:
                problems.append(f"{what}: names no task, the state records {entry.schedule_id}")
            if entry.schedule_id in listed:
                problems.append(f"{what}: its task {entry.schedule_id} is still on the server")
        if isinstance(a, RecreateAction) and canonical.name_key(a.name) in taken:
            # The planner makes a conflict of it: a second task of one name would fire too.
            problems.append(f"{what}: a remote task of that name exists")
        if (
            isinstance(a, DeleteAction)
            and d is not None
            and (now is None or tz is None or not timing.is_finished(d.body, now, tz))
        ):
            problems.append(f"{what}: its manifest ({d.source}) still wants it")
        if isinstance(a, DeleteAction) and (heir := renamed_from.get(a.name)) is not None:
            problems.append(
                f"{what}: it is the previous name of {heir.name!r} ({heir.source}), which the "
                "plan renames"
            )
        if (
            isinstance(a, DeleteAction | UpdateAction)
            and desired is not None
            and a.schedule_id not in listed
        ):
            # The command line's paths pass the list they read. The planner deletes and
            # updates only a listed task; one the list lacks is forgotten as expired (its
            # history kept), and a write to it would fail half-way through the plan.
            problems.append(f"{what}: its task {a.schedule_id} is not on the server")
        if desired is not None or isinstance(a, DeleteAction):
            problems.extend(_body_problems(a, what, d, entry))
    return problems


def _gone(a: Action) -> bool:
    """Whether ``a`` is planned only for a managed task the server no longer lists."""
    return isinstance(a, RecreateAction | ExpiredAction) or (isinstance(a, SkipAction) and a.forget)


def check_writes(
    plan: Plan,
    state: State,
    desired: Sequence[Desired] | None,
    remote: Iterable[tuple[str, str]],
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> None:
    """Raise PlanError, before any write, when :func:`write_problems` finds any."""
    problems = write_problems(plan, state, desired, remote, now=now, tz=tz)
    if problems:
        raise PlanError(
            "the saved plan does not match the state file and the manifests (was it "
            "edited?): " + "; ".join(problems),
            hint="nothing was written; re-create the plan with `reconciler plan --out FILE` "
            "and review it",
        )


def recheck_violations(
    plan: Plan,
    state: State,
    desired: Sequence[Desired],
    *,
    complete: bool,
    active_now: int,
    now: datetime,
) -> list[str]:
    """The safety rules applied afresh to the actions of ``plan``.

    A saved plan's ``violations`` are part of the file, which anyone can edit; the rules
    need only the actions (checked by :func:`write_problems`), the state and the clock.
    The fire guard is left to the caller: it needs the tasks' firing times as they are
    now, not as the file recorded them (engine.check_saved_by_list, a fresh plan).
    """
    managed = sum(1 for n in state.entries if n not in state.pending)
    return violations(
        plan.actions,
        Inventory(schedules={}, complete=complete),
        managed,
        len(desired),
        max(plan.active_before, active_now),
        now,
        plan.options.model_copy(update={"force": True}),
    )


def _body_problems(a: Action, what: str, d: Desired | None, entry: StateEntry | None) -> list[str]:
    """What a write's body, fingerprint and protection say that its manifest does not."""
    match a:
        case DeleteAction():
            remembered = (entry is not None and entry.protected) or (d is not None and d.protected)
            if remembered and not a.protected:
                return [f"{what}: the state or manifest has prevent_destroy, the plan says not"]
            return []
        case RefreshAction():
            if d is None:
                return [f"{what}: no manifest of that name"]
            if a.fingerprint != d.fingerprint or a.protected != d.protected:
                return [f"{what}: the recorded fingerprint or protection is not the manifest's"]
            return []
        case ExpiredAction() | SkipAction() | ConflictAction() | UnmanagedAction():
            return []  # no body is written
        case CreateAction() | UpdateAction() | ReplaceAction() | RecreateAction():
            pass  # a body is written: checked below
        case _:
            assert_never(a)
    if d is None:
        return [f"{what}: no manifest of that name"]
    if a.fingerprint != d.fingerprint or not _same_body(a.body, d.fingerprint):
        return [f"{what}: its body is not the manifest's ({d.source})"]
    if a.protected != d.protected:
        return [f"{what}: its prevent_destroy is not the manifest's ({d.source})"]
    return []


def _same_body(body: dict[str, Any], fingerprint: str) -> bool:
    """Whether ``body`` is, as it is written, the canonical body of ``fingerprint``.

    A plan file holds the canonical bodies its plan computed, and apply sends a body as the
    file writes it: one that only canonicalises to the manifest's (a key the API does not
    document, a null, another case of a value) would send the server what no manifest says.
    Keys in another order hash the same (the digest sorts them).
    """
    return canonical.fingerprint_of_canonical(body) == fingerprint
