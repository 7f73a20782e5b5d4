"""Plans and drift reports for a terminal: terraform-like markers (``+ ~ - -/+``), field diffs,
warnings and violations, and the summary line.

Colour is the caller's choice (:func:`use_color` answers it from the stream and ``NO_COLOR``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO, assert_never

from reconciler.planning import firing_changes
from reconciler.planning.actions import (
    Action,
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
)
from reconciler.planning.artifact import Plan
from reconciler.render.describe import (
    DRIFT_LOOK,
    LOOK,
    TWINS_TITLE,
    about_action,
    change_lines,
    detail_lines,
    drift_summary_line,
    fire_line,
    firing_rows,
    summary_line,
    twin_lines,
)

_RESET = "\033[0m"
_STYLES = {
    "green": "\033[32m",
    "yellow": "\033[33m",
    "red": "\033[31m",
    "magenta": "\033[35m",
    "cyan": "\033[36m",
    "dim": "\033[2m",
    "bold": "\033[1m",
}
_MARK_STYLE = {"+": "green", "-": "red", "~": "yellow", "#": "dim"}


def use_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a terminal, and never when ``NO_COLOR`` is set non-empty (no-color.org)."""
    if environ.get("NO_COLOR", ""):
        return False
    if environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLES[style]}{text}{_RESET}" if color else text


def _rename_about() -> str:
    return "lifecycle.previous_names; the state entry follows, the task is kept"


def _headline(a: Action) -> str:
    about = about_action(a)
    return f"{a.name}  ({about})" if about else a.name


def in_sync_count(plan: Plan) -> int:
    """Managed schedules the plan leaves alone: state entries without an action line."""
    touched = {a.name for a in plan.actions if _names_an_entry(a)}
    return max(0, plan.managed - len(touched))


def _names_an_entry(a: Action) -> bool:
    """Whether an action line stands for a state entry (so it is not counted as in sync)."""
    match a:
        case (
            UpdateAction()
            | ReplaceAction()
            | DeleteAction()
            | RecreateAction()
            | ExpiredAction()
            | RefreshAction()
        ):
            return True
        case SkipAction():
            return a.schedule_id is not None
        case ConflictAction():
            return a.stale_schedule_id is not None
        case CreateAction() | UnmanagedAction():
            return False
        case _:
            assert_never(a)


def _extra_counts(plan: Plan) -> str | None:
    c = plan.counts()
    parts = [
        (c["expired"], "expired (forgotten from state)"),
        (c["refresh"], "state refresh(es)"),
        (c["conflict"], "conflict(s)"),
        (c["unmanaged"], "unmanaged"),
        (c["skip"], "skipped"),
    ]
    shown = [f"{n} {what}" for n, what in parts if n]
    if plan.renames:
        shown.insert(0, f"{len(plan.renames)} renamed")
    return "Also: " + ", ".join(shown) + "." if shown else None


def _list_block(title: str, items: list[str], style: str, color: bool) -> list[str]:
    if not items:
        return []
    return ["", _paint(title, style, color), *(f"  - {item}" for item in items)]


def render_text(plan: Plan, color: bool) -> str:
    """Terraform-like text: markers ``+ ~ - -/+``, field diffs, violations, summary line."""
    out = [f"Reconciler plan at {plan.planned_at} (time zone {plan.timezone})", ""]
    for new, old in sorted(plan.renames.items()):
        out.append(f"{_paint('  ~ rename', 'yellow', color)} {old} -> {new}  ({_rename_about()})")
    for a in plan.actions:
        marker, style, verb = LOOK[a.kind]
        out.append(f"{_paint(f'{marker:>3} {verb}', style, color)} {_headline(a)}")
        fires = fire_line(a, plan)
        for mark, text in [*detail_lines(a), *([fires] if fires else [])]:
            out.append(f"      {_paint(mark, _MARK_STYLE[mark], color)} {text}")
    if not plan.actions and not plan.renames:
        synced = in_sync_count(plan)
        out.append(
            f"  (all {synced} managed schedule(s) in sync)" if synced else "  (no schedules)"
        )
    out += _list_block(TWINS_TITLE, twin_lines(plan), "red", color)
    out += _list_block("Warnings:", plan.warnings, "yellow", color)
    out += _list_block(
        "Safety violations (apply will refuse this plan):", plan.violations, "red", color
    )
    out.append("")
    next_days = firing_changes.summary(firing_rows(plan))
    if next_days:
        out += [next_days, ""]
    if not plan.has_changes:
        if plan.of_kind("conflict"):
            # A conflict is not a change apply can make, but the app does not match either.
            out.append("No changes to apply; resolve the conflicts above as each one says.")
        elif plan.twins:
            out.append("No changes to apply, but a schedule is live more than once (see above).")
        else:
            out.append("No changes. The remote schedules match the manifests.")
    out.append(_paint(summary_line(plan), "bold", color))
    extra = _extra_counts(plan)
    if extra:
        out.append(extra)
    return "\n".join(out) + "\n"


def _drift_head(item: DriftItem) -> str:
    where = f" (id {item.schedule_id})" if item.schedule_id else ""
    return f"{item.name}{where}: {item.detail}"


def render_drift_text(plan: Plan, color: bool, extra: Sequence[DriftItem] = ()) -> str:
    """Drift report for a terminal: one line per item, field diffs under remote edits.

    ``extra``: drift found beside the plan (policy violations of live tasks)."""
    items = [*plan.drift_items(), *extra]
    out = [f"Drift report at {plan.planned_at} (time zone {plan.timezone})", ""]
    for item in items:
        marker, style, verb = DRIFT_LOOK[item.kind]
        out.append(f"{_paint(f'{marker:>3} {verb}', style, color)} {_drift_head(item)}")
        for change in item.changes:
            mark, text = change_lines(change)
            out.append(f"      {_paint(mark, _MARK_STYLE[mark], color)} {text}")
    out += _list_block("Warnings:", plan.warnings, "yellow", color)
    out += ["", _paint(drift_summary_line(items), "bold", color)]
    return "\n".join(out) + "\n"
