"""Occurrence computation (``reconciler.emulator.firing``) and the emulator's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.emulator import Emulator
from reconciler.emulator.firing import WEEKDAYS, expiry, next_occurrence, occurrences
from tests.emulator.helpers import periodical, single
from tests.kit.clock import FakeClock

UTC_ZONE = ZoneInfo("UTC")
ANCHOR = datetime(2027, 1, 1, tzinfo=UTC)


def weekly(points: list[str], frequency: int = 1) -> dict[str, Any]:
    return {
        "periodical": {
            "start": "2027-01-01 00:00:00",
            "end": "2027-12-31 23:59:59",
            "time": "08:15:00",
            "time_unit": "week",
            "point": points,
            "frequency": frequency,
            "zone_type": 1,
        }
    }


moments = st.datetimes(
    min_value=datetime(2026, 12, 1), max_value=datetime(2028, 2, 1), timezones=st.just(UTC)
)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    frequency=st.integers(1, 4),
    a=moments,
    b=moments,
    c=moments,
)
def test_occurrence_windows_add_up(
    points: list[str], frequency: int, a: datetime, b: datetime, c: datetime
) -> None:
    """Firing (a, b] then (b, c] gives exactly the firings of (a, c]: nothing lost or doubled."""
    a, b, c = sorted((a, b, c))
    trigger = weekly(points, frequency)
    split = occurrences(trigger, UTC_ZONE, ANCHOR, after=a, until=b) + occurrences(
        trigger, UTC_ZONE, ANCHOR, after=b, until=c
    )
    assert split == occurrences(trigger, UTC_ZONE, ANCHOR, after=a, until=c)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True), a=moments)
def test_every_weekly_occurrence_is_on_a_point_at_the_time(points: list[str], a: datetime) -> None:
    """Each occurrence falls on one of the points, at the configured time of day."""
    trigger = weekly(points)
    for moment in occurrences(trigger, UTC_ZONE, ANCHOR, after=a, until=a + timedelta(days=40)):
        assert WEEKDAYS[moment.weekday()] in points
        assert (moment.hour, moment.minute, moment.second) == (8, 15, 0)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True), a=moments)
def test_next_occurrence_is_the_first_occurrence(points: list[str], a: datetime) -> None:
    """``next_occurrence(after=a)`` equals the first element of ``occurrences(a, end)``."""
    trigger = weekly(points)
    end = expiry(trigger, UTC_ZONE, ANCHOR)
    upcoming = occurrences(trigger, UTC_ZONE, ANCHOR, after=a, until=end)
    assert next_occurrence(trigger, UTC_ZONE, ANCHOR, after=a) == (
        upcoming[0] if upcoming else None
    )


def test_month_point_31_fires_only_in_long_months() -> None:
    """Point "31" over a year fires in the seven 31-day months only."""
    trigger = {
        "periodical": {
            "start": "2027-01-01 00:00:00",
            "end": "2027-12-31 23:59:59",
            "time": "00:00:00",
            "time_unit": "month",
            "point": ["31"],
            "zone_type": 1,
        }
    }
    fired = occurrences(
        trigger, UTC_ZONE, ANCHOR, after=ANCHOR, until=datetime(2028, 1, 1, tzinfo=UTC)
    )
    assert [m.month for m in fired] == [1, 3, 5, 7, 8, 10, 12]


# ----------------------------------------------------------------------------- time zone


def zoned(timezone: str) -> Emulator:
    return Emulator(timezone=timezone, clock=FakeClock(datetime(2027, 1, 4, tzinfo=UTC)).wall)


@pytest.mark.parametrize("zone_type", [1, 2])
def test_times_are_read_in_the_emulator_time_zone(zone_type: int) -> None:
    """In Asia/Shanghai (UTC+8), "2027-01-04 20:00:00" fires at 12:00 UTC, for either zone_type."""
    em = zoned("Asia/Shanghai")
    sid = em.add_schedule(single(time="2027-01-04 20:00:00", zone_type=zone_type))
    em.set_time(datetime(2027, 1, 4, 11, 59, 59, tzinfo=UTC))
    assert em.msg_records(sid) == []
    em.advance(1)
    [record] = em.msg_records(sid)
    assert record["ts"] == int(datetime(2027, 1, 4, 12, tzinfo=UTC).timestamp() * 1000)


def test_daily_time_follows_daylight_saving() -> None:
    """Daily 12:00 in Europe/Berlin is 11:00 UTC in winter and 10:00 UTC after 28 March 2027."""
    em = zoned("Europe/Berlin")
    sid = em.add_schedule(
        periodical(start="2027-03-26 00:00:00", end="2027-03-30 00:00:00", time="12:00:00")
    )
    em.set_time(datetime(2027, 3, 31, tzinfo=UTC))
    hours = [datetime.fromtimestamp(r["ts"] / 1000, UTC).hour for r in em.msg_records(sid)]
    assert hours == [11, 11, 10, 10]


def test_now_is_in_the_emulator_time_zone() -> None:
    """``now()`` is aware and expressed in the configured zone."""
    em = zoned("Asia/Tokyo")
    assert em.now().utcoffset() == timedelta(hours=9)
    assert em.now() == datetime(2027, 1, 4, tzinfo=UTC)


def test_set_time_needs_an_aware_datetime() -> None:
    """A naive datetime is ambiguous: ``set_time`` refuses it."""
    with pytest.raises(ValueError, match="aware"):
        zoned("UTC").set_time(datetime(2027, 1, 1))


def test_advance_moves_the_clock() -> None:
    """``advance(90)`` moves ``now()`` by 90 seconds."""
    em = zoned("UTC")
    before = em.now()
    em.advance(90)
    assert em.now() - before == timedelta(seconds=90)


def test_default_clock_is_real_time() -> None:
    """Without an injected clock the emulator follows the real UTC time."""
    em = Emulator()
    assert abs(em.now() - datetime.now(UTC)) < timedelta(seconds=5)
