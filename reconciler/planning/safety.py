"""The safety rules of docs/design.md, checked on a plan's actions before any call, all together.

Pure: every figure comes in as a parameter. Each message says what is wrong, for which schedules,
and what to do (which override flag, or which other step).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import assert_never

from pydantic import BaseModel, ConfigDict, Field

from reconciler.limits import DEFAULT_MASS_DELETE_MIN_MANAGED, MAX_FIRE_GUARD_MINUTES
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
    retires,
)
from reconciler.remote.observed import Inventory
from reconciler.settings import FIRE_GUARD, MASS_DELETE_RATIO, MAX_ACTIVE


class PlanOptions(BaseModel):
    """Thresholds and overrides of the safety rules (docs/design.md "Safety rules").

    Bounded as the settings they come from are (a saved plan's options are read back from the
    file): a ratio of NaN, a negative guard or a minimum no setting can change would turn a
    rule off while the file still shows ``allow_mass_delete: false`` to its reviewer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_deletes: int | None = Field(default=None, ge=0)
    allow_mass_delete: bool = False
    fire_guard_minutes: int = Field(default=FIRE_GUARD.default, ge=0, le=MAX_FIRE_GUARD_MINUTES)
    force: bool = False
    max_active: int = Field(default=MAX_ACTIVE.default, ge=1)
    mass_delete_ratio: float = Field(default=MASS_DELETE_RATIO.default, gt=0, le=1)
    # No setting changes it: a plan holding another value was edited.
    mass_delete_min_managed: int = Field(
        default=DEFAULT_MASS_DELETE_MIN_MANAGED,
        ge=DEFAULT_MASS_DELETE_MIN_MANAGED,
        le=DEFAULT_MASS_DELETE_MIN_MANAGED,
    )


def _rests_on_absence(a: Action) -> bool:
    """Whether an action is only right if the read saw every task: it creates (a task of the
    same name the read missed would make it a second one), deletes, or forgets a vanished one."""
    match a:
        case CreateAction() | ReplaceAction() | DeleteAction() | RecreateAction() | ExpiredAction():
            return True
        case SkipAction():
            return a.forget
        case UpdateAction() | RefreshAction() | ConflictAction() | UnmanagedAction():
            return False
        case _:
            assert_never(a)


def _names(actions: Sequence[Action]) -> str:
    return ", ".join(repr(a.name) for a in actions)


def violations(
    actions: Sequence[Action],
    inventory: Inventory,
    managed: int,
    desired_count: int,
    active_before: int,
    now: datetime,
    options: PlanOptions,
) -> list[str]:
    """Every safety rule of docs/design.md the plan breaks, in a fixed rule order."""
    out: list[str] = []
    deletes = [a for a in actions if isinstance(a, DeleteAction) or retires(a)]

    if not inventory.complete:
        # A create too: a task of the same name the read missed would make it a second one.
        blocked = [a for a in actions if _rests_on_absence(a)]
        if blocked:
            problems = "; ".join(inventory.problems) or "the list did not add up"
            out.append(
                f"incomplete inventory ({problems}): creating, replacing, deleting or "
                f"forgetting {_names(blocked)} is not allowed on a partial read (a task the "
                "read missed could be deleted by mistake or duplicated). Re-run when the API "
                "answers completely."
            )

    if desired_count == 0 and deletes:
        out.append(
            f"the manifest set is empty: refusing to delete all {len(deletes)} managed "
            f"schedule(s) ({_names(deletes)}); an empty or mistyped manifest directory looks "
            "exactly like this. Keep at least one manifest, or stop managing them with "
            "`reconciler state rm NAME`."
        )

    if not options.allow_mass_delete:
        ratio = options.mass_delete_ratio
        if managed >= options.mass_delete_min_managed and len(deletes) > ratio * managed:
            out.append(
                f"mass delete: {len(deletes)} of {managed} managed schedules would be deleted "
                f"(more than {ratio:.0%}): {_names(deletes)}. Re-run with --allow-mass-delete "
                "if this is intended."
            )
        if options.max_deletes is not None and len(deletes) > options.max_deletes:
            out.append(
                f"too many deletes: {len(deletes)} exceed --max-deletes {options.max_deletes}: "
                f"{_names(deletes)}. Re-run with --allow-mass-delete if this is intended."
            )

    # Protection of a delete comes from state (the manifest is gone); of a replace from the
    # manifest, which is present and authoritative (as with terraform's prevent_destroy).
    for a in actions:
        match a:
            case DeleteAction(protected=True):
                out.append(
                    f"{a.name!r} has lifecycle.prevent_destroy (remembered in state) and would be "
                    "deleted. To delete it, first apply its manifest with `prevent_destroy: "
                    "false`; to stop managing it without deleting, use "
                    f"`reconciler state rm {shlex.quote(a.name)}`."
                )
            case ReplaceAction(protected=True):
                out.append(
                    f"{a.name!r} has lifecycle.prevent_destroy and would be replaced (deleted and "
                    f"re-created: {a.reason}). Set `prevent_destroy: false` in its manifest to "
                    "allow it."
                )
            case (
                DeleteAction()
                | ReplaceAction()
                | CreateAction()
                | UpdateAction()
                | RecreateAction()
                | ExpiredAction()
                | RefreshAction()
                | ConflictAction()
                | UnmanagedAction()
                | SkipAction()
            ):
                pass  # destroys no protected task
            case _:
                assert_never(a)

    creates = sum(1 for a in actions if a.kind in ("create", "recreate"))
    replaces = sum(1 for a in actions if a.kind == "replace")
    # replace creates before it deletes; apply may run replacements concurrently, so the peak
    # counts every replacement's new task next to its old one.
    peak = max(active_before - len(deletes) + replaces, active_before - len(deletes) + creates)
    if creates + replaces and peak > options.max_active:
        unmanaged = sum(1 for a in actions if a.kind in ("unmanaged", "conflict"))
        out.append(
            f"active limit: apply would need {peak} active schedules at its peak (limit "
            f"{options.max_active}, docs/api.md 2.4; {active_before} active now, {unmanaged} of "
            "them not managed). Delete some schedules first."
        )

    out.extend(fire_guard_violations(actions, now, options))
    return out


def fire_guard_violations(
    actions: Sequence[Action], now: datetime, options: PlanOptions
) -> list[str]:
    """Changes to tasks that fire within the guard (by the next firing each action recorded)."""
    if options.force:
        return []
    out: list[str] = []
    guard = options.fire_guard_minutes
    for a in actions:
        if isinstance(a, UpdateAction | ReplaceAction | DeleteAction) and a.fires_at:
            fires = datetime.fromisoformat(a.fires_at)
            minutes = (fires - now).total_seconds() / 60
            if minutes <= guard:
                out.append(
                    f"{a.name!r} fires at {a.fires_at} (in {max(minutes, 0):.1f} min, within "
                    f"--fire-guard {guard:g}): {_article(a.kind)} {a.kind} now races the push. "
                    "Re-run with --force, or wait until it has fired."
                )
    return out


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
