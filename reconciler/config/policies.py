"""Push policies: rules a team sets per environment in ``reconciler.yaml``, checked in review.

One job: read the ``policies:`` block of an environment and find the manifests that break it,
each violation located like a manifest problem (file:line:col of the field) with the rule, the
colliding schedule(s) and the firing time(s). ``validate`` reports them; ``plan`` (and ``apply``)
refuse a violated ``error`` rule unless ``--allow-policy NAME`` names it, and show every allowed
violation as a justified exception. The rules (docs/policies.md)::

    policies:
      quiet_hours:       {from: "22:00", to: "08:00", level: error}
      frequency_cap:     {max_per_day: 2, level: warning}
      blackout_dates:    {dates: ["2026-12-24", "2026-12-31..2027-01-01"], level: error}
      min_lead_time:     {minutes: 30, level: error}       # or hours: N
      required_fields:   {fields: [push.body.options.time_to_live], level: warning}

``level`` is ``error`` (the default) or ``warning``. Times and days are those of the
environment's time zone; a zone_type 2 firing happens at its local time on every device, so
that local time itself is checked.

Speed: :func:`reconciler.planning.firings.firings` costs ~25 µs a firing, so a year of daily
firings of 1000 schedules would take ten seconds. The checks need days and times of day only: a
periodical trigger fires at one wall time on the days :func:`_periodical_dates` lists (the rules of
``timing``, stepped by unit instead of tested day by day; a property test holds it equal to
``firings``), and a zone_type 1 firing moves off that wall time only on a day a clock change
skips it, which :func:`_shifted_days` checks on the days around each clock change.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

from reconciler.errors import ManifestError, Problem, UsageError
from reconciler.planning import timing
from reconciler.planning.canonical import trigger_kind, zone_type
from reconciler.planning.firings import EARLIEST_OFFSET, firings

if TYPE_CHECKING:
    from reconciler.options import GlobalOptions

PathKey = tuple[str | int, ...]
Position = tuple[int, int, int, int]

RULES = ("quiet_hours", "frequency_cap", "blackout_dates", "min_lead_time", "required_fields")
LEVELS = ("error", "warning")
MAX_DAYS = 400  # a periodical trigger spans at most a year (docs/api.md section 2.2)
ONE_DAY = timedelta(days=1)
_SHOWN = 3  # firing days / schedules named in one message before "and N more"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    level: str = "error"

    def contains(self, at: time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class FrequencyCap:
    max_per_day: int
    level: str = "error"


@dataclass(frozen=True)
class Blackout:
    dates: frozenset[date]
    level: str = "error"


@dataclass(frozen=True)
class LeadTime:
    minimum: timedelta
    level: str = "error"


@dataclass(frozen=True)
class RequiredFields:
    fields: tuple[str, ...]
    level: str = "error"


@dataclass(frozen=True)
class Policies:
    """The rules of one environment; ``None`` for a rule it does not set."""

    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    blackout_dates: Blackout | None = None
    min_lead_time: LeadTime | None = None
    required_fields: RequiredFields | None = None

    @property
    def names(self) -> list[str]:
        return [name for name in RULES if getattr(self, name) is not None]

    def __bool__(self) -> bool:
        return bool(self.names)


NO_POLICIES = Policies()

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
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


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Subject:
    """One manifest as the rules see it: its name, API body and where it was written."""

    name: str
    body: Mapping[str, Any]
    path: str
    line: int
    col: int
    positions: Mapping[PathKey, Position] = field(default_factory=dict)
    previous_names: tuple[str, ...] = ()  # lifecycle.previous_names: a rename is not new

    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def locate(self, key: PathKey) -> tuple[int, int]:
        """The value of ``key`` if written, else the nearest enclosing key, else the document."""
        if key in self.positions:
            _, _, line, col = self.positions[key]
            return line, col
        probe = key[:-1]
        while probe:
            if probe in self.positions:
                line, col, _, _ = self.positions[probe]
                return line, col
            probe = probe[:-1]
        return self.line, self.col


@dataclass(frozen=True)
class Violation:
    """One broken rule, where it was broken."""

    rule: str
    severity: str
    name: str
    path: str
    line: int
    col: int
    message: str

    def problem(self, severity: str | None = None) -> Problem:
        return Problem(
            self.path,
            self.line,
            self.col,
            f"policy {self.rule}: {self.message}",
            severity or self.severity,
        )

    def __str__(self) -> str:
        return str(self.problem())

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "schedule": self.name,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
        }


@dataclass
class _Occurrences:
    """A schedule's future firings as days and a wall time (see the module docstring)."""

    subject: Subject
    kind: str
    spread: bool  # zone_type 2: the wall time is each device's own
    at: time  # wall time of day: in the environment's zone, or on the devices for zone_type 2
    days: list[int]  # local days (proleptic ordinals: cheap to make, hash and compare)
    shifted: Mapping[int, time]  # zone_type 1 days a clock change moves the wall time on
    time_key: PathKey

    def at_on(self, day: int) -> time:
        return self.shifted.get(day, self.at)

    def when(self, day: int, tz: tzinfo) -> str:
        text = f"{date.fromordinal(day).isoformat()} {self.at_on(day):%H:%M}"
        return text + (" device local time" if self.spread else f" {tz}")


_TIME_KEYS = {
    "single": ("trigger", "single", "time"),
    "periodical": ("trigger", "periodical", "time"),
    "intelligent": ("trigger", "intelligent", "backup_time"),
}


def check(
    subjects: Sequence[Subject],
    policies: Policies,
    *,
    now: datetime,
    tz: tzinfo,
    known: Iterable[str] | None = None,
) -> list[Violation]:
    """Every violation of ``policies`` by ``subjects``, in file and line order.

    ``known``: the names of schedules already created (the state file); a manifest outside it
    is a new schedule for ``min_lead_time``. ``None``: every manifest is new.
    """
    if not policies:
        return []
    out: list[Violation] = []
    if policies.required_fields is not None:
        out += _required(subjects, policies.required_fields)
    if policies.min_lead_time is not None:
        out += _lead_time(subjects, policies.min_lead_time, now, tz, set(known or ()))
    if (
        policies.quiet_hours is not None
        or policies.frequency_cap is not None
        or policies.blackout_dates is not None
    ):
        occurrences = _occurrences(subjects, now, tz)
        if policies.quiet_hours is not None:
            out += _quiet(occurrences, policies.quiet_hours, tz)
        if policies.blackout_dates is not None:
            out += _blackout(occurrences, policies.blackout_dates, tz)
        if policies.frequency_cap is not None:
            out += _cap(occurrences, policies.frequency_cap, tz)
    out.sort(key=lambda v: (v.path, v.line, v.col, RULES.index(v.rule), v.message))
    return out


def _violation(rule: str, level: str, subject: Subject, key: PathKey, message: str) -> Violation:
    line, col = subject.locate(key)
    return Violation(rule, level, subject.name, subject.path, line, col, message)


def _required(subjects: Sequence[Subject], rule: RequiredFields) -> list[Violation]:
    out: list[Violation] = []
    for subject in subjects:
        for dotted in rule.fields:
            key: PathKey = tuple(dotted.split("."))
            value: Any = subject.body
            for step in key:
                value = value.get(step) if isinstance(value, Mapping) else None
            if value is None:
                out.append(
                    _violation(
                        "required_fields",
                        rule.level,
                        subject,
                        key,
                        f"{dotted} is required in this environment but {subject.name!r} "
                        "does not set it",
                    )
                )
    return out


def _lead_time(
    subjects: Sequence[Subject], rule: LeadTime, now: datetime, tz: tzinfo, known: set[str]
) -> list[Violation]:
    out: list[Violation] = []
    for subject in subjects:
        if subject.name in known or any(n in known for n in subject.previous_names):
            continue
        single = (subject.body.get("trigger") or {}).get("single")
        if not isinstance(single, Mapping) or subject.body.get("enabled") is False:
            continue
        try:
            naive = timing.parse_datetime(str(single["time"]))
        except (KeyError, ValueError):
            continue
        if zone_type(subject.body) == 2:
            first = naive.replace(tzinfo=UTC) - EARLIEST_OFFSET  # the first zone to reach it
            shown = f"{naive:%Y-%m-%d %H:%M} device local time (first {first:%Y-%m-%d %H:%M} UTC)"
        else:
            first = timing.parse_local(str(single["time"]), tz)
            shown = f"{naive:%Y-%m-%d %H:%M} {tz}"
        ahead = first - now.astimezone(UTC)
        if ahead < rule.minimum:
            out.append(
                _violation(
                    "min_lead_time",
                    rule.level,
                    subject,
                    _TIME_KEYS["single"],
                    f"new one-shot {subject.name!r} fires at {shown}, "
                    f"{_ahead(ahead)}; new one-shots need at least "
                    f"{_duration(rule.minimum)} of lead time",
                )
            )
    return out


def _ahead(span: timedelta) -> str:
    return "already past" if span < timedelta(0) else f"{_duration(span)} from now"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    text = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
    return text


def _occurrences(subjects: Sequence[Subject], now: datetime, tz: tzinfo) -> list[_Occurrences]:
    out: list[_Occurrences] = []
    now = now.astimezone(UTC)
    shift_cache: dict[tuple[time, int, int], dict[int, time]] = {}
    by_trigger: dict[tuple[Any, ...], tuple[time, list[int], dict[int, time]] | None] = {}
    for subject in subjects:
        body = subject.body
        if body.get("enabled") is False:
            continue
        try:
            kind = trigger_kind(body)
        except ValueError:
            continue
        spread = zone_type(body) == 2
        if kind != "periodical":
            # One firing: firings() itself (zone_type 2 as a span).
            found = firings(
                [(subject.name, body, subject.path)],
                start=now,
                end=now + timedelta(days=MAX_DAYS * 3),
                tz=tz,
            )
            if not found:
                continue
            first = found[0]
            if first.end is not None:
                local = (first.start + EARLIEST_OFFSET).replace(tzinfo=None)
            else:
                local = first.start.astimezone(tz).replace(tzinfo=None)
            out.append(
                _Occurrences(
                    subject,
                    kind,
                    first.end is not None,
                    local.time(),
                    [local.date().toordinal()],
                    {},
                    _TIME_KEYS[kind],
                )
            )
            continue
        spec = body["trigger"]["periodical"]
        if not isinstance(spec, Mapping):  # a live task's answer: no readable trigger
            continue
        # Teams copy triggers: equal triggers fire on equal days, worked out once.
        key = (
            *(str(spec.get(k)) for k in ("start", "end", "time", "time_unit", "frequency")),
            tuple(str(p) for p in spec.get("point") or ()),
            spread,
        )
        if key not in by_trigger:
            by_trigger[key] = _periodical(body, spec, spread, now, tz, shift_cache)
        worked = by_trigger[key]
        if worked is None:
            continue
        at, days, shifted = worked
        out.append(_Occurrences(subject, kind, spread, at, days, shifted, _TIME_KEYS[kind]))
    return out


def _periodical(
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    spread: bool,
    now: datetime,
    tz: tzinfo,
    shift_cache: dict[tuple[time, int, int], dict[int, time]],
) -> tuple[time, list[int], dict[int, time]] | None:
    """Wall time, future firing days and clock-change days of a periodical trigger."""
    try:
        upcoming = timing.next_fire(body, now, tz)
        at = timing.parse_time(str(spec["time"]))
        start_day = timing.parse_datetime(str(spec["start"])).date()
        end = timing.parse_datetime(str(spec["end"]))
    except (KeyError, ValueError):
        return None
    if upcoming is None:
        return None
    # The end is inclusive to the second: the last day fires only up to that time.
    last = end.date() if datetime.combine(end.date(), at) <= end else end.date() - ONE_DAY
    # next_fire reads a zone_type 2 wall time in tz too: its date is the wall date.
    first_day = upcoming.astimezone(tz).date()
    last = min(last, first_day + timedelta(days=MAX_DAYS))
    days = _periodical_dates(spec, start_day, max(first_day - ONE_DAY, start_day), last)
    # The first listed day may be today's firing already past: keep what next_fire found on.
    days = days[bisect_left(days, first_day.toordinal()) :]
    shifted: dict[int, time] = {}
    if not spread and days:
        cache_key = (at, days[0], days[-1])
        if cache_key not in shift_cache:
            shift_cache[cache_key] = _shifted_days(at, days[0], days[-1], tz)
        moved = shift_cache[cache_key]
        if moved:
            listed = set(days)
            shifted = {d: t for d, t in moved.items() if d in listed}
    return at, days, shifted


def _periodical_dates(spec: Mapping[str, Any], start: date, first: date, last: date) -> list[int]:
    """The local days in ``[first, last]`` a periodical trigger fires on, in order (ordinals).

    The same rule as ``timing.periodical_fires_on`` (every N-th day, week or month counted from
    the one holding ``start``; a month point a month lacks is skipped), stepped by unit.
    """
    unit = str(spec.get("time_unit", "")).lower()
    freq = timing.frequency(spec)
    out: list[int] = []
    if unit == "day":
        skip = max(0, (first - start).days)
        k = -(-skip // freq)  # the first multiple of freq at or after ``first``
        return list(range(start.toordinal() + k * freq, last.toordinal() + 1, freq))
    if unit == "week":
        points = sorted(timing.week_points(spec))
        monday = start.toordinal() - start.weekday()
        lo = max(first, start).toordinal()
        hi = last.toordinal()
        week = monday + ((max(0, lo - monday) // 7) // freq) * freq * 7
        while week <= hi:
            out.extend(day for p in points if lo <= (day := week + p) <= hi)
            week += 7 * freq
    elif unit == "month":
        points = sorted(timing.month_points(spec))
        index = start.year * 12 + start.month - 1
        begin = first.year * 12 + first.month - 1
        if begin > index:
            index += -(-(begin - index) // freq) * freq
        end_index = last.year * 12 + last.month - 1
        while index <= end_index:
            year, month = divmod(index, 12)
            for p in points:
                try:
                    fires = date(year, month + 1, p)
                except ValueError:
                    continue  # 30 February: that month does not fire
                if first <= fires <= last and fires >= start:
                    out.append(fires.toordinal())
            index += freq
    return out


def _shifted_days(at: time, first_day: int, last_day: int, tz: tzinfo) -> dict[int, time]:
    """Days in ``[first, last]`` on which wall time ``at`` does not exist in ``tz`` (a clock
    change skips it), with the wall time a firing then happens at (zoneinfo's fold 0)."""
    out: dict[int, time] = {}
    for change in _clock_changes(first_day, last_day, tz):
        # A change between noon of the day before and noon of ``change`` skips its hour on
        # one of the two days (or, from 23:00 or later, on the day after).
        for day in (change - 1, change, change + 1):
            if first_day <= day <= last_day:
                wall = datetime.combine(date.fromordinal(day), at).replace(tzinfo=tz)
                actual = wall.astimezone(UTC).astimezone(tz).time().replace(tzinfo=None)
                if actual != at:
                    out[day] = actual
    return out


@lru_cache(maxsize=64)
def _clock_changes(first_day: int, last_day: int, tz: tzinfo) -> tuple[int, ...]:
    """Days ``D`` around ``[first, last]`` whose noon has another UTC offset than the noon
    before: the days a clock change falls on (or just after). Once per window and zone."""
    noon = time(12)
    found: list[int] = []

    def offset(day: int) -> timedelta | None:
        return datetime.combine(date.fromordinal(day), noon).replace(tzinfo=tz).utcoffset()

    def scan(lo: int, hi: int) -> None:
        if hi - lo <= 1:
            if offset(lo) != offset(hi):
                found.append(hi)
            return
        if offset(lo) == offset(hi) and hi - lo < 64:
            return  # zones change at most twice a year, months apart
        mid = (lo + hi) // 2
        scan(lo, mid)
        scan(mid, hi)

    scan(first_day - 1, last_day + 1)
    return tuple(found)


def _quiet(occurrences: Sequence[_Occurrences], rule: QuietHours, tz: tzinfo) -> list[Violation]:
    out: list[Violation] = []
    for occ in occurrences:
        if rule.contains(occ.at):
            bad = [d for d in occ.days if d not in occ.shifted or rule.contains(occ.shifted[d])]
        else:
            bad = [d for d in occ.shifted if rule.contains(occ.shifted[d])]
        if not bad:
            continue
        zone = "on each device" if occ.spread else f"in {tz}"
        out.append(
            _violation(
                "quiet_hours",
                rule.level,
                occ.subject,
                occ.time_key,
                f"{occ.subject.name!r} fires {_days(bad, occ, tz)}, inside the quiet hours "
                f"{rule.describe()} {zone}",
            )
        )
    return out


def _days(days: Sequence[int], occ: _Occurrences, tz: tzinfo) -> str:
    shown = ", ".join(occ.when(d, tz) for d in sorted(days)[:_SHOWN])
    more = len(days) - _SHOWN
    return f"at {shown}" + (f" and {more} more time(s)" if more > 0 else "")


def _blackout(occurrences: Sequence[_Occurrences], rule: Blackout, tz: tzinfo) -> list[Violation]:
    out: list[Violation] = []
    dates = {d.toordinal() for d in rule.dates}
    for occ in occurrences:
        bad = sorted(dates.intersection(occ.days))
        if bad:
            out.append(
                _violation(
                    "blackout_dates",
                    rule.level,
                    occ.subject,
                    occ.time_key,
                    f"{occ.subject.name!r} fires on a blackout date: {_days(bad, occ, tz)}",
                )
            )
    return out


ALL = ("all", "")


def audience_atoms(to: Any) -> frozenset[tuple[str, str]]:
    """The targets a ``push.to`` reaches, as (kind, value); ``all`` is ``("all", "")``.

    Two audiences overlap when they share an atom or either is ``all``. ``tag_and`` names tags
    as ``tag`` does; ``tag_not`` only narrows an audience and reaches no one by itself.
    """
    if isinstance(to, str):
        return frozenset({ALL}) if to == "all" else frozenset()
    if not isinstance(to, Mapping):
        return frozenset()
    atoms: set[tuple[str, str]] = set()
    for key, kind in (
        ("tag", "tag"),
        ("tag_and", "tag"),
        ("alias", "alias"),
        ("registration_id", "registration_id"),
    ):
        values = to.get(key)
        if isinstance(values, list):
            atoms.update((kind, str(v)) for v in values)
    seg = to.get("seg")
    if isinstance(seg, Mapping) and seg.get("id") is not None:
        atoms.add(("segment", str(seg["id"])))
    live = to.get("live_activity_id")
    if isinstance(live, str):
        atoms.add(("live_activity_id", live))
    return frozenset(atoms)


def _walk(
    members: Sequence[int],
    atoms: Sequence[tuple[tuple[str, str], ...]],
    to_all: Sequence[bool],
    cap: int,
) -> list[tuple[int, int, int, tuple[str, str] | None]]:
    """One day's firings in time order: (schedule, position, firings before it to the same
    atom, atom) of each over the cap."""
    out: list[tuple[int, int, int, tuple[str, str] | None]] = []
    counts: dict[tuple[str, str], int] = {}
    top = 0  # the largest count of any atom so far
    top_atom: tuple[str, str] | None = None
    alls = 0
    for pos, n in enumerate(members):
        atom: tuple[str, str] | None
        if to_all[n]:
            before, atom = alls + top, top_atom
        else:
            before, atom = -1, None
            for a in atoms[n]:
                c = counts.get(a, 0)
                if c > before:
                    before, atom = c, a
            before += alls
        if before >= cap:
            out.append((n, pos, before, atom))
        if to_all[n]:
            alls += 1
        else:
            for a in atoms[n]:
                c = counts.get(a, 0) + 1
                counts[a] = c
                if c > top:
                    top, top_atom = c, a
    return out


def _cap(occurrences: Sequence[_Occurrences], rule: FrequencyCap, tz: tzinfo) -> list[Violation]:
    """Firings beyond the cap: on each day, in time order, a firing is over the cap when N
    firings reaching one of its audience atoms came before it that day (``all`` reaches every
    atom). One violation per schedule: its first such day, the firings before it there, and
    how many other days it is over the cap.

    Linear in the firings: a schedule fires at most once a day, and each day is walked once.
    """
    cap = rule.max_per_day
    atoms: list[tuple[tuple[str, str], ...]] = []
    to_all: list[bool] = []
    for occ in occurrences:
        push = occ.subject.body.get("push")
        reached = audience_atoms(push.get("to") if isinstance(push, Mapping) else None)
        to_all.append(ALL in reached)
        atoms.append(tuple(sorted(reached - {ALL})))
    order = sorted(
        range(len(occurrences)),
        key=lambda i: (occurrences[i].at, occurrences[i].subject.name),
    )
    # Schedules firing on the same days (the same trigger dates) are handled as one group,
    # and days on which the same groups fire share one merged, time-ordered list and one walk.
    rank = {n: r for r, n in enumerate(order)}
    groups: dict[tuple[int, ...], list[int]] = {}
    for n in order:
        if atoms[n] or to_all[n]:  # else it reaches no one we can name: it cannot collide
            groups.setdefault(tuple(occurrences[n].days), []).append(n)
    day_groups: dict[int, list[int]] = {}
    for g, days_of_group in enumerate(groups):
        for day in days_of_group:
            day_groups.setdefault(day, []).append(g)
    group_members = list(groups.values())
    moved = {day for occ in occurrences for day in occ.shifted}
    total: dict[int, int] = {}  # schedule -> days over the cap
    first_seen: dict[int, tuple[int, Sequence[int], int, tuple[str, str] | None]] = {}
    key_days: dict[tuple[int, ...], int] = {}  # walked list -> days it stands for
    merged: dict[tuple[int, ...], list[int]] = {}
    walked: dict[tuple[int, ...], list[tuple[int, int, int, tuple[str, str] | None]]] = {}
    for day in sorted(day_groups):  # in order: a schedule's first day over the cap comes first
        key = tuple(day_groups[day])
        members = merged.get(key)
        if members is None:
            members = [n for g in key for n in group_members[g]]
            members.sort(key=rank.__getitem__)
            merged[key] = members
        if len(members) <= cap:
            continue
        if day in moved:  # a clock change moved some wall times: this day's own order
            members = sorted(
                members, key=lambda i: (occurrences[i].at_on(day), occurrences[i].subject.name)
            )
            found = _walk(members, atoms, to_all, cap)
            for n, _, _, _ in found:
                total[n] = total.get(n, 0) + 1
        elif key in walked:
            key_days[key] += 1
            continue  # every schedule over the cap here has been seen on an earlier day
        else:
            found = walked[key] = _walk(members, atoms, to_all, cap)
            key_days[key] = 1
        for n, pos, before, atom in found:
            if n not in first_seen:
                first_seen[n] = (day, members[:pos], before, atom)
    for key, count in key_days.items():
        for n, _, _, _ in walked[key]:
            total[n] = total.get(n, 0) + count
    out: list[Violation] = []
    for n, days_over in total.items():
        occ = occurrences[n]
        first, earlier, count, atom = first_seen[n]
        # The first firings before it that reach the same atom (or everyone).
        shared = list(
            islice(
                (i for i in earlier if to_all[i] or (atom is not None and atom in atoms[i])),
                _SHOWN,
            )
        )
        named = ", ".join(
            f"{occurrences[i].subject.name!r} ({occurrences[i].subject.where()}, "
            f"{occurrences[i].when(first, tz)})"
            for i in shared[:_SHOWN]
        )
        if count > len(shared):
            named += f" and {count - len(shared)} more"
        audience = "everyone (all)" if atom is None else f"{atom[0]} {atom[1]!r}"
        on = f"on {date.fromordinal(first).isoformat()}" + (
            f" and {days_over - 1} more day(s)" if days_over > 1 else ""
        )
        out.append(
            _violation(
                "frequency_cap",
                rule.level,
                occ.subject,
                occ.time_key,
                f"{occ.subject.name!r} at {occ.when(first, tz)} is firing {count + 1} of "
                f"the day to {audience}, after {named} ({on}); at most {cap} a day",
            )
        )
    return out


# --------------------------------------------------------------------------- commands


def subjects_of(manifests: Iterable[Any]) -> list[Subject]:
    """``Subject`` of each loaded ``reconciler.manifests.load.Manifest``."""
    out: list[Subject] = []
    for m in manifests:
        out.append(
            Subject(
                m.name,
                _body_of(m),
                m.path,
                m.line,
                m.col,
                # Not ``or``: the reader computes positions on demand; len() computes them all.
                m.positions if m.positions is not None else {},
                tuple(m.previous_names),
            )
        )
    return out


def _body_of(manifest: Any) -> Mapping[str, Any]:
    """The manifest's API body: the canonical one when the command has made it already (plan),
    else the model's plain dump, which the rules read alike (``timing`` accepts any spelling
    of points and units, a null is a missing field) at half the cost."""
    made = vars(manifest).get("body")  # functools.cached_property keeps it there
    if made is not None:
        return made  # type: ignore[no-any-return]
    body: dict[str, Any] = manifest.schedule.model_dump(
        mode="json", by_alias=True, exclude_unset=True, exclude={"lifecycle"}
    )
    return body


@dataclass(frozen=True)
class Verdict:
    """The violations of a plan, sorted by what the command does with them."""

    refused: list[Violation]  # errors (warnings too under --strict) not allowed
    warnings: list[Violation]
    allowed: list[Violation]  # justified exceptions: named by --allow-policy


def judge(
    violations: Sequence[Violation],
    policies: Policies,
    allow: Sequence[str],
    *,
    strict: bool,
    env: str,
) -> Verdict:
    """Sort ``violations`` for plan and apply; ``--allow-policy`` names must be rules in force."""
    unknown = [name for name in allow if name not in policies.names]
    if unknown:
        names = ", ".join(policies.names) or "none"
        raise UsageError(
            f"--allow-policy {unknown[0]}: environment {env!r} has no such policy "
            f"(its policies: {names})",
            hint=f"name one of the rules under `policies:` ({', '.join(RULES)})",
        )
    allowed = [v for v in violations if v.rule in allow]
    rest = [v for v in violations if v.rule not in allow]
    refused = [v for v in rest if v.severity == "error" or strict]
    warnings = [v for v in rest if not (v.severity == "error" or strict)]
    return Verdict(refused, warnings, allowed)


def for_validate(options: GlobalOptions, manifests: Sequence[Any], now: datetime) -> list[Problem]:
    """``validate``: the violations of the selected environment's policies, as problems.

    Without ``--env``, in a config with several environments and no ``default:``, each
    environment checks the manifests inside its own manifest directory. A new one-shot is one
    without an entry in the environment's state file, when there is one.
    """
    from dataclasses import replace
    from pathlib import Path

    from reconciler.config.environments import load_environments

    required = options.config_named
    loaded = load_environments(Path(options.config_path), required=required)
    if options.env is None and loaded.default is None and len(loaded.environments) > 1:
        chosen = [(env, True) for env in loaded.environments]
    else:
        chosen = [(loaded.select(options.env), False)]
    out: list[Problem] = []
    for env, by_directory in chosen:
        if not env.policies:
            continue
        if options.timezone:  # validated by the command before
            env = replace(env, timezone=options.timezone)
        mine = list(manifests)
        if by_directory:
            root = Path(env.manifests).resolve()
            mine = [m for m in mine if Path(m.path).resolve().is_relative_to(root)]
        found = check(
            subjects_of(mine), env.policies, now=now, tz=env.tz, known=_state_names(env)
        )
        out += [v.problem() for v in found]
    return out


def _state_names(env: Any) -> set[str]:
    """Names in the environment's state file; none without one (or for an unreadable one:
    validate checks manifests, `reconciler state` reports the file)."""
    from pathlib import Path

    if env.policies.min_lead_time is None or not Path(env.state).exists():
        return set()
    from reconciler.errors import StateError
    from reconciler.state.store import StateStore

    try:
        return set(StateStore(env.state).load().entries)
    except StateError:
        return set()


def enforce(
    env: Any,
    manifests: Iterable[Any],
    *,
    known: Iterable[str],
    now: datetime,
    allow: Sequence[str],
    strict: bool,
) -> Verdict:
    """Check an environment's policies for plan or apply; raise if an error is not allowed.

    Called after the state is read and before any request: a refused plan makes no call.
    """
    policies: Policies = env.policies
    if not policies and not allow:
        return Verdict([], [], [])
    found = check(subjects_of(manifests), policies, now=now, tz=env.tz, known=known)
    verdict = judge(found, policies, allow, strict=strict, env=env.name)
    refuse(verdict)
    return verdict


def refuse(verdict: Verdict) -> None:
    """Raise ``ManifestError`` for the refused violations (before any request is made)."""
    if not verdict.refused:
        return
    rules = sorted({v.rule for v in verdict.refused}, key=RULES.index)
    raise ManifestError(
        [v.problem("error") for v in verdict.refused],
        hint="change the manifests, or, for a justified exception, re-run with "
        + " ".join(f"--allow-policy {r}" for r in rules),
    )


def exception_lines(allowed: Sequence[Violation]) -> list[str]:
    # A live task (drift) has no line: ``remote task ID`` alone.
    return [
        f"{v.path if v.line == 0 else v.problem().where()}: {v.rule}: {v.message}" for v in allowed
    ]


@dataclass(frozen=True)
class LiveSubject(Subject):
    """A managed task as the server holds it: located by its id (``path``), not by a line."""

    def where(self) -> str:
        return self.path


def for_drift(
    env: Any,
    manifests: Iterable[Any],
    live: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    now: datetime,
    allow: Sequence[str],
) -> tuple[list[Violation], list[Violation]]:
    """``drift``: the violations of the live versions of managed tasks (``live``: name, id and
    body of each) that git's versions (``manifests``) do not have, as (reported, allowed).

    A violation git's version has too was judged by ``validate`` and ``plan`` (refused, or let
    through as an exception); one only the live version has came from outside git. A task that
    exists is never new (``min_lead_time``). ``allow``: rules named by ``--allow-policy``.
    """
    policies: Policies = env.policies
    if not policies or not live:
        return [], []
    names = [name for name, _, _ in live]
    subjects = [LiveSubject(name, body, f"remote task {sid}", 0, 0) for name, sid, body in live]
    found = check(subjects, policies, now=now, tz=env.tz, known=names)
    if not found:
        return [], []
    in_git = {
        (v.rule, v.name)
        for v in check(subjects_of(manifests), policies, now=now, tz=env.tz, known=names)
    }
    fresh = [v for v in found if (v.rule, v.name) not in in_git]
    return [v for v in fresh if v.rule not in allow], [v for v in fresh if v.rule in allow]


def with_exceptions(rendered: str, fmt: str, allowed: Sequence[Violation]) -> str:
    """The rendered plan with its justified policy exceptions (``--allow-policy``) shown."""
    if not allowed:
        return rendered
    if fmt == "json":
        data = json.loads(rendered)
        data["policy_exceptions"] = [v.as_json() for v in allowed]
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    title = "Policy exceptions (allowed with --allow-policy):"
    if fmt == "markdown":
        import html

        block = (
            ["", f"**{title}**", ""]
            + [f"- {html.escape(line, quote=False)}" for line in exception_lines(allowed)]
            + [""]
        )
        lines = rendered.rstrip("\n").split("\n")
        # Before the footer line ("planned at ... checksum"), after the schedules.
        return "\n".join([*lines[:-1], *block, lines[-1]]) + "\n"
    block = [title, *(f"  - {line}" for line in exception_lines(allowed))]
    return rendered + "\n" + "\n".join(block) + "\n"
