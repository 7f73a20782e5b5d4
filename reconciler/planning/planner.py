"""The planner: manifests, server and state in, the Plan out (pure, no I/O).

:func:`make_plan` compares the desired schedules (manifests), the observed remote inventory and
the state file, and returns a :class:`~reconciler.planning.artifact.Plan`. It reads no files,
calls no network and reads no clock: ``now`` and ``tz`` are parameters. The plan-semantics table
of docs/design.md is implemented row by row in the ``_plan_*`` functions (rows are marked
``# row:``); the action types live in :mod:`reconciler.planning.actions`, the safety rules in
:mod:`reconciler.planning.safety`, declared renames in :mod:`reconciler.planning.renames`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from reconciler.errors import PlanError
from reconciler.planning import canonical, timing
from reconciler.planning.actions import (
    Action,
    Cause,
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
    remote_delete_command,
    sort_key,
)
from reconciler.planning.artifact import Plan
from reconciler.planning.diff import diff_bodies, fingerprint_matches, needs_replacement
from reconciler.planning.inputs import Desired, inputs_of
from reconciler.planning.renames import declared_renames
from reconciler.planning.safety import PlanOptions, violations
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.schema import State, StateEntry


@dataclass(frozen=True)
class _World:
    inventory: Inventory
    now: datetime
    tz: tzinfo
    warnings: list[str]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _fires_at(remote: RemoteSchedule, world: _World) -> str | None:
    """When the remote task fires next (None when disabled or never)."""
    if remote.body.get("enabled", remote.enabled) is False:
        return None
    try:
        # zone_type 2: the start of the span across device zones (the fire guard's concern is
        # the first device that fires; one under way counts as firing now).
        span = timing.next_fire_span(remote.body, world.now, world.tz)
        return None if span is None else _iso(span[0])
    except (ValueError, KeyError, TypeError):
        world.warnings.append(
            f"{remote.name!r} (id {remote.schedule_id}): cannot read the remote trigger; "
            "the fire guard cannot protect it"
        )
        return None


def _cause(entry: StateEntry, desired: Desired, remote: RemoteSchedule) -> Cause:
    recorded = entry.fingerprint
    manifest_changed = not fingerprint_matches(recorded, desired.body, plain=desired.fingerprint)
    remote_changed = not fingerprint_matches(recorded, remote.body, plain=remote.fingerprint)
    if manifest_changed and remote_changed:
        return "both"
    return "manifest" if manifest_changed else "remote"


def _new_body(d: Desired) -> tuple[dict[str, Any], str]:
    # fingerprint(body) == fingerprint(d.body): canonicalize is idempotent. Both were computed
    # while the list was on its way (ops.observe). Actions copy the top level of the mapping
    # they are given and share what is below it: nothing changes a body once it is made.
    return d.canonical, d.fingerprint


def _conflict(d: Desired, remotes: list[RemoteSchedule], stale: str | None = None) -> Action:
    identical = any(not diff_bodies(r.body, d.body) for r in remotes)
    return ConflictAction(
        name=d.name,
        schedule_ids=sorted(r.schedule_id for r in remotes),
        identical=identical,
        stale_schedule_id=stale,
        source=d.source,
        named_otherwise={r.schedule_id: r.name for r in remotes if r.name != d.name},
    )


def _fires_no_more(body: Mapping[str, Any], world: _World) -> bool:
    """Whether a manifest's trigger can never fire again: zone_type 2 judged where devices
    fire last (UTC-12), as ``timing.next_fire_span`` does; the configured zone for the others.
    A device-time push at 01:00 is still on its way west of that zone's midnight: paused then,
    it must be paused, not left to fire."""
    tz = timing.LATEST_ZONE if timing.zone_type(body) == 2 else world.tz
    return timing.is_finished(body, world.now, tz)


def _plan_live(
    d: Desired, entry: StateEntry, remote: RemoteSchedule, world: _World
) -> Action | None:
    """A managed name whose task is on the server and whose manifest exists."""
    sid = entry.schedule_id
    listed_past = False  # passed by the configured zone, yet listed: it may be firing now
    if _fires_no_more(d.body, world):
        differs = diff_bodies(remote.body, d.body)
        if not _fires_no_more(remote.body, world) and differs:
            # The manifest was changed so that it never fires again (an `end` moved into the
            # past, say) while its task would go on firing: the only way to match it is to
            # delete the task. The API would refuse an update to a finished trigger.
            world.warnings.append(
                f"{d.name!r} ({d.source}): the manifest's trigger is entirely in the past but "
                f"its remote task {sid} would still fire; it is deleted"
            )
            return DeleteAction(
                name=d.name,
                schedule_id=sid,
                old_body=remote.body,
                protected=entry.protected or d.protected,
                fires_at=_fires_at(remote, world),
            )
        if not differs or needs_replacement(remote.body, d.body) is not None:
            world.warnings.append(
                f"{d.name!r} ({d.source}): the manifest's trigger is entirely in the past but "
                f"the remote task {sid} is still active; it is left as it is (if the app's time "
                f"zone is not {world.tz}, set `timezone:` in reconciler.yaml: docs/settings.md)"
            )
            return SkipAction(name=d.name, reason="trigger entirely in the past", source=d.source)
        # The server still lists the task: by its clock and zones it has not fired its last
        # (an app whose zone is not the configured one). An edit, a pause above all, is sent,
        # not dropped while the push may still go out; a server that holds the task finished
        # refuses the update, and apply says so.
        listed_past = True
        world.warnings.append(
            f"{d.name!r} ({d.source}): the manifest's trigger is entirely in the past by the "
            f"configured time zone ({world.tz}), yet the server still lists its task {sid}: the "
            "change is planned, and held by the fire guard (it may be firing now). If the app's "
            "time zone is another, set `timezone:` in reconciler.yaml (docs/settings.md)"
        )
    # Equal fingerprints mean equal canonical bodies: no field can differ, no diff to compute.
    changes = [] if remote.fingerprint == d.fingerprint else diff_bodies(remote.body, d.body)
    if not changes:
        recorded = entry.fingerprint
        if fingerprint_matches(recorded, d.body, plain=d.fingerprint) and (
            d.protected == entry.protected
        ):
            return None  # in sync
        reason = (
            "lifecycle.prevent_destroy changed"
            if d.protected != entry.protected
            else "the remote task already matches the manifest"
        )
        return RefreshAction(
            name=d.name,
            schedule_id=sid,
            fingerprint=d.fingerprint,
            protected=d.protected,
            old_protected=entry.protected,
            reason=reason,
        )
    body, fingerprint = _new_body(d)
    cause = _cause(entry, d, remote)
    fires_at = _fires_at(remote, world)
    if listed_past and fires_at is None and remote.body.get("enabled", remote.enabled):
        # No firing ahead by the configured zone, but the server has not let the task go: by
        # its own zone it may be sending now. The change races that push as any other would.
        fires_at = _iso(world.now)
    why = needs_replacement(remote.body, d.body)
    if why is not None:  # row: change of zone_type or trigger kind -> replace
        return ReplaceAction(
            name=d.name,
            old_schedule_id=sid,
            body=body,
            fingerprint=fingerprint,
            changes=changes,
            cause=cause,
            reason=why,
            protected=d.protected,
            source=d.source,
            fires_at=fires_at,
        )
    # row: manifest and managed remote task differ -> update (full-body PUT)
    return UpdateAction(
        name=d.name,
        schedule_id=sid,
        body=body,
        fingerprint=fingerprint,
        changes=changes,
        cause=cause,
        protected=d.protected,
        source=d.source,
        fires_at=fires_at,
    )


def _plan_gone(
    name: str, d: Desired | None, entry: StateEntry, others: list[RemoteSchedule], world: _World
) -> Action:
    """A managed name whose task is not on the server (deleted out of band, or fired)."""
    sid = entry.schedule_id
    if d is None:
        return ExpiredAction(
            name=name,
            schedule_id=sid,
            reason="manifest removed and the remote task is already gone",
        )
    if others:  # someone made a task of this name since: never create a second one
        return _conflict(d, others, stale=sid)
    if d.body.get("enabled") is False:
        if timing.is_finished(d.body, world.now, world.tz):
            # Its time passed and the server dropped it, as it drops any task that fires no
            # more: expired, not "deleted outside the reconciler" (drift's word for the skip).
            return ExpiredAction(name=name, schedule_id=sid, reason="trigger time passed")
        return SkipAction(
            name=name,
            reason="disabled; its remote task is gone",
            source=d.source,
            forget=True,
            schedule_id=sid,
        )
    if timing.is_immediate(d.body):
        # backup_time "now" was sent when it was created. Forgetting the entry would make the
        # next plan create (and send) it again, so the entry stays as the "already sent" mark.
        return SkipAction(
            name=name,
            reason='already sent (backup_time "now"); kept in state so it is never sent again',
            source=d.source,
            schedule_id=sid,
        )
    if timing.is_finished(d.body, world.now, world.tz):
        # row: state entry, remote task gone, trigger passed -> expired: never re-send a fired
        # one-shot; the manifest's past trigger keeps a later plan from creating it again
        return ExpiredAction(name=name, schedule_id=sid, reason="trigger time passed")
    body, fingerprint = _new_body(d)  # row: state entry, remote gone, trigger ahead -> recreate
    return RecreateAction(
        name=name,
        old_schedule_id=sid,
        body=body,
        fingerprint=fingerprint,
        protected=d.protected,
        source=d.source,
    )


def _plan_new(d: Desired, others: list[RemoteSchedule], world: _World) -> Action:
    """A manifest name without a state entry: create / skip / conflict."""
    if others:  # row: remote task with the manifest's name but not in state -> conflict
        return _conflict(d, others)
    if d.body.get("enabled") is False:  # row: disabled, not yet created -> skip
        return SkipAction(name=d.name, reason="disabled and not yet created", source=d.source)
    if timing.is_finished(d.body, world.now, world.tz):  # row: trigger in the past -> skip
        world.warnings.append(
            f"{d.name!r} ({d.source}): the trigger is entirely in the past; nothing will be "
            "created. Remove the manifest or move its trigger into the future."
        )
        return SkipAction(name=d.name, reason="trigger entirely in the past", source=d.source)
    body, fingerprint = _new_body(d)  # row: no state entry, no remote task -> create
    return CreateAction(
        name=d.name, body=body, fingerprint=fingerprint, protected=d.protected, source=d.source
    )


def _held_replace(a: ReplaceAction, others: list[RemoteSchedule]) -> SkipAction:
    """A replace of a schedule that is already live more than once is not made.

    Its first half creates a task of the name: next to the unmanaged ones it would be one copy
    more, and one of them may be the new half of an earlier replace whose answer was lost (or
    whose journal entry was removed by hand). The copies are resolved first (``Plan.twins``
    keeps the plan unclean until they are); then the replace is planned again.
    """
    ids = ", ".join(t.schedule_id for t in others)
    return SkipAction(
        name=a.name,
        reason=f"not replaced: remote task(s) {ids} already carry its name and are not "
        "managed, so a new task would be one copy more; resolve the copies first",
        source=a.source,
        schedule_id=a.old_schedule_id,
    )


def _named(remote: RemoteSchedule | None, name: str) -> RemoteSchedule | None:
    """``remote`` as the task of state name ``name``, when the server altered the name.

    A server that normalises names stores "promo " as "promo"; the two are one name
    (canonical.name_key), and without this every plan would PUT the name back, forever.
    """
    if (
        remote is None
        or remote.name == name
        or canonical.name_key(remote.name) != (canonical.name_key(name))
    ):
        return remote
    return RemoteSchedule(
        schedule_id=remote.schedule_id,
        name=name,
        enabled=remote.enabled,
        body={**remote.body, "name": name},
    )


def _nameless(body: Mapping[str, Any]) -> str:
    """The fingerprint of a canonical body but for its name."""
    return canonical.fingerprint({**body, "name": ""})


def _warn_of_copies(
    actions: Sequence[Action], unmanaged: Sequence[RemoteSchedule], warnings: list[str]
) -> None:
    """Warn of a task made with the very body, but for the name, of an unmanaged task: both
    would fire. It is how a schedule comes to be sent twice by hand: an exported task's
    manifest renamed (its name was not one a manifest may have, and `import` adopts a task under
    its own name only), a manifest written anew for a task made elsewhere."""
    if not unmanaged:
        return
    copies: dict[str, list[RemoteSchedule]] = {}
    for task in unmanaged:
        try:
            copies.setdefault(_nameless(canonical.canonicalize(dict(task.body))), []).append(task)
        except (ValueError, KeyError, TypeError):  # a body the server sent oddly: no copy
            continue
    for a in actions:
        if not isinstance(a, CreateAction | RecreateAction):
            continue
        for task in copies.get(_nameless(a.body), ()):
            warnings.append(
                f"{a.name!r} ({a.source}) is made with the very push and trigger of the "
                f"unmanaged task {task.schedule_id} ({task.name!r}): both would fire. If that "
                f"task is this schedule, delete it with {remote_delete_command(task.schedule_id)} "
                "once this one is made, or name the manifest as the task "
                f"is (where a manifest may have that name) and adopt it with `reconciler import "
                f"NAME={task.schedule_id}`"
            )


def make_plan(
    desired: Sequence[Desired],
    inventory: Inventory,
    state: State,
    *,
    now: datetime,
    tz: tzinfo,
    options: PlanOptions,
) -> Plan:
    """Compare manifests, server and state; return the ordered, checked, checksummed Plan."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("make_plan needs a timezone-aware `now`")
    by_name: dict[str, Desired] = {}
    by_key: dict[str, Desired] = {}
    warnings: list[str] = []
    for item in desired:
        if item.name in by_name:
            raise PlanError(
                f"two manifests are named {item.name!r}: {by_name[item.name].source} and "
                f"{item.source}",
                hint="names are the keys of schedules: rename one of them",
            )
        key = canonical.name_key(item.name)
        if key in by_key:
            other = by_key[key]
            raise PlanError(
                f"the manifests named {other.name!r} ({other.source}) and {item.name!r} "
                f"({item.source}) differ only in whitespace or character forms; the server may "
                f"store both as {key!r}",
                hint="names are the keys of schedules: rename one of them",
            )
        by_name[item.name] = by_key[key] = item
        if key != item.name:
            warnings.append(
                f"{item.name!r} ({item.source}): the server may store this name as {key!r} "
                "(surrounding or repeated whitespace, or a compatibility character); the "
                f"reconciler treats both spellings as one name. Prefer {key!r}"
                f"{canonical.RENAME_ADVICE}."
            )

    if not inventory.complete:
        # In the plan, so that every rendering carries it (a PR comment, JSON, a drift report):
        # "no changes" from a partial read is not "the app matches".
        problems = "; ".join(inventory.problems) or "the list did not add up"
        # A server's message can hold a lone surrogate, which no UTF-8 plan file can.
        problems = problems.encode("utf-8", "backslashreplace").decode("utf-8")
        warnings.append(
            f"the remote list was not read completely ({problems}): tasks it missed are not "
            "shown, and no create, replace or delete rests on their absence. Run again when "
            "the API answers completely"
        )
    entries = dict(state.entries)
    for name in sorted(state.pending):
        # apply heals the journal before planning; a leftover must not be trusted either way.
        pending = state.pending[name]
        warnings.append(
            f"{name!r}: the state holds an unfinished {pending.op} (started "
            f"{pending.started_at.isoformat()}); {name!r} is treated as not in state. "
            "Run `reconciler apply` to heal the journal."
        )
        entries.pop(name, None)
    claimed: dict[str, str] = {}
    for name in sorted(entries):
        sid = entries[name].schedule_id
        if sid in claimed:
            warnings.append(f"state entries {claimed[sid]!r} and {name!r} share schedule id {sid}")
        claimed.setdefault(sid, name)
    owned = {e.schedule_id for e in entries.values()}
    # by name key: a rename onto "promo" next to an unmanaged "promo " makes two of one name
    live_names = {
        canonical.name_key(t.name): t.name
        for sid, t in inventory.schedules.items()
        if sid not in owned
    }
    renames = declared_renames(by_name, entries, live_names, warnings)
    for new, old in renames.items():
        entries[new] = entries.pop(old)
    # Remote tasks no state entry claims, by name key: a server that normalises names would
    # store a create of "promo " as a second "promo" (canonical.name_key).
    free: dict[str, list[RemoteSchedule]] = {}
    for sid in sorted(inventory.schedules):
        if sid not in claimed:
            task = inventory.schedules[sid]
            free.setdefault(canonical.name_key(task.name), []).append(task)

    world = _World(inventory=inventory, now=now, tz=tz, warnings=warnings)
    actions: list[Action] = []
    twins: dict[str, list[str]] = {}
    for name in sorted(set(by_name) | set(entries)):
        d, entry = by_name.get(name), entries.get(name)
        key = canonical.name_key(name)
        others = free.get(key, [])
        action: Action | None
        if entry is None:
            assert d is not None
            action = _plan_new(d, others, world)
        elif (remote := _named(inventory.schedules.get(entry.schedule_id), name)) is None:
            action = _plan_gone(name, d, entry, others, world)
        elif d is None:  # row: managed remote task, manifest removed -> delete
            action = DeleteAction(
                name=name,
                schedule_id=entry.schedule_id,
                old_body=canonical.canonicalize(dict(remote.body)),
                protected=entry.protected,
                fires_at=_fires_at(remote, world),
            )
        else:
            action = _plan_live(d, entry, remote, world)
            if others:
                twins[name] = [t.schedule_id for t in others]  # reported as unmanaged too
                if isinstance(action, ReplaceAction):
                    action = _held_replace(action, others)
        if isinstance(action, ConflictAction):
            free.pop(key, None)
        if action is not None:
            actions.append(action)
    _warn_of_copies(actions, [t for key in sorted(free) for t in free[key]], warnings)
    for key in sorted(free):  # row: not in state, not in manifests -> unmanaged
        for remote in free[key]:
            actions.append(
                UnmanagedAction(
                    name=remote.name,
                    schedule_id=remote.schedule_id,
                    enabled=bool(remote.body.get("enabled", remote.enabled)),
                )
            )
    actions.sort(key=sort_key)

    active_before = max(len(inventory.schedules), inventory.total_count)
    kinds = [a.kind for a in actions]
    active_after = (
        active_before - kinds.count("delete") + kinds.count("create") + kinds.count("recreate")
    )
    plan = Plan(
        planned_at=now.astimezone(UTC).isoformat(),
        timezone=str(tz),
        options=options,
        inputs=inputs_of(desired, inventory, state),
        active_before=active_before,
        active_after=active_after,
        managed=len(entries),
        actions=actions,
        violations=violations(
            actions, inventory, len(entries), len(by_name), active_before, now, options
        ),
        warnings=warnings,
        renames=renames,
        twins=twins,
    )
    return plan.model_copy(update={"checksum": plan.compute_checksum()})
