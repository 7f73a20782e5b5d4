"""The typed plan actions: one frozen model per kind, their order, and what each means as drift.

Every action names one schedule. ``kind`` is the discriminator; :data:`Action` is the union the
Plan holds, defined here once. Code that treats the kinds differently dispatches with ``match a:``
over the classes and ends in ``case _: assert_never(a)``, so that mypy reports every dispatch
that misses a kind (tests/test_action_dispatch.py proves the check works). What apply must do
with each kind is in each class's docstring. Pure data, no I/O.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Annotated, Any, Literal, assert_never

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from reconciler.planning.diff import FieldChange

Cause = Literal["manifest", "remote", "both"]

# The error type of a plan value that breaks a rule below: its message is the rule's own text.
PLAN_RULE = "plan_rule"


def _moment(value: str) -> str:
    # A saved plan is data anyone can edit, and its times are compared with an aware clock
    # (the fire guard, the firings shown): text that is no date-time, or a time without an
    # offset, must stop the file from being read, not a command after its first request.
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            PLAN_RULE,
            "{value} is not an ISO 8601 date-time (such as 2027-03-01T09:00:00+00:00)",
            {"value": repr(value)},
        ) from None
    if parsed.utcoffset() is None:
        raise PydanticCustomError(
            PLAN_RULE,
            "{value} has no UTC offset (such as 2027-03-01T09:00:00+00:00)",
            {"value": repr(value)},
        )
    return value  # kept as written: the checksum covers the text


# An aware ISO 8601 date-time, as the planner writes it (``datetime.isoformat`` in UTC).
Moment = Annotated[str, AfterValidator(_moment)]


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str


class CreateAction(_Action):
    """New schedule. Apply: journal a pending create, POST ``body``, record name -> new id with
    ``fingerprint`` and ``protected``, clear the pending entry."""

    kind: Literal["create"] = "create"
    body: dict[str, Any]
    fingerprint: str
    protected: bool = False
    source: str = ""


class UpdateAction(_Action):
    """Changed schedule. Apply: full-body PUT of ``body`` to ``schedule_id`` (docs/api.md 2.4), then
    record ``fingerprint`` and ``protected``. ``cause`` says who changed: manifest/remote/both."""

    kind: Literal["update"] = "update"
    schedule_id: str
    body: dict[str, Any]
    fingerprint: str
    changes: list[FieldChange]
    cause: Cause
    protected: bool = False
    source: str = ""
    fires_at: Moment | None = None  # next firing of the remote task (UTC ISO), if enabled


class ReplaceAction(_Action):
    """Kind or zone_type change (docs/api.md 2.4). Apply: journal, POST ``body`` (new id), record
    it, then DELETE ``old_schedule_id``; if that delete fails, DELETE the new task again (undo) and
    restore the old entry."""

    kind: Literal["replace"] = "replace"
    old_schedule_id: str
    body: dict[str, Any]
    fingerprint: str
    changes: list[FieldChange]
    cause: Cause
    reason: str
    protected: bool = False
    source: str = ""
    fires_at: Moment | None = None


class DeleteAction(_Action):
    """Manifest removed. Apply: DELETE ``schedule_id`` (a 404 means already gone: fine), then
    drop the state entry."""

    kind: Literal["delete"] = "delete"
    schedule_id: str
    old_body: dict[str, Any]
    protected: bool = False
    fires_at: Moment | None = None


class RecreateAction(_Action):
    """The managed task vanished out of band, trigger still ahead. Apply: as create (journal,
    POST ``body``), replacing the entry's ``old_schedule_id`` with the new id."""

    kind: Literal["recreate"] = "recreate"
    old_schedule_id: str
    body: dict[str, Any]
    fingerprint: str
    protected: bool = False
    source: str = ""


class ExpiredAction(_Action):
    """The managed task is gone and will not fire again. Apply: drop the state entry; no call."""

    kind: Literal["expired"] = "expired"
    schedule_id: str
    reason: str


class RefreshAction(_Action):
    """Remote already right, state behind. Apply: set the entry's ``fingerprint`` and
    ``protected`` (lifecycle.prevent_destroy); no API call."""

    kind: Literal["refresh"] = "refresh"
    schedule_id: str
    fingerprint: str
    protected: bool
    old_protected: bool
    reason: str


class ConflictAction(_Action):
    """Remote task(s) carry the manifest's name but are not in state. Apply: nothing (report);
    the user adopts one with ``reconciler import NAME=ID``."""

    kind: Literal["conflict"] = "conflict"
    schedule_ids: list[str]
    identical: bool  # one of them already has exactly the manifest's body
    stale_schedule_id: str | None = None  # a state entry whose task is gone
    source: str = ""
    # The tasks whose own name is not exactly the manifest's (id -> name): one name as the
    # planner compares names ("promo " beside "promo"), but `import` adopts a task under its own
    # name only, so such a task is renamed in the console first (``adopt_advice``).
    named_otherwise: dict[str, str] = Field(default_factory=dict)
    # The tasks another environment of reconciler.yaml manages on this same app (id -> its
    # name), found from its state file when the plan is shown (``ops.neighbours``); never in a
    # saved plan: `import` and `remote delete` refuse them, so the advice says so instead.
    held_elsewhere: dict[str, str] = Field(default_factory=dict, exclude=True)
    # The tasks reconciler.yaml's ignore rules declare someone else's (id -> the rule), found
    # the same way: `remote delete` refuses them, so the advice leaves them alone.
    declared_others: dict[str, str] = Field(default_factory=dict, exclude=True)

    def adopt_advice(self, sid: str | None = None) -> str:
        """How to adopt task ``sid`` (default: one that can be adopted as it is, if any). With
        more than one task of the name, adopting one leaves the others firing beside it: the
        advice (for the whole conflict, ``sid`` not given) says to delete them too."""
        held = [i for i in self.schedule_ids if i in self.held_elsewhere]
        if held and (sid is None or sid in self.held_elsewhere):
            envs = ", ".join(sorted({repr(self.held_elsewhere[i]) for i in held}))
            return (
                f"task(s) {', '.join(held)} are managed by the environment(s) {envs}, whose "
                "state file is bound to this same app: two environments must not manage one "
                "app's schedules (give each its own AppKey and endpoint), and `import` here "
                "would give the task two managers"
            )
        whole = sid is None
        if sid is None:
            # One that can be adopted as it is, and nobody else's by the ignore rules, first.
            sid = min(
                self.schedule_ids,
                key=lambda i: (i in self.named_otherwise, i in self.declared_others),
            )
        # Quoted: a name may hold a blank ("Spring sale"), which a pasted command would split.
        if sid not in self.named_otherwise:
            advice = f"adopt with {import_command(self.name, sid)}"
        else:
            advice = named_otherwise_advice(self.name, sid, self.named_otherwise[sid])
        others = [i for i in self.schedule_ids if i != sid]
        deletable = [i for i in others if i not in self.declared_others]
        if whole and deletable:
            advice += (
                f"; the other task(s) of the name fire too: check them with `reconciler remote "
                f"show {deletable[0]}` and delete the extra ones with "
                f"{remote_delete_command(*deletable)}"
            )
        declared = [i for i in others if i in self.declared_others]
        if whole and declared:
            rules = ", ".join(sorted({self.declared_others[i] for i in declared}))
            advice += (
                f"; task(s) {', '.join(declared)} of the name are declared someone else's by "
                f"reconciler.yaml ({rules}) and fire too: their owners decide about them"
            )
        return advice


def import_command(name: str, sid: str) -> str:
    """The `reconciler import` of task ``sid`` under ``name``, quoted for a shell (a name may
    hold a blank, "Spring sale", which a pasted line would split)."""
    return f"`reconciler import {shlex.quote(f'{name}={sid}')}`"


def remote_delete_command(*ids: str) -> str:
    """The `reconciler remote delete` of tasks nobody manages (ids are safe words)."""
    return f"`reconciler remote delete {' '.join(ids)}`"


def keep_one_advice(name: str) -> str:
    """How to end two copies of schedule ``name`` that two state files (two checkouts) each
    manage: deleting the other's copy only makes its checkout create it again, so one state lets
    its copy go, deletes it, and takes the other."""
    return (
        f"In the checkout whose copy goes, `reconciler state rm {shlex.quote(name)}`, then "
        "`reconciler remote delete ID` of its copy, then `reconciler import NAME=ID` of the one "
        "kept"
    )


def named_otherwise_advice(name: str, sid: str, task_name: str) -> str:
    """How to adopt task ``sid``, named ``task_name``, for the schedule ``name``: one name as
    the planner compares names, but `import` adopts a task under its own name only. The console
    renames a task it shows; one the API made it does not show, so that one is replaced."""
    return (
        f"task {sid} is named {task_name!r} (other spaces or character forms), and import "
        f"adopts a task under its own name only: rename it to {name!r} in the EngageLab console, "
        f"then {import_command(name, sid)}; a task the console does not show (one made through "
        f"the API) is deleted instead with {remote_delete_command(sid)}, and the next apply "
        "makes the manifest's own"
    )


class UnmanagedAction(_Action):
    """A remote task nobody manages. Apply: nothing, ever."""

    kind: Literal["unmanaged"] = "unmanaged"
    schedule_id: str
    enabled: bool


class SkipAction(_Action):
    """Nothing to create now (disabled, or trigger entirely in the past). Apply: nothing, except
    dropping the state entry when ``forget`` is set (its task is gone, the manifest disabled)."""

    kind: Literal["skip"] = "skip"
    reason: str
    source: str = ""
    forget: bool = False  # drop the state entry (its task is gone and the manifest is disabled)
    schedule_id: str | None = None


Action = Annotated[
    CreateAction
    | UpdateAction
    | ReplaceAction
    | DeleteAction
    | RecreateAction
    | ExpiredAction
    | RefreshAction
    | ConflictAction
    | UnmanagedAction
    | SkipAction,
    Field(discriminator="kind"),
]

# Ordering (docs/design.md): deletes, then updates, then creates, so slots free up under the 1000
# limit before new tasks need them; reports come last.
GROUP: dict[str, int] = {
    "delete": 0, "expired": 0,
    "update": 1, "replace": 1, "refresh": 1,
    "create": 2, "recreate": 2,
    "conflict": 3, "unmanaged": 3, "skip": 3,
}  # fmt: skip


class DriftItem(BaseModel):
    """One thing that differs between git, the state and the server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # policy: the live version of a managed task breaks a push policy git's version does not
    # (docs/policies.md "Drift"); made by the drift command, not from a plan's actions.
    kind: Literal["remote_edit", "remote_delete", "unmanaged", "unapplied", "policy"]
    name: str
    schedule_id: str | None
    detail: str
    changes: list[FieldChange] = Field(default_factory=list)


def drift_of(a: Action) -> list[DriftItem]:
    """What an action means for a drift report (expired, skip and plain refresh mean nothing)."""
    match a:
        case UpdateAction(schedule_id=sid) | ReplaceAction(old_schedule_id=sid):
            out = []
            if a.cause in ("remote", "both"):
                out.append(
                    DriftItem(
                        kind="remote_edit",
                        name=a.name,
                        schedule_id=sid,
                        detail="edited outside the reconciler",
                        changes=a.changes,
                    )
                )
            if a.cause in ("manifest", "both"):
                detail = "manifest changed, not applied"
                if isinstance(a, ReplaceAction):
                    detail += f" ({a.reason}: forces replacement)"
                out.append(
                    DriftItem(
                        kind="unapplied",
                        name=a.name,
                        schedule_id=sid,
                        detail=detail,
                        changes=a.changes,
                    )
                )
            return out
        case RecreateAction():
            return [
                DriftItem(
                    kind="remote_delete",
                    name=a.name,
                    schedule_id=a.old_schedule_id,
                    detail="deleted outside the reconciler; its trigger is still ahead",
                )
            ]
        case SkipAction():
            if not a.forget:
                return []  # nothing to create now: nothing drifted
            return [
                DriftItem(
                    kind="remote_delete",
                    name=a.name,
                    schedule_id=a.schedule_id,
                    detail="deleted outside the reconciler; the manifest is disabled",
                )
            ]
        case UnmanagedAction():
            return [
                DriftItem(
                    kind="unmanaged",
                    name=a.name,
                    schedule_id=a.schedule_id,
                    detail="remote task not managed by the reconciler",
                )
            ]
        case ConflictAction():
            return [
                DriftItem(
                    kind="unmanaged",
                    name=a.name,
                    schedule_id=sid,
                    detail=f"not managed but named like a manifest; {a.adopt_advice(sid)}",
                )
                for sid in a.schedule_ids
            ]
        case CreateAction():
            return [
                DriftItem(
                    kind="unapplied",
                    name=a.name,
                    schedule_id=None,
                    detail="new manifest, not created yet",
                )
            ]
        case DeleteAction():
            return [
                DriftItem(
                    kind="unapplied",
                    name=a.name,
                    schedule_id=a.schedule_id,
                    detail="manifest removed, remote task not deleted yet",
                )
            ]
        case RefreshAction():
            if a.protected == a.old_protected:
                return []  # a fingerprint-only refresh: nothing drifted
            return [
                DriftItem(
                    kind="unapplied",
                    name=a.name,
                    schedule_id=a.schedule_id,
                    detail=f"lifecycle.prevent_destroy changed to {str(a.protected).lower()}",
                )
            ]
        case ExpiredAction():
            return []  # gone and never firing again: nothing to report
        case _:
            assert_never(a)


def retires(a: Action) -> bool:
    """Whether ``a`` is a replace into a disabled manifest: apply deletes its task and makes
    none (the API creates no disabled task), so it counts as a delete for the delete rules."""
    return isinstance(a, ReplaceAction) and a.body.get("enabled") is False


def is_change(a: Action) -> bool:
    """Whether apply writes anything for the action, remotely or in the state file (a conflict,
    an unmanaged task and a plain skip are reports only)."""
    match a:
        case (
            CreateAction()
            | UpdateAction()
            | ReplaceAction()
            | DeleteAction()
            | RecreateAction()
            | ExpiredAction()
            | RefreshAction()
        ):
            return True
        case SkipAction():
            return a.forget
        case ConflictAction() | UnmanagedAction():
            return False
        case _:
            assert_never(a)


def target_id(a: Action) -> str | None:
    """The remote id (or the state entry's id) an action is about; None for a create and for a
    conflict (which names several tasks, none of them managed)."""
    match a:
        case ReplaceAction(old_schedule_id=sid) | RecreateAction(old_schedule_id=sid):
            return sid
        case (
            UpdateAction(schedule_id=sid)
            | DeleteAction(schedule_id=sid)
            | ExpiredAction(schedule_id=sid)
            | RefreshAction(schedule_id=sid)
            | UnmanagedAction(schedule_id=sid)
        ):
            return sid
        case SkipAction():
            return a.schedule_id
        case CreateAction() | ConflictAction():
            return None
        case _:
            assert_never(a)


def action_id(a: Action) -> str:
    """The remote id an action is about ("" for creates)."""
    return target_id(a) or ""


def sort_key(a: Action) -> tuple[int, str, str, str]:
    """Deletes, then updates, then creates, then reports; by name within a group."""
    return (GROUP[a.kind], a.name, a.kind, action_id(a))
