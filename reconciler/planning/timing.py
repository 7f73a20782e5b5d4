"""When a schedule's trigger fires next, and whether it can ever fire again (pure; no clock reads).

Works on canonical (or raw API) schedule bodies ``{name, enabled, trigger, push}``;
``now``/``after`` and the time zone are always parameters.

Interpretation (docs/api.md 2.1-2.3), with the approximations this module documents and owns:

- Times in a trigger are local wall-clock times. zone_type 1 ("main site" zone) is read in the
  environment's configured ``tz``. zone_type 2 (each device's own zone) is read in the zone it
  is given: ``tz`` for a vanished task's expiry (never recreated once it fired there), the last
  device zone (``LATEST_ZONE``) for whether a live task's manifest still fires (a pause of one
  still on its way west is sent); :func:`next_fire_span` gives the span of moments across
  device zones (UTC+14 to UTC-12), whose start the fire guard watches and which plans show.
- ``single``: fires once at ``time``.
- ``periodical``: fires at ``time`` of day on the chosen days between ``start`` and ``end``
  (both inclusive). ``frequency`` N (default 1) means every N-th unit counted from the unit that
  contains ``start``: the start day (``day``), the Monday-based week of ``start`` (``week``), the
  calendar month of ``start`` (``month``). Month points a month lacks (30 Feb) do not fire.
- ``intelligent``: the fallback send at ``backup_time``. ``"now"`` sends immediately on creation,
  so such a trigger is never "finished" by time alone: :func:`next_fire` answers ``after`` itself
  and :func:`is_immediate` lets the planner tell that a vanished one has been sent.
  Users with activity data may get an intelligent push earlier than ``backup_time``; that
  cannot be predicted and is not modelled.
- Local times that do not exist or exist twice around a DST change follow ``zoneinfo`` (fold 0).

Every datetime returned is aware and in UTC, so comparisons never depend on the tzinfo object
(Python compares two datetimes sharing one tzinfo by wall time, which is wrong inside a fold).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from reconciler.planning.canonical import TRIGGER_KINDS, WEEKDAYS

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_FORMAT = "%H:%M:%S"


def _trigger(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    trigger = body.get("trigger")
    if not isinstance(trigger, Mapping) or len(trigger) != 1:
        raise ValueError(
            "schedule body needs a trigger with exactly one of single/periodical/intelligent"
        )
    ((kind, spec),) = trigger.items()
    if kind not in TRIGGER_KINDS or not isinstance(spec, Mapping):
        raise ValueError(
            f"unknown trigger kind {kind!r} (docs/api.md 2: single, periodical, intelligent)"
        )
    return str(kind), spec


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value.isoformat()}")


def _local(naive: datetime, tz: tzinfo) -> datetime:
    """A wall-clock time in ``tz``, as an aware UTC datetime."""
    return naive.replace(tzinfo=tz).astimezone(UTC)


def parse_local(text: str, tz: tzinfo) -> datetime:
    """Parse an API ``"yyyy-MM-dd HH:mm:ss"`` time as wall-clock time in ``tz`` (result in UTC)."""
    return _local(parse_datetime(text), tz)


# The one form the API reads and writes (docs/api.md 2.1), as a pattern: the manifests' schema
# and checks, the planner and the policies all parse with the functions below.
DATETIME_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_DATETIME = re.compile(DATETIME_PATTERN)
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}")


def parse_api_datetime(text: str) -> datetime | None:
    """A naive datetime for an exact ``"yyyy-MM-dd HH:mm:ss"`` of a real moment, else ``None``.

    The fields by position (the pattern fixed them): strptime takes ~10 µs a call, and a plan
    makes three per schedule, validation three per manifest.
    """
    if not _DATETIME.fullmatch(text):
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
        )
    except ValueError:
        return None


def parse_api_time(text: str) -> time | None:
    """The time of day of an exact ``"HH:mm:ss"`` (24 h, zero-padded), else ``None``."""
    if not _TIME.fullmatch(text):
        return None
    try:
        return time(int(text[0:2]), int(text[3:5]), int(text[6:8]))
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime:
    """``datetime.strptime(text, DATETIME_FORMAT)``, without strptime for the exact form.

    Any other text, or an impossible date, still goes to strptime for its answer or its error.
    """
    parsed = parse_api_datetime(text)
    return parsed if parsed is not None else datetime.strptime(text, DATETIME_FORMAT)


def parse_time(text: str) -> time:
    """``datetime.strptime(text, TIME_FORMAT).time()``, the same way."""
    parsed = parse_api_time(text)
    return parsed if parsed is not None else datetime.strptime(text, TIME_FORMAT).time()


def is_immediate(body: Mapping[str, Any]) -> bool:
    """True for an intelligent trigger with ``backup_time: "now"`` (sent once, on creation)."""
    kind, spec = _trigger(body)
    return kind == "intelligent" and str(spec.get("backup_time", "")).lower() == "now"


def frequency(spec: Mapping[str, Any]) -> int:
    raw = spec.get("frequency")
    if raw is None:
        return 1
    value = int(raw)
    return value if value >= 1 else 1


def month_points(spec: Mapping[str, Any]) -> frozenset[int]:
    out: set[int] = set()
    for p in spec.get("point") or ():
        try:
            out.add(int(p))
        except (TypeError, ValueError):
            continue  # not a day of the month: can never match
    return frozenset(out)


def week_points(spec: Mapping[str, Any]) -> frozenset[int]:
    names = {str(p).upper() for p in spec.get("point") or ()}
    return frozenset(i for i, n in enumerate(WEEKDAYS) if n in names)


def periodical_fires_on(spec: Mapping[str, Any], start: date, day: date) -> bool:
    """Whether the periodical trigger fires on local calendar ``day`` (ignoring start/end)."""
    unit = str(spec.get("time_unit", "")).lower()
    freq = frequency(spec)
    if unit == "day":
        return (day - start).days % freq == 0
    if unit == "week":
        if day.weekday() not in week_points(spec):
            return False
        start_monday = start - timedelta(days=start.weekday())
        day_monday = day - timedelta(days=day.weekday())
        return ((day_monday - start_monday).days // 7) % freq == 0
    if unit == "month":
        if day.day not in month_points(spec):
            return False
        months = (day.year * 12 + day.month) - (start.year * 12 + start.month)
        return months % freq == 0
    return False


# docs/api.md 2.2: a periodical trigger spans at most a year; the slack keeps any span the API
# accepts (29 February, a clock change) readable.
MAX_PERIODICAL_SPAN = timedelta(days=400)


def _next_periodical(spec: Mapping[str, Any], after: datetime, tz: tzinfo) -> datetime | None:
    start_naive = parse_datetime(str(spec["start"]))
    end_naive = parse_datetime(str(spec["end"]))
    at = parse_time(str(spec["time"]))
    if end_naive < start_naive:
        return None
    if end_naive - start_naive > MAX_PERIODICAL_SPAN:
        # Only a server's answer can hold one (manifests are checked): a span to 9999 of a
        # trigger that never fires would be walked day by day, seconds for each task.
        raise ValueError("the periodical trigger spans more than the year the API allows")
    # One day of slack before the local date of ``after``: offsets never exceed a day.
    day = max(start_naive.date(), after.astimezone(tz).date() - timedelta(days=1))
    last = end_naive.date()
    while day <= last:
        if periodical_fires_on(spec, start_naive.date(), day):
            wall = datetime.combine(day, at)
            # A day's firing is inside the span when its wall time is (start and end are wall
            # times too, docs/api.md 2.2): compared as instants, a wall time a clock change
            # skips (02:30 on the spring-forward day, which fires at 03:30) would count as
            # after a start of 03:00 that day. The emulator compares wall times as well.
            if start_naive <= wall <= end_naive:
                candidate = _local(wall, tz)
                if candidate > after:
                    return candidate
        day += timedelta(days=1)
    return None


def next_fire(body: Mapping[str, Any], after: datetime, tz: tzinfo) -> datetime | None:
    """The first time strictly after ``after`` at which the trigger fires, or None if never.

    An immediate intelligent trigger (``backup_time: "now"``) answers ``after`` itself.
    Raises ValueError for a body without a readable trigger.
    """
    _require_aware(after, "after")
    after = after.astimezone(UTC)
    kind, spec = _trigger(body)
    try:
        return _next_fire(kind, spec, after, tz)
    except OverflowError:
        # A server's answer, not a manifest (those are checked): a date at the end of the
        # calendar (9999-12-31 read in UTC-12) is no readable trigger either.
        raise ValueError("a date of the trigger is out of the range of dates") from None


def _next_fire(kind: str, spec: Mapping[str, Any], after: datetime, tz: tzinfo) -> datetime | None:
    if kind == "single":
        at = parse_local(str(spec["time"]), tz)
        return at if at > after else None
    if kind == "intelligent":
        backup = str(spec.get("backup_time", ""))
        if backup.lower() == "now":
            return after
        at = parse_local(backup, tz)
        return at if at > after else None
    return _next_periodical(spec, after, tz)


def is_finished(body: Mapping[str, Any], now: datetime, tz: tzinfo) -> bool:
    """True when the trigger can never fire again after ``now`` (docs/api.md 2.4: "expired")."""
    return next_fire(body, now, tz) is None


def fires_within(body: Mapping[str, Any], now: datetime, tz: tzinfo, minutes: float) -> bool:
    """True when the trigger fires at some time in ``(now, now + minutes]`` (or immediately)."""
    _require_aware(now, "now")
    nxt = next_fire(body, now, tz)
    return nxt is not None and nxt <= now.astimezone(UTC) + timedelta(minutes=minutes)


# zone_type 2 fires at the trigger's wall time in each device's own zone: first where the clock
# is furthest ahead (UTC+14), last where it is furthest behind (UTC-12), 26 hours later.
EARLIEST_ZONE = timezone(timedelta(hours=14))
LATEST_ZONE = timezone(timedelta(hours=-12))


def zone_type(body: Mapping[str, Any]) -> int | None:
    """The trigger's ``zone_type`` (1 or 2), None when it has none (intelligent)."""
    _, spec = _trigger(body)
    value = spec.get("zone_type")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def next_fire_span(
    body: Mapping[str, Any], after: datetime, tz: tzinfo
) -> tuple[datetime, datetime] | None:
    """The first and last moment of the next firing still ahead somewhere, or None if never.

    zone_type 1: one moment, in ``tz``. zone_type 2: the occurrence still pending in the last
    zone (UTC-12), from when the first zone (UTC+14) reaches its wall time to when the last one
    does; a firing already under way (some devices sent, others not) starts in the past.
    """
    if zone_type(body) != 2:
        moment = next_fire(body, after, tz)
        return None if moment is None else (moment, moment)
    last = next_fire(body, after, LATEST_ZONE)
    if last is None:
        return None
    return last - (EARLIEST_ZONE.utcoffset(None) - LATEST_ZONE.utcoffset(None)), last
