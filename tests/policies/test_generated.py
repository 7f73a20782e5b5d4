"""Generated cases: the policies' firing days equal those of ``firings``, and generated
collisions and quiet-hour violations are caught at the exact file and line (and nothing else)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.policies.occurrences import occurrences_of
from reconciler.config.policies.subjects import Subject
from reconciler.planning.firings import firings
from tests.kit import bodies
from tests.policies.helpers import (
    BERLIN,
    NOW,
    TIME_LINE,
    check,
    load,
    periodical_text,
    rules,
    single_text,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = st.sampled_from(
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Shanghai",
        "Australia/Lord_Howe",
        "America/Santiago",
    ]
)
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@st.composite
def periodical_specs(draw: st.DrawFn) -> dict[str, Any]:
    start = date(2027, 1, 1) + timedelta(days=draw(st.integers(0, 200)))
    length = draw(st.integers(0, 366))
    unit = draw(st.sampled_from(["day", "week", "month"]))
    if unit == "week":
        point: list[str] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True))
    elif unit == "month":
        point = [f"{d:02d}" for d in draw(st.lists(st.integers(1, 31), min_size=1, unique=True))]
    else:
        point = []
    hh, mm = draw(st.integers(0, 23)), draw(st.sampled_from([0, 30, 59]))
    start_time = draw(st.sampled_from(["00:00:00", "12:00:00", f"{hh:02d}:{mm:02d}:00"]))
    end_time = draw(st.sampled_from(["00:00:00", "23:59:59", f"{hh:02d}:{mm:02d}:00"]))
    return {
        "start": f"{start.isoformat()} {start_time}",
        "end": f"{(start + timedelta(days=length)).isoformat()} {end_time}",
        "time": f"{hh:02d}:{mm:02d}:00",
        "time_unit": unit,
        "point": point,
        "frequency": draw(st.integers(1, 4)),
        "zone_type": draw(st.sampled_from([1, 2])),
    }


@SETTINGS
@given(spec=periodical_specs(), zone=ZONES, now_days=st.integers(0, 300))
def test_firing_days_and_times_equal_those_of_firings(
    spec: dict[str, Any], zone: str, now_days: int
) -> None:
    """For any periodical trigger, zone and "now", the days and local times the policies check
    are exactly the local days and times of ``firings`` over the trigger's whole active span
    (clock changes included)."""
    tz = ZoneInfo(zone)
    now = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=now_days, hours=7)
    body = bodies.body("p", trigger={"periodical": spec}, push={"to": "all"})
    subject = Subject("p", body, "p.yaml", 1, 1)
    occurrences = occurrences_of([subject], now, tz)
    reference = firings([("p", body, "p.yaml")], start=now, end=now + timedelta(days=800), tz=tz)
    if spec["zone_type"] == 2:
        # A span is the wall time on every device: firings() gives its day from UTC+14. The
        # time is the trigger's own: devices do not skip it when the app's zone changes its
        # clocks (firings() moves that one span by the app's skipped hour).
        wall = time.fromisoformat(spec["time"])
        expected = [
            datetime.combine((f.start + timedelta(hours=14)).date(), wall) for f in reference
        ]
    else:
        # Future firings: strictly after "now" (firings() includes a firing at "now" itself).
        expected = [f.start.astimezone(tz).replace(tzinfo=None) for f in reference if f.start > now]
    got = [
        datetime.combine(date.fromordinal(day), occ.at_on(day))
        for occ in occurrences
        for day in occ.days
    ]
    if spec["zone_type"] == 2:
        # firings() also keeps spans still under way somewhere at "now"; the policies check
        # the firings after "now" with the wall time read in the app's zone (as timing and the
        # plan read it): a span already begun is not theirs to check.
        expected = [e for e in expected if e.replace(tzinfo=tz).astimezone(UTC) > now]
    assert got == expected


@st.composite
def audiences(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["all", "tag", "alias", "registration_id", "seg"]))
    if kind == "all":
        return "all"
    if kind == "seg":
        return f"{{seg: {{id: s{draw(st.integers(0, 2))}}}}}"
    values = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2, unique=True))
    return f"{{{kind}: [{', '.join(values)}]}}"


def _atoms(to: str) -> set[str]:
    """The test's own reading of an audience: 'all', or kind:value strings."""
    if to == "all":
        return {"all"}
    kind, _, rest = to.strip("{}").partition(": ")
    if kind == "seg":
        return {"seg:" + rest.strip("{} ").split(": ")[1]}
    return {f"{kind}:{v.strip()}" for v in rest.strip("[]").split(",")}


def _overlap(a: str, b: str) -> bool:
    x, y = _atoms(a), _atoms(b)
    return "all" in x or "all" in y or bool(x & y)


@SETTINGS
@given(
    first_day=st.integers(0, 5),
    second_day=st.integers(0, 5),
    first_minute=st.integers(0, 24 * 60 - 1),
    second_minute=st.integers(0, 24 * 60 - 1),
    first_to=audiences(),
    second_to=audiences(),
    zone_types=st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2])),
)
def test_generated_collisions_are_caught_at_the_exact_line(
    first_day: int,
    second_day: int,
    first_minute: int,
    second_minute: int,
    first_to: str,
    second_to: str,
    zone_types: tuple[int, int],
) -> None:
    """Two one-shots with `max_per_day: 1`: reported exactly when they fire on the same local
    day to overlapping audiences, at the trigger time of the later one (file and line), naming
    the earlier one; never otherwise."""
    base = date(2027, 3, 1)

    def at(days: int, minute: int) -> datetime:
        return datetime.combine(base + timedelta(days=days), datetime.min.time()) + timedelta(
            minutes=minute
        )

    times = [at(first_day, first_minute), at(second_day, second_minute)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp, "schedules")
        subjects = load(
            directory,
            {
                "one.yaml": single_text(
                    "one", f"{times[0]:%Y-%m-%d %H:%M:%S}", zone_type=zone_types[0], to=first_to
                ),
                "two.yaml": single_text(
                    "two", f"{times[1]:%Y-%m-%d %H:%M:%S}", zone_type=zone_types[1], to=second_to
                ),
            },
        )
        found = check(subjects, rules(frequency_cap={"max_per_day": 1}))
        same_day = times[0].date() == times[1].date()
        if not (same_day and _overlap(first_to, second_to)):
            assert found == []
            return
        later, earlier = ("two", "one") if (times[1], "two") > (times[0], "one") else ("one", "two")
        assert [(v.rule, v.name, v.path, v.line, v.col) for v in found] == [
            ("frequency_cap", later, f"{directory.as_posix()}/{later}.yaml", TIME_LINE, 11)
        ]
        assert f"after '{earlier}' ({directory.as_posix()}/{earlier}.yaml:1:1" in (found[0].message)


@SETTINGS
@given(
    minute=st.integers(0, 24 * 60 - 1),
    quiet_from=st.integers(0, 23),
    quiet_to=st.integers(0, 23),
    zone_type=st.sampled_from([1, 2]),
    periodical=st.booleans(),
)
def test_generated_quiet_hour_violations_are_caught_at_the_exact_line(
    minute: int, quiet_from: int, quiet_to: int, zone_type: int, periodical: bool
) -> None:
    """A push at a generated local time is reported for quiet hours exactly when that time is
    inside the generated window (across midnight or not), at the line and column of its time."""
    if quiet_from == quiet_to:
        return
    hh, mm = divmod(minute, 60)
    wall = f"{hh:02d}:{mm:02d}:00"
    if periodical:
        # January: no clock change in Berlin, so the wall time holds on every day.
        text = periodical_text(
            "q", at=wall, end="2027-01-31 00:00:00", zone_type=zone_type, to="all"
        )
    else:
        text = single_text("q", f"2027-01-15 {wall}", zone_type=zone_type)
    inside = (
        quiet_from * 60 <= minute < quiet_to * 60
        if quiet_from < quiet_to
        else minute >= quiet_from * 60 or minute < quiet_to * 60
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp, "schedules")
        subjects = load(directory, {"q.yaml": text})
        found = check(
            subjects,
            rules(quiet_hours={"from": f"{quiet_from:02d}:00", "to": f"{quiet_to:02d}:00"}),
            tz=BERLIN,
            now=NOW,
        )
    if not inside:
        assert found == []
        return
    assert [(v.rule, v.path, v.line, v.col) for v in found] == [
        ("quiet_hours", f"{directory.as_posix()}/q.yaml", TIME_LINE, 11)
    ]
    assert f"{hh:02d}:{mm:02d}" in found[0].message


@SETTINGS
@given(
    start_day=st.integers(0, 10),
    length=st.integers(0, 20),
    unit=st.sampled_from(["day", "week", "month"]),
    frequency=st.integers(1, 3),
    periodical_minute=st.integers(0, 24 * 60 - 1),
    single_day=st.integers(0, 30),
    single_minute=st.integers(0, 24 * 60 - 1),
    to=st.tuples(audiences(), audiences()),
    zone_types=st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2])),
)
def test_generated_periodical_collisions_are_caught_at_the_exact_line(
    start_day: int,
    length: int,
    unit: str,
    frequency: int,
    periodical_minute: int,
    single_day: int,
    single_minute: int,
    to: tuple[str, str],
    zone_types: tuple[int, int],
) -> None:
    """A periodical and a one-shot with `max_per_day: 1` collide exactly on a day the
    periodical fires (its days taken from ``firings``) when the audiences overlap; the later
    firing of that day is reported at its trigger time."""
    base = date(2027, 2, 1)  # no clock change in Berlin before the end of March
    start = base + timedelta(days=start_day)
    point = {"day": "[]", "week": "[MON, WED, SAT]", "month": "['02', '09', '15', '28']"}[unit]
    ph, pm = divmod(periodical_minute, 60)
    sh, sm = divmod(single_minute, 60)
    single_at = datetime.combine(base + timedelta(days=single_day), datetime.min.time())
    single_at += timedelta(minutes=single_minute)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp, "schedules")
        subjects = load(
            directory,
            {
                "one.yaml": periodical_text(
                    "one",
                    at=f"{ph:02d}:{pm:02d}:00",
                    start=f"{start.isoformat()} 00:00:00",
                    end=f"{(start + timedelta(days=length)).isoformat()} 23:59:59",
                    unit=unit,
                    point=point,
                    frequency=frequency,
                    zone_type=zone_types[0],
                    to=to[0],
                ),
                "two.yaml": single_text(
                    "two", f"{single_at:%Y-%m-%d %H:%M:%S}", zone_type=zone_types[1], to=to[1]
                ),
            },
        )
        found = check(subjects, rules(frequency_cap={"max_per_day": 1}))
        body = subjects[0].body if subjects[0].name == "one" else subjects[1].body
        days = {
            f.local_date(BERLIN)
            for f in firings(
                [("one", body, "")], start=NOW, end=NOW + timedelta(days=400), tz=BERLIN
            )
        }
        if not (single_at.date() in days and _overlap(*to)):
            assert found == []
            return
        later = "two" if (sh * 60 + sm, "two") > (ph * 60 + pm, "one") else "one"
        assert [(v.name, v.path, v.line, v.col) for v in found] == [
            (later, f"{directory.as_posix()}/{later}.yaml", TIME_LINE, 11)
        ]
