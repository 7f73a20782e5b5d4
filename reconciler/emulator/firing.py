"""When a validated trigger fires: occurrence and expiry computation, pure and clock-free.

All inputs are wire dicts that ``validation`` has accepted; all results are aware UTC datetimes.
zone_type 1 and 2 are both read in the emulator's time zone (the emulator has no devices;
docs/emulator.md documents this).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from reconciler.emulator.wire import combine, localize, parse_datetime, parse_time_of_day

TriggerKind = Literal["single", "periodical", "intelligent"]

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def trigger_kind(trigger: Mapping[str, Any]) -> TriggerKind:
    """Which of the three trigger kinds a (validated) trigger is."""
    if "single" in trigger:
        return "single"
    if "periodical" in trigger:
        return "periodical"
    return "intelligent"


def expiry(trigger: Mapping[str, Any], tz: ZoneInfo, anchor: datetime) -> datetime:
    """The moment from which the task can never fire again (docs/api.md section 2.4).

    A single or intelligent task is over once its one occurrence has passed; a periodical one at
    ``end``. ``anchor`` is when the task was last written (``backup_time: "now"`` means then).
    """
    kind = trigger_kind(trigger)
    if kind == "periodical":
        return localize(_dt(trigger["periodical"]["end"]), tz)
    return _one_shot(trigger, tz, anchor)


def occurrences(
    trigger: Mapping[str, Any],
    tz: ZoneInfo,
    anchor: datetime,
    *,
    after: datetime,
    until: datetime,
) -> list[datetime]:
    """Every firing time ``t`` with ``after < t <= until``, in order."""
    if trigger_kind(trigger) != "periodical":
        moment = _one_shot(trigger, tz, anchor)
        return [moment] if after < moment <= until else []
    return [t for t in _periodical(trigger["periodical"], tz, after, until) if after < t <= until]


def next_occurrence(
    trigger: Mapping[str, Any], tz: ZoneInfo, anchor: datetime, *, after: datetime
) -> datetime | None:
    """The first firing time strictly after ``after``, or None when there is none left."""
    if trigger_kind(trigger) != "periodical":
        moment = _one_shot(trigger, tz, anchor)
        return moment if moment > after else None
    end = localize(_dt(trigger["periodical"]["end"]), tz)
    for t in _periodical(trigger["periodical"], tz, after, end):
        if t > after:
            return t
    return None


def _one_shot(trigger: Mapping[str, Any], tz: ZoneInfo, anchor: datetime) -> datetime:
    if "single" in trigger:
        return localize(_dt(trigger["single"]["time"]), tz)
    backup = trigger["intelligent"]["backup_time"]
    if backup == "now":
        return anchor.astimezone(UTC)
    return localize(_dt(backup), tz)


def _periodical(
    spec: Mapping[str, Any], tz: ZoneInfo, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Candidate firing times of a periodical trigger around (after, until], in order.

    Enumerates local calendar days (a span is at most a year, docs/api.md section 2.2), so a day a
    month lacks (30 February) is simply never produced.
    """
    start = _dt(spec["start"])
    end = _dt(spec["end"])
    if end - start > timedelta(days=400):
        # Validated on create (a year, docs/api.md 2.2); an edited data file running to 9999
        # would be walked day by day for seconds, then overflow.
        raise ValueError(f"periodical span {spec['start']} to {spec['end']} is over a year")
    at = parse_time_of_day(spec["time"])
    if at is None:  # validated on create; a data file edited since is refused on load
        raise ValueError(f"time {spec['time']!r} is not HH:MM:SS")
    unit = str(spec["time_unit"]).lower()
    every = int(spec.get("frequency") or 1)
    points = {str(p).upper() for p in (spec.get("point") or [])}
    week_points = {WEEKDAYS.index(p) for p in points if p in WEEKDAYS}
    month_points = {int(p) for p in points if p.isdigit()}

    # Widen by a day on each side: the local date of a UTC instant may differ by one.
    first = max(start.date(), after.astimezone(tz).date() - timedelta(days=1))
    last = min(end.date(), until.astimezone(tz).date() + timedelta(days=1))
    start_monday = start.date() - timedelta(days=start.weekday())
    day = first
    while day <= last:
        if _matches(day, unit, every, start.date(), start_monday, week_points, month_points):
            local = combine(day, at)
            if start <= local <= end:
                yield localize(local, tz)
        day += timedelta(days=1)


def _matches(
    day: date,
    unit: str,
    every: int,
    start: date,
    start_monday: date,
    week_points: set[int],
    month_points: set[int],
) -> bool:
    """Whether ``day`` is a firing day; ``frequency`` counts units from the start's unit."""
    if unit == "day":
        return (day - start).days % every == 0
    if unit == "week":
        weeks = (day - start_monday).days // 7
        return weeks % every == 0 and day.weekday() in week_points
    months = (day.year - start.year) * 12 + (day.month - start.month)
    return months % every == 0 and day.day in month_points


def _dt(value: object) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:  # validated on create; a data file edited since is refused on load
        raise ValueError(f"{value!r} is not a date-time (yyyy-MM-dd HH:mm:ss)")
    return parsed
