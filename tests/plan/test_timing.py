"""When triggers fire (docs/api.md 2.1-2.3), with the documented zone approximation."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.planning.timing import fires_within, is_finished, is_immediate, next_fire
from tests.kit.bodies import intelligent, periodical, single
from tests.plan.builders import TZ, body


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_single_fires_at_its_local_time() -> None:
    """A single trigger fires at its time read in the zone: 10:00 Berlin (winter) = 09:00 UTC."""
    b = body("x", trigger=single("2027-03-01 10:00:00"))
    assert next_fire(b, utc(2027, 1, 1), TZ) == utc(2027, 3, 1, 9)


def test_single_at_or_before_after_does_not_fire() -> None:
    """Only times strictly after `after` count: at its own time a one-shot is done."""
    b = body("x", trigger=single("2027-03-01 10:00:00"))
    assert next_fire(b, utc(2027, 3, 1, 9), TZ) is None
    assert is_finished(b, utc(2027, 3, 1, 9, 0, 1), TZ)


def test_zone_type_2_is_read_in_the_same_zone() -> None:
    """Device-time zone is unknowable: zone_type 2 uses the environment zone as well."""
    one = body("x", trigger=single("2027-07-01 10:00:00", zone_type=1))
    two = body("x", trigger=single("2027-07-01 10:00:00", zone_type=2))
    assert next_fire(one, utc(2027, 1, 1), TZ) == next_fire(two, utc(2027, 1, 1), TZ)
    assert next_fire(one, utc(2027, 1, 1), TZ) == utc(2027, 7, 1, 8)  # CEST is UTC+2


def test_fixed_offset_zone_is_accepted() -> None:
    """Any tzinfo works, not only ZoneInfo."""
    b = body("x", trigger=single("2027-03-01 10:00:00"))
    assert next_fire(b, utc(2027, 1, 1), timezone(timedelta(hours=8))) == utc(2027, 3, 1, 2)


def test_daily_fires_every_day_at_time_within_start_and_end() -> None:
    """A daily trigger fires at `time` each day from start to end (end inclusive)."""
    b = body(
        "x",
        trigger=periodical(
            start="2027-01-01 00:00:00", end="2027-01-03 09:00:00", time="09:00:00", time_unit="day"
        ),
    )
    assert next_fire(b, utc(2026, 12, 1), TZ) == utc(2027, 1, 1, 8)
    assert next_fire(b, utc(2027, 1, 1, 8), TZ) == utc(2027, 1, 2, 8)
    assert next_fire(b, utc(2027, 1, 2, 8), TZ) == utc(2027, 1, 3, 8)
    assert next_fire(b, utc(2027, 1, 3, 8), TZ) is None


def test_daily_skips_the_start_day_when_time_is_before_start() -> None:
    """start 10:00 with time 09:00: the first firing is the next day."""
    b = body("x", trigger=periodical(start="2027-01-01 10:00:00", time="09:00:00", time_unit="day"))
    assert next_fire(b, utc(2026, 12, 1), TZ) == utc(2027, 1, 2, 8)


def test_daily_frequency_counts_days_from_start() -> None:
    """frequency 3 fires on the start day, then every third day."""
    b = body(
        "x",
        trigger=periodical(
            start="2027-01-01 00:00:00", time="09:00:00", time_unit="day", frequency=3
        ),
    )
    assert next_fire(b, utc(2027, 1, 1, 9), TZ) == utc(2027, 1, 4, 8)


def test_weekly_fires_on_the_listed_weekdays() -> None:
    """Week points name weekdays (any case): 2027-01-01 is a Friday, next MON is the 4th."""
    b = body("x", trigger=periodical(time_unit="week", point=["mon", "FRI"], time="09:00:00"))
    assert next_fire(b, utc(2026, 12, 1), TZ) == utc(2027, 1, 1, 8)
    assert next_fire(b, utc(2027, 1, 1, 8), TZ) == utc(2027, 1, 4, 8)


def test_weekly_frequency_counts_weeks_from_the_start_week() -> None:
    """frequency 2 on MON: the week of start (Mon 2026-12-28) fires, the next week does not."""
    b = body("x", trigger=periodical(time_unit="week", point=["MON"], frequency=2, time="09:00:00"))
    assert next_fire(b, utc(2026, 12, 1), TZ) == utc(2027, 1, 11, 8)


def test_monthly_skips_days_a_month_lacks() -> None:
    """A month point "31" does not fire in February or April (docs/api.md 2.2: not an error)."""
    b = body(
        "x",
        trigger=periodical(
            start="2027-02-01 00:00:00", time_unit="month", point=["31"], time="09:00:00"
        ),
    )
    assert next_fire(b, utc(2027, 1, 1), TZ) == utc(2027, 3, 31, 7)  # CEST from 28 March
    assert next_fire(b, utc(2027, 3, 31, 7), TZ) == utc(2027, 5, 31, 7)


def test_monthly_frequency_counts_months_from_start() -> None:
    """frequency 2 on the 1st: start month, then every second month."""
    b = body(
        "x",
        trigger=periodical(
            start="2027-01-01 00:00:00", time_unit="month", point=[1], frequency=2, time="09:00:00"
        ),
    )
    assert next_fire(b, utc(2027, 1, 2), TZ) == utc(2027, 3, 1, 8)


def test_periodical_after_end_is_finished() -> None:
    """A periodical trigger whose end passed can never fire again (docs/api.md 2.4: expired)."""
    b = body("x", trigger=periodical(start="2026-01-01 00:00:00", end="2026-06-01 00:00:00"))
    assert is_finished(b, utc(2027, 1, 1), TZ)


def test_intelligent_fires_at_backup_time() -> None:
    """An intelligent trigger's backup_time is its (last) firing."""
    b = body("x", trigger=intelligent("2027-02-01 08:00:00"))
    assert next_fire(b, utc(2027, 1, 1), TZ) == utc(2027, 2, 1, 7)
    assert is_finished(b, utc(2027, 2, 1, 7), TZ)


def test_intelligent_now_fires_immediately_and_never_finishes() -> None:
    """backup_time "now" sends on creation: next_fire answers `after`, never finished."""
    b = body("x", trigger=intelligent("now"))
    assert is_immediate(b)
    assert next_fire(b, utc(2030, 1, 1), TZ) == utc(2030, 1, 1)
    assert not is_finished(b, utc(2030, 1, 1), TZ)
    assert fires_within(b, utc(2030, 1, 1), TZ, minutes=5)


def test_fires_within_is_bounded_by_the_guard() -> None:
    """fires_within answers whether the next firing is at most `minutes` away."""
    b = body("x", trigger=single("2027-01-01 10:05:00"))  # 09:05 UTC
    assert fires_within(b, utc(2027, 1, 1, 9), TZ, 5)
    assert not fires_within(b, utc(2027, 1, 1, 9), TZ, 4)


def test_naive_after_is_refused() -> None:
    """A naive datetime would be ambiguous: ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire(body("x"), datetime(2027, 1, 1), TZ)


def test_body_without_trigger_is_refused() -> None:
    """A body that has no single/periodical/intelligent trigger is a ValueError."""
    with pytest.raises(ValueError, match="exactly one"):
        next_fire({"name": "x"}, utc(2027, 1, 1), TZ)


# -- properties -------------------------------------------------------------------------------

UNITS = st.sampled_from(["day", "week", "month"])
WEEK_POINTS = st.lists(
    st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]),
    min_size=1,
    max_size=7,
    unique=True,
)
MONTH_POINTS = st.lists(
    st.integers(1, 31).map(lambda d: f"{d:02d}"), min_size=1, max_size=5, unique=True
)


@st.composite
def periodical_bodies(draw: st.DrawFn) -> dict:
    start = datetime(2027, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    end = start + timedelta(minutes=draw(st.integers(1, 200 * 24 * 60)))
    unit = draw(UNITS)
    points = draw(WEEK_POINTS) if unit == "week" else draw(MONTH_POINTS) if unit == "month" else []
    at = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:00"
    trig = periodical(
        start=f"{start:%Y-%m-%d %H:%M:%S}",
        end=f"{end:%Y-%m-%d %H:%M:%S}",
        time=at,
        time_unit=unit,
        point=points,
        frequency=draw(st.none() | st.integers(1, 4)),
    )
    return body("p", trigger=trig)


AFTER = st.integers(0, 400 * 24 * 60).map(lambda m: utc(2026, 12, 1) + timedelta(minutes=m))


FIXED = timezone(timedelta(hours=2))  # no DST, so wall-clock checks are exact
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def reference_firings(spec: dict) -> list[datetime]:
    """Every firing of a periodical spec, generated unit by unit (an independent oracle)."""
    start = datetime.strptime(spec["start"], "%Y-%m-%d %H:%M:%S")
    end = datetime.strptime(spec["end"], "%Y-%m-%d %H:%M:%S")
    at = datetime.strptime(spec["time"], "%H:%M:%S").time()
    freq = spec.get("frequency") or 1
    days: list = []
    if spec["time_unit"] == "day":
        day = start.date()
        while day <= end.date():
            days.append(day)
            day += timedelta(days=freq)
    elif spec["time_unit"] == "week":
        monday = start.date() - timedelta(days=start.weekday())
        while monday <= end.date():
            days += [monday + timedelta(days=DAYS.index(p)) for p in spec["point"]]
            monday += timedelta(weeks=freq)
    else:
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            for p in spec["point"]:
                with contextlib.suppress(ValueError):  # 30 February: does not fire
                    days.append(datetime(year, month, int(p)).date())
            month += freq
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    fires = [datetime.combine(d, at) for d in days]
    return sorted(f.replace(tzinfo=FIXED) for f in fires if start <= f <= end)


@settings(max_examples=200, deadline=None)
@given(periodical_bodies(), AFTER)
def test_next_fire_matches_an_independent_enumeration(b: dict, after: datetime) -> None:
    """Property: next_fire is the first firing after `after` among all firings, generated
    independently unit by unit (frequency, weekdays, month days, start/end bounds)."""
    expected = next((f for f in reference_firings(b["trigger"]["periodical"]) if f > after), None)
    assert next_fire(b, after, FIXED) == expected


@settings(max_examples=150, deadline=None)
@given(periodical_bodies(), AFTER, st.integers(1, 10_000))
def test_next_fire_skips_no_firing(b: dict, after: datetime, minutes: int) -> None:
    """Property: asking again from any moment before the answer gives the same answer."""
    fire = next_fire(b, after, TZ)
    later = after + timedelta(minutes=minutes)
    if fire is not None and later < fire:
        assert next_fire(b, later, TZ) == fire
    if fire is None:
        assert next_fire(b, later, TZ) is None
        assert is_finished(b, after, TZ)


@settings(max_examples=100, deadline=None)
@given(periodical_bodies(), AFTER)
def test_successive_firings_increase(b: dict, after: datetime) -> None:
    """Property: stepping from one firing to the next moves strictly forward."""
    first = next_fire(b, after, TZ)
    if first is not None:
        second = next_fire(b, first, TZ)
        assert second is None or second > first
