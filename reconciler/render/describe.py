"""What every format says about a plan or a drift report: the marker and verb of each action
kind, the words after an action's name, its field lines, when it fires next, the firings the
plan changes and the summary lines.

``text``, ``machine`` and ``markdown`` lay these out, each for its reader; nothing here knows
about colour, JSON documents or Markdown. Makes no decisions: everything comes from the
:class:`~reconciler.planning.artifact.Plan`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.planning import firing_changes, timing
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
from reconciler.printable import OTHER_BLANKS, UNSEEN_IN_WORDS, json_string, shown_json
from reconciler.redact import REDACTED, output_scrubber

# kind -> (marker, colour, verb)
LOOK: dict[str, tuple[str, str, str]] = {
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
DRIFT_LOOK: dict[str, tuple[str, str, str]] = {
    "remote_edit": ("~", "yellow", "remote edit"),
    "remote_delete": ("-", "red", "remote deletion"),
    "unmanaged": ("?", "cyan", "unmanaged"),
    "unapplied": (">", "magenta", "unapplied"),
    "policy": ("!", "red", "policy"),
}


def value_text(value: Any) -> str:
    """A value as it is shown in a field line: its JSON text, with what a reader could miss
    written as escapes (``printable.shown_json``: an alert changed by a zero-width space reads
    as a change, not as the same text twice)."""
    # What json.dumps gives for a string, a flag or a whole number, at a tenth of the cost: a
    # plan of 1000 creates shows 15 000 of them.
    kind = type(value)
    if kind is str:
        return json_string(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return shown_json(json.dumps(value, ensure_ascii=False, sort_keys=True))


def change_texts(old: Any, new: Any) -> tuple[str, str]:
    """The two sides of a changed field as ``value_text`` shows them, or, when they would read
    the same (texts that differ only in their blanks, such as a no-break or an ideographic
    space for a space, or in a character that shows nothing: ``_look``), each with every
    character beyond ASCII written as an escape: a change must never read as no change."""
    old_text, new_text = value_text(old), value_text(new)
    if old_text != new_text and _look(old_text) == _look(new_text):
        return _all_escaped(old, old_text), _all_escaped(new, new_text)
    return old_text, new_text


def _look(text: str) -> str:
    """What a reader sees of a field's JSON text: every blank a space, and what shows nothing
    left out. Not Unicode's other compatibility forms: a full-width comma for a comma is an
    edit a reader can see, and Chinese text escaped whole could no longer be read."""
    if text.isascii():
        return text
    return UNSEEN_IN_WORDS.sub("", OTHER_BLANKS.sub(" ", text))


def _all_escaped(value: Any, text: str) -> str:
    return text if text.isascii() else json.dumps(value, ensure_ascii=True, sort_keys=True)


def change_lines(change: FieldChange) -> tuple[str, str]:
    """(marker, text) of one field change; ``None`` on a side means absent."""
    if change.old is None:
        return "+", f"{change.path}: {value_text(change.new)}"
    if change.new is None:
        return "-", f"{change.path}: {value_text(change.old)}"
    old, new = change_texts(change.old, change.new)
    line = f"{change.path}: {old} -> {new}"
    scrub = output_scrubber()
    shown_old, shown_new = scrub(old), scrub(new)
    if shown_old == shown_new and (shown_old != old or shown_new != new):
        # Both sides lose the part that differs to the output's redaction: without a word the
        # line would read as no change at all.
        line += f"  (the values differ in a part shown as {REDACTED})"
    return "~", line


def leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every leaf of a body as (path, value); lists of scalars stay whole, like in diffs."""
    # The path is extended on the way down (format_path of the parts, one part at a time): a
    # plan of 1000 creates shows some 17 000 leaves, on a few dozen distinct paths.
    if isinstance(node, dict):
        out: list[tuple[str, Any]] = []
        for key in sorted(node):
            out.extend(leaves(node[key], _child_path(path, key)))
        return out
    if isinstance(node, list) and any(isinstance(v, _CONTAINERS) for v in node):
        out = []
        for i, item in enumerate(node):
            out.extend(leaves(item, _child_path(path, i)))
        return out
    return [(path, node)]


_CONTAINERS = (dict, list)
# Bounded: the keys of ``extras`` and ``custom_args`` are the user's, as many as they like.
_child_path = lru_cache(maxsize=4096)(extend_path)


def about_action(a: Action) -> str:
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
            # A state entry may point at a task of another name (an edited state file): the
            # reviewer sees which task goes, not only the entry's name.
            live = a.old_body.get("name")
            named = (
                f"; the task is named {live!r}" if isinstance(live, str) and live != a.name else ""
            )
            return f"id {a.schedule_id}; manifest removed{named}"
        case ExpiredAction():
            return f"id {a.schedule_id}; {a.reason}; forgotten from state"
        case RefreshAction():
            return f"id {a.schedule_id}; {a.reason}; state only, no API call"
        case ConflictAction():
            same = "; identical body" if a.identical else ""
            return (
                f"remote id {', '.join(a.schedule_ids)} has this name but is not managed{same}; "
                f"{a.adopt_advice()}"
            )
        case UnmanagedAction():
            state = "enabled" if a.enabled else "disabled"
            return f"id {a.schedule_id}, {state}; not managed, left alone"
        case SkipAction():
            return a.reason + ("; forgotten from state" if a.forget else "")
        case _:
            assert_never(a)


def _cause_text(cause: str) -> str:
    return {"manifest": "the manifest", "remote": "the remote task", "both": "both"}[cause]


def detail_lines(a: Action) -> list[tuple[str, str]]:
    """(marker, text) lines under an action: field diffs, or the fields of a new schedule."""
    match a:
        case UpdateAction() | ReplaceAction():
            return [change_lines(c) for c in a.changes]
        case CreateAction() | RecreateAction():
            return [("+", f"{path}: {value_text(v)}") for path, v in leaves(a.body)]
        case RefreshAction():
            if a.protected == a.old_protected:
                return []
            old, new = str(a.old_protected).lower(), str(a.protected).lower()
            return [("~", f"lifecycle.prevent_destroy: {old} -> {new}")]
        case DeleteAction() | ExpiredAction() | ConflictAction() | UnmanagedAction() | SkipAction():
            return []
        case _:
            assert_never(a)


def fire_line(a: Action, plan: Plan) -> tuple[str, str] | None:
    """When the schedule fires next, in the plan's time zone (a span for zone_type 2).

    Changed and deleted schedules: their remote task (what the fire guard watches); new ones:
    the body being created.
    """
    tz = plan_zone(plan.timezone)
    span: tuple[datetime, datetime] | None = None
    try:
        match a:
            case UpdateAction() | ReplaceAction() | DeleteAction():
                if a.fires_at:
                    start = datetime.fromisoformat(a.fires_at)
                    late = _remote_zone_type(a) == 2
                    span = (start, start + timedelta(hours=26) if late else start)
            case CreateAction() | RecreateAction():
                if timing.is_immediate(a.body):
                    # "fires next at <now>" read as any create's; it is sent as it is made,
                    # and a copy of one sent before (a rename without previous_names, a lost
                    # state file) goes out again.
                    return ("#", 'sends AT ONCE when created (backup_time: "now")')
                now = datetime.fromisoformat(plan.planned_at)
                span = timing.next_fire_span(a.body, now, tz)
            case (
                ExpiredAction()
                | RefreshAction()
                | ConflictAction()
                | UnmanagedAction()
                | SkipAction()
            ):
                pass  # nothing fires that this action changes or creates
            case _:
                assert_never(a)
        if span is None:
            return None
        first, last = (_local(t, tz) for t in span)
    except (ValueError, KeyError, TypeError, OverflowError):
        # OverflowError: a firing at the end of the calendar shown in a zone ahead of UTC.
        return None
    if first == last:
        return ("#", f"fires next at {first}")
    return ("#", f"fires next between {first} and {last} (zone_type 2: each device's own time)")


def plan_zone(name: str) -> tzinfo:
    """The plan's time zone by name (UTC for a name this machine does not know)."""
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


def summary_line(plan: Plan) -> str:
    """The terraform-style summary line; recreates count as creates."""
    c = plan.counts()
    return (
        f"Plan: {c['create'] + c['recreate']} to create, {c['update']} to update, "
        f"{c['replace']} to replace, {c['delete']} to delete."
    )


def firing_rows(plan: Plan) -> list[firing_changes.FiringChange]:
    """The firings in the next 7 days the plan changes (none for a plan without a clock)."""
    try:
        return firing_changes.changes(plan, plan_zone(plan.timezone))
    except (ValueError, OverflowError):  # planned_at not a date-time, or at the calendar's end
        return []


def drift_counts(items: list[DriftItem]) -> dict[str, int]:
    """Drift items per kind, every kind present (0 when none)."""
    out = {k: 0 for k in DRIFT_LOOK}
    for item in items:
        out[item.kind] += 1
    return out


def drift_summary_line(items: list[DriftItem]) -> str:
    """The one-line summary of a drift report."""
    if not items:
        return "No drift."
    c = drift_counts(items)
    policy = f", {c['policy']} policy violation(s)" if c["policy"] else ""
    return (
        f"Drift: {c['remote_edit']} remote edit(s), {c['remote_delete']} remote deletion(s), "
        f"{c['unmanaged']} unmanaged, {c['unapplied']} unapplied manifest change(s){policy}."
    )


TWINS_TITLE = (
    "Live more than once (each copy fires; check them with `reconciler remote show ID`, delete "
    "the extra ones with `reconciler remote delete ID`):"
)


def twin_lines(plan: Plan) -> list[str]:
    """One line per managed schedule that unmanaged tasks of its name copy (``Plan.twins``)."""
    return [
        f"{name}: remote task(s) {', '.join(ids)} carry its name too and are not managed"
        for name, ids in sorted(plan.twins.items())
    ]
