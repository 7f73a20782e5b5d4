"""Plans and drift reports as text (terminal), JSON (machines) and Markdown (PR comments).

Makes no decisions: everything shown comes from the :class:`~reconciler.planning.artifact.Plan`.
Colour is the caller's choice (:func:`use_color` answers it from the stream and ``NO_COLOR``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TextIO, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.formats import JSON_OUTPUT_VERSION
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
from reconciler.planning.diff import FieldChange, extend_path

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

# kind -> (marker, colour, verb)
_LOOK: dict[str, tuple[str, str, str]] = {
    "create": ("+", "green", "create"),
    "recreate": ("+", "green", "recreate"),
    "update": ("~", "yellow", "update"),
    "refresh": ("~", "cyan", "refresh state"),
    "replace": ("-/+", "magenta", "replace"),
    "delete": ("-", "red", "delete"),
    "expired": ("#", "dim", "forget (expired)"),
    "conflict": ("!", "red", "conflict"),
    "unmanaged": ("?", "dim", "unmanaged"),
    "skip": (".", "dim", "skip"),
}
_DRIFT_LOOK: dict[str, tuple[str, str, str]] = {
    "remote_edit": ("~", "yellow", "remote edit"),
    "remote_delete": ("-", "red", "remote deletion"),
    "unmanaged": ("?", "cyan", "unmanaged"),
    "unapplied": (">", "magenta", "unapplied"),
    "policy": ("!", "red", "policy"),
}


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


def _value(value: Any) -> str:
    if type(value) is str:
        # What json.dumps gives for a string, at a tenth of the cost (most values are strings).
        return _json_string(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


_json_string = json.encoder.encode_basestring


def _change_lines(change: FieldChange) -> tuple[str, str]:
    """(marker, text) of one field change; ``None`` on a side means absent."""
    if change.old is None:
        return "+", f"{change.path}: {_value(change.new)}"
    if change.new is None:
        return "-", f"{change.path}: {_value(change.old)}"
    return "~", f"{change.path}: {_value(change.old)} -> {_value(change.new)}"


def _leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every leaf of a body as (path, value); lists of scalars stay whole, like in diffs."""
    # The path is extended on the way down (format_path of the parts, one part at a time): a
    # plan of 1000 creates shows some 17 000 leaves.
    if isinstance(node, dict):
        out: list[tuple[str, Any]] = []
        for key in sorted(node):
            out.extend(_leaves(node[key], extend_path(path, key)))
        return out
    if isinstance(node, list) and any(isinstance(v, _CONTAINERS) for v in node):
        out = []
        for i, item in enumerate(node):
            out.extend(_leaves(item, extend_path(path, i)))
        return out
    return [(path, node)]


_CONTAINERS = (dict, list)


def _about(a: Action) -> str:
    """What to say about an action after its name (may be empty)."""
    match a:
        case CreateAction():
            return a.source
        case RecreateAction():
            return f"deleted outside the reconciler; was id {a.old_schedule_id}"
        case UpdateAction():
            return f"id {a.schedule_id}; changed in {_cause_text(a.cause)}"
        case ReplaceAction():
            return f"id {a.old_schedule_id}; {a.reason}: forces replacement"
        case DeleteAction():
            return f"id {a.schedule_id}; manifest removed"
        case ExpiredAction():
            return f"id {a.schedule_id}; {a.reason}; forgotten from state"
        case RefreshAction():
            return f"id {a.schedule_id}; {a.reason}; state only, no API call"
        case ConflictAction():
            same = "; identical body" if a.identical else ""
            return (
                f"remote id {', '.join(a.schedule_ids)} has this name but is not managed{same}; "
                f"adopt with `reconciler import {a.name}={a.schedule_ids[0]}`"
            )
        case UnmanagedAction():
            state = "enabled" if a.enabled else "disabled"
            return f"id {a.schedule_id}, {state}; not managed, left alone"
        case SkipAction():
            return a.reason + ("; forgotten from state" if a.forget else "")
        case _:
            assert_never(a)


def _rename_about() -> str:
    return "lifecycle.previous_names; the state entry follows, the task is kept"


def _headline(a: Action) -> str:
    about = _about(a)
    return f"{a.name}  ({about})" if about else a.name


def _cause_text(cause: str) -> str:
    return {"manifest": "the manifest", "remote": "the remote task", "both": "both"}[cause]


def _detail_lines(a: Action) -> list[tuple[str, str]]:
    """(marker, text) lines under an action: field diffs, or the fields of a new schedule."""
    match a:
        case UpdateAction() | ReplaceAction():
            return [_change_lines(c) for c in a.changes]
        case CreateAction() | RecreateAction():
            return [("+", f"{path}: {_value(v)}") for path, v in _leaves(a.body)]
        case RefreshAction():
            if a.protected == a.old_protected:
                return []
            old, new = str(a.old_protected).lower(), str(a.protected).lower()
            return [("~", f"lifecycle.prevent_destroy: {old} -> {new}")]
        case DeleteAction() | ExpiredAction() | ConflictAction() | UnmanagedAction() | SkipAction():
            return []
        case _:
            assert_never(a)


def _fire_line(a: Action, plan: Plan) -> tuple[str, str] | None:
    """When the schedule fires next, in the plan's time zone (a span for zone_type 2).

    Changed and deleted schedules: their remote task (what the fire guard watches); new ones:
    the body being created.
    """
    from reconciler.planning import timing

    tz = _zone(plan.timezone)
    span: tuple[datetime, datetime] | None = None
    try:
        match a:
            case UpdateAction() | ReplaceAction() | DeleteAction():
                if a.fires_at:
                    start = datetime.fromisoformat(a.fires_at)
                    late = _remote_zone_type(a) == 2
                    span = (start, start + timedelta(hours=26) if late else start)
            case CreateAction() | RecreateAction():
                now = datetime.fromisoformat(plan.planned_at)
                span = timing.next_fire_span(a.body, now, tz)
            case (
                ExpiredAction() | RefreshAction() | ConflictAction() | UnmanagedAction()
                | SkipAction()
            ):
                pass  # nothing fires that this action changes or creates
            case _:
                assert_never(a)
    except (ValueError, KeyError, TypeError):
        return None
    if span is None:
        return None
    first, last = (_local(t, tz) for t in span)
    if first == last:
        return ("#", f"fires next at {first}")
    return ("#", f"fires next between {first} and {last} (zone_type 2: each device's own time)")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _remote_zone_type(a: UpdateAction | ReplaceAction | DeleteAction) -> object:
    """zone_type of the remote task an action changes (an update cannot change it)."""
    if isinstance(a, DeleteAction):
        body = a.old_body
    else:
        for c in a.changes:
            if c.path.endswith(".zone_type"):
                return c.old
        body = a.body
    trigger = body.get("trigger")
    spec: object = next(iter(trigger.values()), None) if isinstance(trigger, dict) else None
    return spec.get("zone_type") if isinstance(spec, dict) else None


_MARK_STYLE = {"+": "green", "-": "red", "~": "yellow", "#": "dim"}


def summary_line(plan: Plan) -> str:
    """The terraform-style summary line; recreates count as creates."""
    c = plan.counts()
    return (
        f"Plan: {c['create'] + c['recreate']} to create, {c['update']} to update, "
        f"{c['replace']} to replace, {c['delete']} to delete."
    )


def in_sync_count(plan: Plan) -> int:
    """Managed schedules the plan leaves alone: state entries without an action line."""
    touched = {a.name for a in plan.actions if _names_an_entry(a)}
    return max(0, plan.managed - len(touched))


def _names_an_entry(a: Action) -> bool:
    """Whether an action line stands for a state entry (so it is not counted as in sync)."""
    match a:
        case (
            UpdateAction() | ReplaceAction() | DeleteAction() | RecreateAction() | ExpiredAction()
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
        marker, style, verb = _LOOK[a.kind]
        out.append(f"{_paint(f'{marker:>3} {verb}', style, color)} {_headline(a)}")
        fires = _fire_line(a, plan)
        for mark, text in [*_detail_lines(a), *([fires] if fires else [])]:
            out.append(f"      {_paint(mark, _MARK_STYLE[mark], color)} {text}")
    if not plan.actions and not plan.renames:
        synced = in_sync_count(plan)
        out.append(
            f"  (all {synced} managed schedule(s) in sync)" if synced else "  (no schedules)"
        )
    out += _list_block("Warnings:", plan.warnings, "yellow", color)
    out += _list_block(
        "Safety violations (apply will refuse this plan):", plan.violations, "red", color
    )
    out.append("")
    next_days = firing_changes.summary(_firing_rows(plan))
    if next_days:
        out += [next_days, ""]
    if not plan.has_changes:
        if plan.of_kind("conflict"):
            # A conflict is not a change apply can make, but the app does not match either.
            out.append("No changes to apply; resolve the conflicts above with `reconciler import`.")
        else:
            out.append("No changes. The remote schedules match the manifests.")
    out.append(_paint(summary_line(plan), "bold", color))
    extra = _extra_counts(plan)
    if extra:
        out.append(extra)
    return "\n".join(out) + "\n"


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_json(plan: Plan) -> str:
    """The plan for machines: ``{"format_version": 1, "type": "plan", "summary": ..., ...}``."""
    data = plan.model_dump(mode="json")
    if not data["policy_exceptions"]:
        del data["policy_exceptions"]  # shown only when there are some, as before the field
    data.update(
        format_version=JSON_OUTPUT_VERSION,
        type="plan",
        summary=plan.counts(),
        has_changes=plan.has_changes,
        safe=plan.is_safe,
        firings_next_7_days=firing_changes.as_json(_firing_rows(plan), _zone(plan.timezone)),
    )
    return _dump(data)


def _firing_rows(plan: Plan) -> list[firing_changes.FiringChange]:
    """The firings in the next 7 days the plan changes (none for a plan without a clock)."""
    try:
        return firing_changes.changes(plan, _zone(plan.timezone))
    except ValueError:  # planned_at not a date-time: a plan file from elsewhere
        return []


def _fence(body: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{body}\n{ticks}"


def _md_diff_lines(a: Action, plan: Plan) -> list[str]:
    lines: list[str] = []
    changes = a.changes if isinstance(a, UpdateAction | ReplaceAction) else []
    for c in changes:
        if c.old is not None:
            lines.append(f"- {c.path}: {_value(c.old)}")
        if c.new is not None:
            lines.append(f"+ {c.path}: {_value(c.new)}")
    if not changes:
        for mark, text in _detail_lines(a):
            lines.append(f"{'!' if mark == '~' else mark} {text}")
    if isinstance(a, DeleteAction):
        lines += [f"- {path}: {_value(v)}" for path, v in _leaves(a.old_body)]
    fires = _fire_line(a, plan)
    if fires:
        lines.append(f"# {fires[1]}")
    return lines


def _md_counts_table(headers: list[str], values: list[int]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---:|" * len(headers),
        "| " + " | ".join(str(v) for v in values) + " |",
    ]


def _md_list(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return ["", f"**{title}**", "", *(f"- {html.escape(item, quote=False)}" for item in items)]


def _md_details(summary: str, body_lines: list[str]) -> list[str]:
    out = ["", "<details>", f"<summary>{summary}</summary>", ""]
    if body_lines:
        out += [_fence("\n".join(body_lines), "diff"), ""]
    out.append("</details>")
    return out


def render_markdown(plan: Plan, title: str, *, env: str = "default") -> str:
    """A PR comment: hidden marker line first, counts table, one <details> per schedule."""
    c = plan.counts()
    out = [f"<!-- reconciler-plan:{env} -->", f"### {html.escape(title, quote=False)}", ""]
    headers = ["create", "update", "replace", "delete", "expired", "conflict", "unmanaged", "skip"]
    values = [c["create"] + c["recreate"], c["update"] + c["refresh"], *(c[h] for h in headers[2:])]
    out += _md_counts_table(headers, values)
    out += ["", summary_line(plan) if plan.has_changes else "No changes."]
    out += _md_list("Safety violations — apply will refuse this plan:", plan.violations)
    out += _md_list("Warnings:", plan.warnings)
    out += _md_list(
        "Renames (the task is kept; its state entry follows the manifest):",
        [f"`{old}` → `{new}`" for new, old in sorted(plan.renames.items())],
    )
    # Before the schedules' details: a comment too long for GitHub keeps its beginning.
    tz = _zone(plan.timezone)
    rows = _firing_rows(plan)
    if rows:
        out += firing_changes.markdown(rows, tz, firing_changes.window(plan)[0])
    for a in plan.actions:
        marker, _, verb = _LOOK[a.kind]
        about = _about(a)
        summary = f"<code>{html.escape(marker)}</code> {verb} <b>{html.escape(a.name)}</b>" + (
            f" — {html.escape(about)}" if about else ""
        )
        out += _md_details(summary, _md_diff_lines(a, plan))
    out.append("")
    out.append(f"<sub>planned at {plan.planned_at} · checksum <code>{plan.checksum}</code></sub>")
    return "\n".join(out) + "\n"


# -- drift --------------------------------------------------------------------------------------


def _drift_counts(items: list[DriftItem]) -> dict[str, int]:
    out = {k: 0 for k in _DRIFT_LOOK}
    for item in items:
        out[item.kind] += 1
    return out


def drift_summary_line(items: list[DriftItem]) -> str:
    if not items:
        return "No drift."
    c = _drift_counts(items)
    policy = f", {c['policy']} policy violation(s)" if c["policy"] else ""
    return (
        f"Drift: {c['remote_edit']} remote edit(s), {c['remote_delete']} remote deletion(s), "
        f"{c['unmanaged']} unmanaged, {c['unapplied']} unapplied manifest change(s){policy}."
    )


def _drift_head(item: DriftItem) -> str:
    where = f" (id {item.schedule_id})" if item.schedule_id else ""
    return f"{item.name}{where}: {item.detail}"


def render_drift_text(plan: Plan, color: bool, extra: Sequence[DriftItem] = ()) -> str:
    """Drift report for a terminal: one line per item, field diffs under remote edits.

    ``extra``: drift found beside the plan (policy violations of live tasks)."""
    items = [*plan.drift_items(), *extra]
    out = [f"Drift report at {plan.planned_at} (time zone {plan.timezone})", ""]
    for item in items:
        marker, style, verb = _DRIFT_LOOK[item.kind]
        out.append(f"{_paint(f'{marker:>3} {verb}', style, color)} {_drift_head(item)}")
        for change in item.changes:
            mark, text = _change_lines(change)
            out.append(f"      {_paint(mark, _MARK_STYLE[mark], color)} {text}")
    out += _list_block("Warnings:", plan.warnings, "yellow", color)
    out += ["", _paint(drift_summary_line(items), "bold", color)]
    return "\n".join(out) + "\n"


def render_drift_json(plan: Plan, extra: Sequence[DriftItem] = ()) -> str:
    """Drift for machines: ``{"format_version": 1, "type": "drift", "items": [...], ...}``."""
    items = [*plan.drift_items(), *extra]
    return _dump(
        {
            "format_version": JSON_OUTPUT_VERSION,
            "type": "drift",
            "checked_at": plan.planned_at,
            "timezone": plan.timezone,
            "has_drift": bool(items),
            "summary": _drift_counts(items),
            "items": [i.model_dump(mode="json") for i in items],
            "warnings": plan.warnings,
            "inputs": plan.inputs.model_dump(mode="json"),
        }
    )


def render_drift_markdown(
    plan: Plan, title: str, *, env: str = "default", extra: Sequence[DriftItem] = ()
) -> str:
    """Drift as Markdown: hidden marker line first, counts table, one <details> per item."""
    items = [*plan.drift_items(), *extra]
    c = _drift_counts(items)
    out = [f"<!-- reconciler-drift:{env} -->", f"### {html.escape(title, quote=False)}", ""]
    headers = ["remote edits", "remote deletions", "unmanaged", "unapplied"]
    values = [c["remote_edit"], c["remote_delete"], c["unmanaged"], c["unapplied"]]
    if c["policy"]:  # the column only when there is one: reports without policies keep theirs
        headers.append("policy violations")
        values.append(c["policy"])
    out += _md_counts_table(headers, values)
    out += ["", drift_summary_line(items)]
    out += _md_list("Warnings:", plan.warnings)
    for item in items:
        marker, _, verb = _DRIFT_LOOK[item.kind]
        summary = (
            f"<code>{html.escape(marker)}</code> {verb} <b>{html.escape(item.name)}</b> "
            f"— {html.escape(item.detail)}"
        )
        lines: list[str] = []
        for ch in item.changes:
            if ch.old is not None:
                lines.append(f"- {ch.path}: {_value(ch.old)}")
            if ch.new is not None:
                lines.append(f"+ {ch.path}: {_value(ch.new)}")
        out += _md_details(summary, lines)
    out += ["", f"<sub>checked at {plan.planned_at}</sub>"]
    return "\n".join(out) + "\n"
