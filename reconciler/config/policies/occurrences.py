"""A schedule's future firings as the calendar rules see them: the local days it fires on and
one wall time (quiet hours, blackout dates and the frequency cap need nothing more).

Speed: :func:`reconciler.planning.firings.firings` costs ~25 µs a firing, so a year of daily
firings of 1000 schedules would take ten seconds. The checks need days and times of day only: a
periodical trigger fires at one wall time on the days :func:`_periodical_dates` lists (the rules of
``timing``, stepped by unit instead of tested day by day; a property test holds it equal to
``firings``), and a zone_type 1 firing moves off that wall time only on a day a clock change
skips it, which :func:`_shifted_days` checks on the days around each clock change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from reconciler.config.policies.rules import MAX_DAYS
from reconciler.config.policies.subjects import PathKey, Subject
from reconciler.planning import timing
from reconciler.planning.canonical import trigger_kind, zone_type
from reconciler.planning.firings import EARLIEST_OFFSET, firings

ONE_DAY = timedelta(days=1)


@dataclass
class Occurrences:
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


TIME_KEYS = {
    "single": ("trigger", "single", "time"),
    "periodical": ("trigger", "periodical", "time"),
    "intelligent": ("trigger", "intelligent", "backup_time"),
}


def occurrences_of(subjects: Sequence[Subject], now: datetime, tz: tzinfo) -> list[Occurrences]:
    """The future firings of each enabled schedule with a readable trigger that fires again."""
    out: list[Occurrences] = []
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
                Occurrences(
                    subject,
                    kind,
                    first.end is not None,
                    local.time(),
                    [local.date().toordinal()],
                    {},
                    TIME_KEYS[kind],
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
        out.append(Occurrences(subject, kind, spread, at, days, shifted, TIME_KEYS[kind]))
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
