"""What fires in the next days that a plan changes: new firings, firings that go away or move.

One job: compare, for each action that changes what goes out (create, recreate, update,
replace, delete), the firings of the remote version with those of the planned version in a
window starting at the plan's clock (``planned_at``: the server's time or ``--now``), and
render the differences for the plan's text, Markdown and JSON. The firings themselves come
from :func:`reconciler.planning.firings.firings` (the emulator's rules, zone_type 2 as a span).

Pure: the plan holds everything (bodies, field changes, the clock and the time zone).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal, assert_never

from reconciler.planning import firings as fr
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
)
from reconciler.planning.diff import FieldChange

WINDOW_DAYS = 7
MAX_ROWS = 20  # rows of the Markdown table; the rest is counted ("and N more")
# Fields that decide when a schedule fires; a change anywhere else changes what goes out.
_WHEN_FIELDS = ("trigger", "enabled")
_OTHER_FIELDS = ("name",)  # a rename is not a change of what goes out

Change = Literal["new", "removed", "moved", "changed"]


@dataclass(frozen=True)
class FiringChange:
    """One row: ``firing`` of the planned version (for ``removed``: of the remote one), and
    for ``moved`` the remote version's firing it replaces (``before``)."""

    change: Change
    firing: fr.Firing
    before: fr.Firing | None = None

    @property
    def name(self) -> str:
        return self.firing.name


def window(plan: Any) -> tuple[datetime, datetime]:
    """``[planned_at, planned_at + 7 days)``."""
    start = datetime.fromisoformat(plan.planned_at)
    return start, start + timedelta(days=WINDOW_DAYS)


def changes(plan: Any, tz: tzinfo) -> list[FiringChange]:
    """Every firing in the window that the plan's actions add, take away, move or change."""
    start, end = window(plan)
    # A firing moved across the end of the window still pairs with its old moment: pairs are
    # looked for a day further, and a row is kept when one of its moments is in the window.
    reach = end + timedelta(days=1)
    fire = _Firings(start, reach, tz)
    out: list[FiringChange] = []
    for a in plan.actions:
        for row in _of_action(a, fire, tz):
            moments = [row.firing, *([row.before] if row.before is not None else [])]
            if any(m.start < end for m in moments):
                out.append(row)
    out.sort(key=lambda r: (r.firing.start, r.name, r.change))
    return out


class _Firings:
    """Firings of bodies in one window, worked out once per trigger: teams copy triggers, and a
    plan creating 1000 copies of one would otherwise compute the same week 1000 times."""

    def __init__(self, start: datetime, end: datetime, tz: tzinfo) -> None:
        self.start, self.end, self.tz = start, end, tz
        self._seen: dict[str, list[fr.Firing]] = {}

    def __call__(self, name: str, body: Mapping[str, Any]) -> list[fr.Firing]:
        key = json.dumps([body.get("enabled"), body.get("trigger")], sort_keys=True, default=str)
        found = self._seen.get(key)
        if found is None:
            when = {"enabled": body.get("enabled"), "trigger": body.get("trigger")}
            try:
                found = fr.firings([("", when, "")], start=self.start, end=self.end, tz=self.tz)
            except (KeyError, TypeError, ValueError):  # a remote body the planner could not read
                found = []
            self._seen[key] = found
        return [replace(f, name=name) for f in found]


def _of_action(a: Action, fire: _Firings, tz: tzinfo) -> list[FiringChange]:
    match a:
        case CreateAction() | RecreateAction():
            return [FiringChange("new", f) for f in fire(a.name, a.body)]
        case DeleteAction():
            return [FiringChange("removed", f) for f in fire(a.name, a.old_body)]
        case UpdateAction() | ReplaceAction():
            return _of_change(a, fire, tz)
        case (
            ExpiredAction() | RefreshAction() | ConflictAction() | UnmanagedAction() | SkipAction()
        ):
            return []  # nothing that goes out changes
        case _:
            assert_never(a)


def _of_change(a: UpdateAction | ReplaceAction, fire: _Firings, tz: tzinfo) -> list[FiringChange]:
    new = fire(a.name, a.body)
    old_body = remote_body(a.body, a.changes)
    if old_body is None:  # the remote trigger cannot be told from the changes: say "changed"
        return [FiringChange("changed", f) for f in new]
    old = fire(a.name, old_body)
    content = any(not c.path.startswith(_WHEN_FIELDS + _OTHER_FIELDS) for c in a.changes)
    kept = {(f.start, f.end) for f in old} & {(f.start, f.end) for f in new}
    rows = [FiringChange("changed", f) for f in new if (f.start, f.end) in kept and content]
    gone = [f for f in old if (f.start, f.end) not in kept]
    came = [f for f in new if (f.start, f.end) not in kept]
    # A firing that left one day and one that came the same day are one firing moved (a new
    # time of day); the rest are new or gone.
    by_day: dict[Any, list[fr.Firing]] = {}
    for f in gone:
        by_day.setdefault(f.local_date(tz), []).append(f)
    for f in came:
        earlier = by_day.get(f.local_date(tz))
        if earlier:
            rows.append(FiringChange("moved", f, earlier.pop(0)))
        else:
            rows.append(FiringChange("new", f))
    rows += [FiringChange("removed", f) for left in by_day.values() for f in left]
    return rows


# A part of a path (``diff.format_path``): a plain key, a key as a JSON string, a list index.
_PART = re.compile(r'\.?([A-Za-z0-9_\-]+)|\[("(?:[^"\\]|\\.)*")\]|\[([0-9]+)\]')


def remote_body(
    planned: Mapping[str, Any], field_changes: Sequence[FieldChange]
) -> dict[str, Any] | None:
    """The remote version's ``{name, enabled, trigger}`` from the planned body and the diff.

    An update or replace holds the planned body and each changed field's old value; the
    fields that decide when a schedule fires are put back. None when a path cannot be read.
    """
    out: dict[str, Any] = {
        "name": planned.get("name"),
        "enabled": planned.get("enabled"),
        "trigger": _copy(planned.get("trigger")),
    }
    for c in field_changes:
        if not c.path.startswith(_WHEN_FIELDS):
            continue
        keys = _keys(c.path)
        if keys is None or keys[0] not in _WHEN_FIELDS:
            return None
        node: Any = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if c.old is None:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = _copy(c.old)
    return out


def _keys(path: str) -> list[str] | None:
    """``trigger.periodical.point`` -> its keys; None for a path through a list item."""
    keys: list[str] = []
    at = 0
    while at < len(path):
        match = _PART.match(path, at)
        if match is None or match.group(3) is not None or match.end() == at:
            return None
        if match.group(1) is not None:
            keys.append(match.group(1))
        else:
            try:
                keys.append(json.loads(match.group(2)))
            except ValueError:  # not a JSON string: no path the planner writes
                return None
        at = match.end()
    return keys or None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- renderings ---------------------------------------------------------------------------------

_MARK = {"new": "+ new", "removed": "− no longer", "changed": "~ new content"}


def _change_text(row: FiringChange, tz: tzinfo) -> str:
    if row.change == "moved":
        assert row.before is not None
        return f"moved (was {fr.when(row.before, tz)})"
    return _MARK[row.change]


def summary(rows: Sequence[FiringChange]) -> str | None:
    """One line for the text plan, or None when nothing in the window changes."""
    if not rows:
        return None
    count = {k: sum(1 for r in rows if r.change == k) for k in ("new", "removed", "moved")}
    changed = sum(1 for r in rows if r.change == "changed")
    parts = [
        f"{count['new']} new",
        f"{count['removed']} no longer",
        f"{count['moved']} moved",
        f"{changed} with new content",
    ]
    shown = [p for p in parts if not p.startswith("0 ")]
    return f"Next {WINDOW_DAYS} days: {len(rows)} firing(s) change: " + ", ".join(shown) + "."


def markdown(rows: Sequence[FiringChange], tz: tzinfo, start: datetime) -> list[str]:
    """The Markdown table (at most ``MAX_ROWS`` rows, then "and N more"); [] without rows."""
    if not rows:
        return []
    title = (
        f"What fires in the next {WINDOW_DAYS} days that this plan changes "
        f"(from {start.astimezone(tz):%Y-%m-%d %H:%M}):"
    )
    out = ["", f"**{html.escape(title, quote=False)}**", ""]
    out += [f"| when ({html.escape(str(tz))}) | schedule | change |", "|---|---|---|"]
    for row in rows[:MAX_ROWS]:
        name = html.escape(row.name, quote=False).replace("|", "\\|").replace("`", "'")
        change = html.escape(_change_text(row, tz), quote=False)
        out.append(f"| {fr.when(row.firing, tz)} | `{name}` | {change} |")
    more = len(rows) - MAX_ROWS
    if more > 0:
        out += ["", f"… and {more} more (`reconciler plan --format json` lists them all)."]
    return out


def as_json(rows: Sequence[FiringChange], tz: tzinfo) -> list[dict[str, Any]]:
    """Every row for machines: the change, the schedule, and the firing (and ``before``)."""

    def moment(f: fr.Firing) -> dict[str, Any]:
        return {
            "start": f.start.isoformat(),
            "end": f.end.isoformat() if f.end is not None else None,
            "local": fr.when(f, tz),
        }

    return [
        {
            "schedule": r.name,
            "change": r.change,
            **moment(r.firing),
            "before": moment(r.before) if r.before is not None else None,
        }
        for r in rows
    ]
