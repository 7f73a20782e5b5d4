"""Reading the ``policies:`` block of an environment in ``reconciler.yaml`` into ``Policies``.

Every problem comes back with its line in the file and a message that starts with the dotted key
(``policies.quiet_hours.from: ...``), so the configuration reader can report it like any other
mistake in ``reconciler.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from reconciler.config.policies.rules import (
    LEVELS,
    MAX_DAYS,
    NO_POLICIES,
    RULES,
    Blackout,
    FrequencyCap,
    LeadTime,
    Policies,
    QuietHours,
    RequiredFields,
)

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?\Z")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*\Z")
_RULE_KEYS: dict[str, tuple[str, ...]] = {
    "quiet_hours": ("from", "to", "level"),
    "frequency_cap": ("max_per_day", "level"),
    "blackout_dates": ("dates", "level"),
    "min_lead_time": ("minutes", "hours", "level"),
    "required_fields": ("fields", "level"),
}


def _line(mapping: Any, key: Any, fallback: int) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return fallback


def _value_line(mapping: Any, key: Any, fallback: int) -> int:
    try:
        return int(mapping.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return _line(mapping, key, fallback)


def parse_policies(value: Any, line: int) -> Policies | list[tuple[int, str]]:
    """The ``policies:`` mapping of an environment, or every problem as (line, message).

    Messages start with the dotted key (e.g. ``policies.quiet_hours.from: ...``).
    """
    if value is None:
        return NO_POLICIES
    if not isinstance(value, Mapping):
        return [(line, f"policies: must be a mapping of rules ({', '.join(RULES)})")]
    problems: list[tuple[int, str]] = []
    rules: dict[str, Any] = {}
    for name, spec in value.items():
        at = _line(value, name, line)
        if name not in RULES:
            problems.append((at, f"unknown rule {name!r}; the rules are {', '.join(RULES)}"))
            continue
        if not isinstance(spec, Mapping):
            problems.append((at, f"{name}: must be a mapping ({', '.join(_RULE_KEYS[name])})"))
            continue
        before = len(problems)
        for key in spec:
            if key not in _RULE_KEYS[name]:
                problems.append(
                    (
                        _line(spec, key, at),
                        f"{name}: unknown key {key!r}; known: {', '.join(_RULE_KEYS[name])}",
                    )
                )
        level = spec.get("level", "error")
        if level not in LEVELS:
            problems.append(
                (
                    _value_line(spec, "level", at),
                    f"{name}.level: {level!r} must be error or warning",
                )
            )
        rule = _RULE_PARSERS[name](spec, at, problems)
        if len(problems) == before and rule is not None:
            rules[name] = rule
    if problems:
        return [
            (at, f"policies.{m}" if m.split(":")[0].split(".")[0] in RULES else f"policies: {m}")
            for at, m in problems
        ]
    return Policies(**rules)


def _parse_quiet(spec: Mapping[str, Any], at: int, problems: list[tuple[int, str]]) -> Any:
    ends: list[time] = []
    for key in ("from", "to"):
        raw = spec.get(key)
        where = _value_line(spec, key, at)
        if key not in spec:
            problems.append((at, f'quiet_hours.{key}: missing (a time such as "22:00")'))
            continue
        match = _HHMM.match(raw) if isinstance(raw, str) else None
        if match is None:
            problems.append(
                (where, f'quiet_hours.{key}: {raw!r} must be a time HH:MM, quoted (e.g. "22:00")')
            )
            continue
        ends.append(time(int(match[1]), int(match[2]), int(match[3] or 0)))
    if len(ends) != 2:
        return None
    if ends[0] == ends[1]:
        problems.append((at, "quiet_hours: `from` and `to` are equal; the hours would be empty"))
        return None
    return QuietHours(ends[0], ends[1], str(spec.get("level", "error")))


def _parse_cap(spec: Mapping[str, Any], at: int, problems: list[tuple[int, str]]) -> Any:
    raw = spec.get("max_per_day")
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        problems.append(
            (
                _value_line(spec, "max_per_day", at),
                f"frequency_cap.max_per_day: {raw!r} must be a whole number ≥ 1",
            )
        )
        return None
    return FrequencyCap(raw, str(spec.get("level", "error")))


def _as_date(raw: Any) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            return None
    return None


def _parse_blackout(spec: Mapping[str, Any], at: int, problems: list[tuple[int, str]]) -> Any:
    raw = spec.get("dates")
    where = _value_line(spec, "dates", at)
    if not isinstance(raw, list) or not raw:
        problems.append((where, "blackout_dates.dates: must be a list of dates (YYYY-MM-DD)"))
        return None
    days: set[date] = set()
    for n, item in enumerate(raw):
        item_line = _item_line(raw, n, where)
        text = item if isinstance(item, str) else None
        if text is not None and ".." in text:
            first, _, last = text.partition("..")
            lo, hi = _as_date(first), _as_date(last)
            if lo is None or hi is None or hi < lo or (hi - lo).days > MAX_DAYS:
                problems.append(
                    (
                        item_line,
                        f"blackout_dates.dates[{n}]: {item!r} must be FIRST..LAST with two dates "
                        "(YYYY-MM-DD), in order, at most a year apart",
                    )
                )
                continue
            days.update(lo + timedelta(days=k) for k in range((hi - lo).days + 1))
            continue
        day = _as_date(item)
        if day is None:
            problems.append(
                (item_line, f"blackout_dates.dates[{n}]: {item!r} is not a date (YYYY-MM-DD)")
            )
            continue
        days.add(day)
    return Blackout(frozenset(days), str(spec.get("level", "error")))


def _item_line(seq: Any, index: int, fallback: int) -> int:
    try:
        return int(seq.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return fallback


def _parse_lead(spec: Mapping[str, Any], at: int, problems: list[tuple[int, str]]) -> Any:
    units = [key for key in ("minutes", "hours") if key in spec]
    if len(units) != 1:
        problems.append((at, "min_lead_time: give exactly one of `minutes` or `hours`"))
        return None
    raw = spec[units[0]]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 24 * 366:
        problems.append(
            (
                _value_line(spec, units[0], at),
                f"min_lead_time.{units[0]}: {raw!r} must be a positive number",
            )
        )
        return None
    span = timedelta(minutes=raw) if units[0] == "minutes" else timedelta(hours=raw)
    return LeadTime(span, str(spec.get("level", "error")))


def _parse_required(spec: Mapping[str, Any], at: int, problems: list[tuple[int, str]]) -> Any:
    raw = spec.get("fields")
    where = _value_line(spec, "fields", at)
    if not isinstance(raw, list) or not raw:
        problems.append(
            (
                where,
                "required_fields.fields: must be a list of dotted paths "
                "(e.g. push.body.options.time_to_live)",
            )
        )
        return None
    fields: list[str] = []
    for n, item in enumerate(raw):
        if not isinstance(item, str) or not _FIELD.match(item):
            problems.append(
                (
                    _item_line(raw, n, where),
                    f"required_fields.fields[{n}]: {item!r} must be a dotted path such as "
                    "push.body.options.time_to_live",
                )
            )
            continue
        fields.append(item)
    return RequiredFields(tuple(fields), str(spec.get("level", "error")))


_RULE_PARSERS = {
    "quiet_hours": _parse_quiet,
    "frequency_cap": _parse_cap,
    "blackout_dates": _parse_blackout,
    "min_lead_time": _parse_lead,
    "required_fields": _parse_required,
}
