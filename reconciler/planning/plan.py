"""The Plan: what apply would do, computed from manifests, server and state (pure, no I/O).

:func:`make_plan` compares the desired schedules (manifests), the observed remote inventory and
the state file, and returns a :class:`Plan`. It reads no files, calls no network and reads no
clock: ``now`` and ``tz`` are parameters. The plan-semantics table of docs/design.md is implemented
row by row in the ``_plan_*`` functions (rows are marked ``# row:``); the action types live in
:mod:`reconciler.planning.actions`, the safety rules in :mod:`reconciler.planning.safety` (both
re-exported here).
A Plan is an artifact: it serialises (:meth:`Plan.to_json`), carries digests of its inputs and a
checksum, and refuses to be used when the world moved (:meth:`Plan.check_fresh`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Any, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import PlanError, StalePlanError, UnsafePlanError
from reconciler.formats import PLAN_FILE_VERSION
from reconciler.planning import canonical, timing
from reconciler.planning.actions import (
    GROUP,
    Action,
    Cause,
    ConflictAction,
    CreateAction,
    DeleteAction,
    DriftItem,
    ExpiredAction,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UnmanagedAction,
    UpdateAction,
    drift_of,
    is_change,
    sort_key,
    target_id,
)
from reconciler.planning.diff import (
    FieldChange,
    diff_bodies,
    fingerprint_matches,
    needs_replacement,
)
from reconciler.planning.safety import PlanOptions, violations
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.state.schema import State, StateEntry

__all__ = [
    "PLAN_FILE_VERSION",
    "Action",
    "ConflictAction",
    "CreateAction",
    "DeleteAction",
    "Desired",
    "DriftItem",
    "ExpiredAction",
    "FieldChange",
    "Plan",
    "PlanInputs",
    "PlanOptions",
    "PolicyException",
    "RecreateAction",
    "RefreshAction",
    "ReplaceAction",
    "SkipAction",
    "UnmanagedAction",
    "UpdateAction",
    "desired_digest",
    "listed_digest",
    "make_plan",
    "observed_digest",
]

MANIFESTS_MOVED = "the manifests changed since the plan was made"


@dataclass(frozen=True)
class Desired:
    """One schedule as the manifests want it. ``body`` is the canonical API dict (Manifest.body)."""

    name: str
    body: dict[str, Any]
    protected: bool = False
    source: str = ""  # "path:line" of the manifest, for messages
    previous_names: tuple[str, ...] = ()  # lifecycle.previous_names: a declared rename

    @cached_property
    def canonical(self) -> dict[str, Any]:
        """``canonical.canonicalize(body)``, computed once: the body every write sends."""
        return canonical.canonicalize(self.body)

    @cached_property
    def fingerprint(self) -> str:
        """``canonical.fingerprint(body)``, computed once (digest, in-sync check, new bodies)."""
        return canonical.fingerprint_of_canonical(self.canonical)


class PlanInputs(BaseModel):
    """Digests of what the plan was computed from (a saved plan is stale when they move)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    desired_digest: str
    observed_digest: str
    state_lineage: str
    state_serial: int
    inventory_complete: bool
    # The list alone (ids, names, enabled): what `apply PLAN_FILE` re-reads to check the plan
    # is fresh without every detail. None in plan files made before it existed.
    listed_digest: str | None = None


def _sha(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def desired_digest(desired: Sequence[Desired]) -> str:
    """Digest of the desired set: names, body fingerprints and protections (not file paths)."""
    # A declared rename is part of what the plan was made from; rows without one keep the
    # digest of plan files made before renames existed.
    rows: list[list[Any]] = []
    for d in sorted(desired, key=lambda d: d.name):
        row: list[Any] = [d.name, d.fingerprint, d.protected]
        if d.previous_names:
            row.append(list(d.previous_names))
        rows.append(row)
    return _sha(rows)


def observed_digest(inventory: Inventory) -> str:
    """Digest of the remote observation: ids and body fingerprints, completeness, confirmed-gone."""
    rows = sorted((s.schedule_id, s.fingerprint) for s in inventory.schedules.values())
    return _sha(
        {
            "schedules": [list(r) for r in rows],
            "complete": inventory.complete,
            "gone": sorted(inventory.gone),
        }
    )


def listed_digest(rows: Iterable[tuple[str, str, bool]], complete: bool) -> str:
    """Digest of the list view of the remote side: (id, name, enabled) rows and completeness.

    Computed from an Inventory when planning and from a bare list read (listing.read_list)
    when a saved plan is applied: equal digests mean no task appeared, vanished, was renamed or
    switched on or off in between.
    """
    return _sha({"rows": sorted(list(r) for r in rows), "complete": complete})


def inventory_rows(inventory: Inventory) -> list[tuple[str, str, bool]]:
    """The (id, name, enabled) rows of an Inventory, for :func:`listed_digest`."""
    return [(s.schedule_id, s.name, s.enabled) for s in inventory.schedules.values()]


class PolicyException(BaseModel):
    """A push-policy violation the plan was made with, allowed by ``--allow-policy``
    (docs/policies.md): apply of a saved plan allows these and no other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    severity: str
    schedule: str
    path: str
    line: int
    col: int
    message: str


class Plan(BaseModel):
    """Ordered actions, safety verdicts and the digests of the inputs, checksummed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = PLAN_FILE_VERSION
    planned_at: str  # UTC ISO 8601 of the injected ``now``
    timezone: str
    options: PlanOptions
    inputs: PlanInputs
    active_before: int
    active_after: int
    managed: int
    actions: list[Action]
    violations: list[str]
    warnings: list[str]
    # Declared renames (lifecycle.previous_names), new name -> old name: apply moves each state
    # entry before any request, and the action under the new name sends the new name.
    renames: dict[str, str] = Field(default_factory=dict)
    # The justified exceptions to the environment's push policies the plan was made with.
    policy_exceptions: list[PolicyException] = Field(default_factory=list)
    checksum: str = ""

    # -- views --------------------------------------------------------------------------------
    @property
    def has_changes(self) -> bool:
        """True when apply would write anything (remote or state)."""
        return bool(self.renames) or any(is_change(a) for a in self.actions)

    @property
    def is_safe(self) -> bool:
        """True when no safety rule is violated (``check_safe`` would pass)."""
        return not self.violations

    def of_kind(self, kind: str) -> list[Action]:
        """The actions of one kind, in plan order."""
        return [a for a in self.actions if a.kind == kind]

    def counts(self) -> dict[str, int]:
        """Actions per kind: every kind present (zero when absent), in plan order of groups."""
        out = {k: 0 for k in GROUP}
        for a in self.actions:
            out[a.kind] += 1
        return out

    def check_safe(self, *, shown: bool = False) -> None:
        """Raise UnsafePlanError for the violated safety rules (``shown``: already printed)."""
        if self.violations:
            # Not every rule has an override (prevent_destroy, an incomplete read, the active
            # limit): each line says what resolves it.
            raise UnsafePlanError(
                self.violations, hint="each line says how to resolve it", shown=shown
            )

    def drift_items(self) -> list[DriftItem]:
        """Remote edits, remote deletions, unmanaged tasks and unapplied manifest changes."""
        items: list[DriftItem] = []
        for a in self.actions:
            items.extend(drift_of(a))
        return items

    # -- artifact -----------------------------------------------------------------------------
    def compute_checksum(self) -> str:
        """sha256 of the canonical JSON of everything but the checksum itself."""
        return _sha(self._dump(exclude={"checksum"}))

    def _dump(self, exclude: set[str] | None = None) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude=exclude)
        if data["inputs"].get("listed_digest") is None:
            # Plan files made before the field existed keep their content and checksum.
            del data["inputs"]["listed_digest"]
        if not data.get("renames", True):
            del data["renames"]  # the same for plans without a rename
        if not data.get("policy_exceptions", True):
            del data["policy_exceptions"]  # and for plans without a policy exception
        return data

    def with_policy_exceptions(self, allowed: Iterable[Mapping[str, Any]]) -> Plan:
        """This plan recording the policy violations ``--allow-policy`` let through (each as
        ``policies.Violation.as_json``), checksummed again."""
        items = [PolicyException.model_validate(dict(v)) for v in allowed]
        if not items and not self.policy_exceptions:
            return self
        plan = self.model_copy(update={"policy_exceptions": items})
        return plan.model_copy(update={"checksum": plan.compute_checksum()})

    def to_json(self) -> str:
        """The plan file: stable, sorted, versioned JSON (``format_version`` 1)."""
        data = self._dump()
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan file; refuses other format versions and edited (checksum-broken) files."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(
                f"plan file is not JSON (line {exc.lineno}): {exc.msg}",
                hint="write plan files with `reconciler plan --out FILE`",
            ) from exc
        except (RecursionError, ValueError):  # nested too deeply; an int too long to convert
            raise PlanError(
                "plan file is not a plan (its JSON is nested too deeply or holds a number too "
                "long to read)",
                hint="write plan files with `reconciler plan --out FILE`",
            ) from None
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != PLAN_FILE_VERSION:
            raise PlanError(
                f"plan file has format_version {version!r}; "
                f"this reconciler reads {PLAN_FILE_VERSION}",
                hint="re-create the plan with this version of `reconciler plan --out FILE`",
            )
        try:
            plan = cls.model_validate(data)
        except ValidationError as exc:
            raise PlanError(
                f"plan file does not match the plan schema: {exc.error_count()} error(s): "
                f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
                hint="re-create the plan with `reconciler plan --out FILE`",
            ) from exc
        # The checksum covers what the file says (to_json writes exactly what compute_checksum
        # hashes), so the parsed JSON is hashed instead of a second dump of the model.
        if plan.checksum != _sha({k: v for k, v in data.items() if k != "checksum"}):
            raise PlanError(
                "plan file checksum does not match its content (was it edited?)",
                hint="re-create the plan with `reconciler plan --out FILE`",
            )
        return plan

    def stale_reasons(
        self, desired: Sequence[Desired], inventory: Inventory, state: State
    ) -> list[str]:
        """Why this plan no longer describes the world (empty list when it still does)."""
        local = self.local_stale_reasons(desired, state)
        manifests = [r for r in local if r == MANIFESTS_MOVED]
        remote = (
            self._remote_changes(inventory, state)
            if observed_digest(inventory) != self.inputs.observed_digest
            else []
        )
        return [*manifests, *remote, *(r for r in local if r != MANIFESTS_MOVED)]

    def _remote_changes(self, inventory: Inventory, state: State) -> list[str]:
        """What moved on the server since the plan was made, by task where it can be told.

        The tasks the plan saw are the state's (the state file is checked to be the plan's
        own) less those it found gone, plus the unmanaged and conflicting ones it lists.
        """
        seen = {e.schedule_id: name for name, e in state.entries.items()}
        for a in self.actions:
            match a:
                case RecreateAction():
                    seen.pop(a.old_schedule_id, None)
                case ExpiredAction():
                    seen.pop(a.schedule_id, None)
                case SkipAction():
                    if a.forget:
                        seen.pop(a.schedule_id or "", None)
                case UnmanagedAction():
                    seen[a.schedule_id] = a.name
                case ConflictAction():
                    seen.update(dict.fromkeys(a.schedule_ids, a.name))
                case (
                    CreateAction() | UpdateAction() | ReplaceAction() | DeleteAction()
                    | RefreshAction()
                ):
                    pass  # a task the state already names, or none yet
                case _:
                    assert_never(a)
        now = inventory.schedules
        appeared = [f"{t.name!r} ({sid})" for sid, t in now.items() if sid not in seen]
        vanished = (
            [f"{name!r} ({sid})" for sid, name in seen.items() if sid not in now]
            if inventory.complete
            else []
        )
        out = []
        if appeared:
            out.append(f"remote task(s) appeared since the plan was made: {_few(appeared)}")
        if vanished:
            out.append(f"remote task(s) vanished since the plan was made: {_few(vanished)}")
        return out or ["the contents of remote schedules changed since the plan was made"]

    def local_stale_reasons(self, desired: Sequence[Desired], state: State) -> list[str]:
        """The stale reasons that need no remote read: manifests and state file moved."""
        moved = desired_digest(desired) != self.inputs.desired_digest
        return ([MANIFESTS_MOVED] if moved else []) + self.state_stale_reasons(state)

    def state_stale_reasons(self, state: State) -> list[str]:
        """Why the state file is not the one the plan was made with (empty when it is)."""
        reasons: list[str] = []
        never_saved = state.serial == 0 and self.inputs.state_serial == 0
        # A state file that does not exist yet gets a fresh random lineage on every load; two
        # never-saved states are the same empty state.
        if state.lineage != self.inputs.state_lineage and not never_saved:
            reasons.append("the state file is a different one (lineage differs)")
        elif state.serial != self.inputs.state_serial:
            reasons.append(
                f"the state file moved from serial {self.inputs.state_serial} to {state.serial}"
            )
        return reasons

    def check_state(self, state: State) -> None:
        """Raise StalePlanError when the state file moved since the plan was made."""
        _raise_stale(self.state_stale_reasons(state))

    def check_local(self, desired: Sequence[Desired], state: State) -> None:
        """Raise StalePlanError when the manifests or the state file moved (no remote read)."""
        _raise_stale(self.local_stale_reasons(desired, state))

    def check_fresh(self, desired: Sequence[Desired], inventory: Inventory, state: State) -> None:
        """Raise StalePlanError when the plan's inputs no longer match the world."""
        _raise_stale(self.stale_reasons(desired, inventory, state))


    # -- a saved plan is data, not a signed order ------------------------------------------
    def write_problems(
        self, state: State, desired: Sequence[Desired] | None, remote: Iterable[tuple[str, str]]
    ) -> list[str]:
        """Every write of this plan that the state file and the manifests do not back.

        The checksum proves no authorship: anyone who can edit a plan file can recompute it.
        So each action is checked as the planner would have made it from ``state`` (pending
        names count as not in state, as in make_plan) and ``desired``: deletes, updates,
        replaces, recreates, refreshes and forgets target the id the state records for their
        name; bodies and fingerprints are the manifest's; prevent_destroy is what state and
        manifest say; a create names a manifest that neither the state nor any unclaimed
        remote task (``remote``: (id, name) pairs) already has; one write per name.
        Without ``desired`` (the Python API's apply_plan has no manifests) the targets and
        renames are checked against the state, the bodies are not.
        """
        entries = {n: e for n, e in state.entries.items() if n not in state.pending}
        wanted = {d.name: d for d in desired or ()}
        claimed = {e.schedule_id for e in entries.values()}
        taken = {canonical.name_key(name) for sid, name in remote if sid not in claimed}
        problems: list[str] = []
        for new, old in sorted(self.renames.items()):
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
        for a in self.actions:
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
                    problems.append(
                        f"{what}: the state already manages it as {entry.schedule_id}"
                    )
                elif canonical.name_key(a.name) in taken:
                    problems.append(f"{what}: a remote task of that name exists")
            else:
                target = target_id(a)
                if entry is None:
                    problems.append(f"{what}: the state manages no schedule of that name")
                elif target is not None and target != entry.schedule_id:
                    problems.append(
                        f"{what}: targets {target}, but the state records {entry.schedule_id} "
                        "for it"
                    )
            if desired is not None or isinstance(a, DeleteAction):
                problems.extend(_body_problems(a, what, d, entry))
        return problems

    def check_writes(
        self, state: State, desired: Sequence[Desired] | None, remote: Iterable[tuple[str, str]]
    ) -> None:
        """Raise PlanError, before any request, when :meth:`write_problems` finds any."""
        problems = self.write_problems(state, desired, remote)
        if problems:
            raise PlanError(
                "the saved plan does not match the state file and the manifests (was it "
                "edited?): " + "; ".join(problems),
                hint="nothing was sent; re-create the plan with `reconciler plan --out FILE` "
                "and review it",
            )

    def recheck_violations(
        self,
        state: State,
        desired: Sequence[Desired],
        *,
        complete: bool,
        active_now: int,
        now: datetime,
    ) -> list[str]:
        """The safety rules applied afresh to this plan's own actions.

        A saved plan's ``violations`` are part of the file, which anyone can edit; the rules
        need only the actions (checked by :meth:`write_problems`), the state and the clock.
        The fire guard is left to the caller: it needs the tasks' firing times as they are
        now, not as the file recorded them (engine.check_saved_by_list, a fresh plan).
        """
        managed = sum(1 for n in state.entries if n not in state.pending)
        return violations(
            self.actions,
            Inventory(schedules={}, complete=complete),
            managed,
            len(desired),
            max(self.active_before, active_now),
            now,
            self.options.model_copy(update={"force": True}),
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
    if canonical.fingerprint(a.body) != d.fingerprint or a.fingerprint != d.fingerprint:
        return [f"{what}: its body is not the manifest's ({d.source})"]
    if a.protected != d.protected:
        return [f"{what}: its prevent_destroy is not the manifest's ({d.source})"]
    return []


def _few(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(sorted(items)[:limit]) + more


def _raise_stale(reasons: list[str]) -> None:
    if reasons:
        raise StalePlanError(
            "the saved plan is stale: " + "; ".join(reasons),
            hint="run `reconciler plan` again and review the new plan",
        )


# -- planning ---------------------------------------------------------------------------------


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
    # while the list was on its way (engine.observe); actions copy the mapping they are given.
    return d.canonical, d.fingerprint


def _conflict(d: Desired, remotes: list[RemoteSchedule], stale: str | None = None) -> Action:
    identical = any(not diff_bodies(r.body, d.body) for r in remotes)
    return ConflictAction(
        name=d.name,
        schedule_ids=sorted(r.schedule_id for r in remotes),
        identical=identical,
        stale_schedule_id=stale,
        source=d.source,
    )


def _plan_live(
    d: Desired, entry: StateEntry, remote: RemoteSchedule, world: _World
) -> Action | None:
    """A managed name whose task is on the server and whose manifest exists."""
    sid = entry.schedule_id
    if timing.is_finished(d.body, world.now, world.tz):
        if not timing.is_finished(remote.body, world.now, world.tz) and diff_bodies(
            remote.body, d.body
        ):
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
        world.warnings.append(
            f"{d.name!r} ({d.source}): the manifest's trigger is entirely in the past but the "
            f"remote task {sid} is still active; it is left as it is"
        )
        return SkipAction(name=d.name, reason="trigger entirely in the past", source=d.source)
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


def _declared_renames(
    by_name: Mapping[str, Desired],
    entries: Mapping[str, StateEntry],
    live_names: set[str],
    warnings: list[str],
) -> dict[str, str]:
    """new name -> old name for each manifest whose ``previous_names`` holds a managed name.

    Like a ``moved`` block: the state entry follows the manifest, so the plan updates the task
    (its name is part of the full body) instead of deleting it and creating another.
    """
    renames: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for name in sorted(by_name):
        d = by_name[name]
        if not d.previous_names:
            continue
        for old in d.previous_names:
            if old in by_name:
                raise PlanError(
                    f"{name!r} ({d.source}) lists {old!r} in lifecycle.previous_names, but a "
                    f"manifest named {old!r} exists ({by_name[old].source})",
                    hint="a name belongs to one manifest: drop it from previous_names or "
                    "rename the other manifest",
                )
            if old in claimed:
                raise PlanError(
                    f"{claimed[old]!r} and {name!r} both list {old!r} in "
                    "lifecycle.previous_names",
                    hint="one task can follow one manifest: keep the name in one of them",
                )
            claimed[old] = name
        managed = [old for old in d.previous_names if old in entries]
        if name in entries or not managed:
            stale = ", ".join(repr(o) for o in d.previous_names if o not in entries)
            if stale:
                warnings.append(
                    f"{name!r} ({d.source}): lifecycle.previous_names {stale} manage(s) no "
                    "task any more; the rename is done and the entry can be removed"
                )
            if name in entries and managed:
                warnings.append(
                    f"{name!r} ({d.source}): both {name!r} and its previous name(s) "
                    f"{', '.join(repr(o) for o in managed)} are managed; nothing is renamed "
                    "(the previous name's task is planned on its own)"
                )
            continue
        if name in live_names:
            # A new manifest of this name would be a conflict; renaming a managed task onto it
            # would leave two live tasks of one name.
            raise PlanError(
                f"{name!r} ({d.source}) renames {managed[0]!r}, but a remote task named "
                f"{name!r} exists that this state does not manage",
                hint="adopt it (`reconciler import`), delete or rename it, or choose another "
                "name; `reconciler remote list` shows it",
            )
        if len(managed) > 1:
            raise PlanError(
                f"{name!r} ({d.source}): several previous names are managed "
                f"({', '.join(repr(o) for o in managed)}); only one task can become {name!r}",
                hint="keep the previous name whose task should continue under the new name",
            )
        renames[name] = managed[0]
    return renames


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


def _named(remote: RemoteSchedule | None, name: str) -> RemoteSchedule | None:
    """``remote`` as the task of state name ``name``, when the server altered the name.

    A server that normalises names stores "promo " as "promo"; the two are one name
    (canonical.name_key), and without this every plan would PUT the name back, forever.
    """
    if remote is None or remote.name == name or canonical.name_key(remote.name) != (
        canonical.name_key(name)
    ):
        return remote
    return RemoteSchedule(
        schedule_id=remote.schedule_id,
        name=name,
        enabled=remote.enabled,
        body={**remote.body, "name": name},
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
                f"reconciler treats both spellings as one name. Prefer {key!r}."
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
    live_names = {t.name for sid, t in inventory.schedules.items() if sid not in owned}
    renames = _declared_renames(by_name, entries, live_names, warnings)
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
                warnings.append(
                    f"{len(others)} more remote task(s) named {name!r} are not managed; "
                    "they are reported as unmanaged"
                )
        if isinstance(action, ConflictAction):
            free.pop(key, None)
        if action is not None:
            actions.append(action)
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
        inputs=PlanInputs(
            desired_digest=desired_digest(desired),
            observed_digest=observed_digest(inventory),
            state_lineage=state.lineage,
            state_serial=state.serial,
            inventory_complete=inventory.complete,
            listed_digest=listed_digest(inventory_rows(inventory), inventory.complete),
        ),
        active_before=active_before,
        active_after=active_after,
        managed=len(entries),
        actions=actions,
        violations=violations(
            actions, inventory, len(entries), len(by_name), active_before, now, options
        ),
        warnings=warnings,
        renames=renames,
    )
    return plan.model_copy(update={"checksum": plan.compute_checksum()})
