"""The calendar of firings: the same moments the emulator fires at, and its renderings.

The property test runs a year of the emulator's clock over generated periodical and one-shot
schedules and compares every firing the emulator records (msg-ids) with ``firings``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.emulator import Emulator
from reconciler.planning.firings import Firing, firings, render_ics, render_json, render_text
from tests.kit import bodies

START = datetime(2027, 1, 1, tzinfo=UTC)
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def _body(name: str, trigger: dict[str, Any]) -> dict[str, Any]:
    return bodies.body(name, trigger=trigger, alert="hi", sender=None)


@st.composite
def triggers(draw: st.DrawFn) -> dict[str, Any]:
    """Periodical triggers of every unit (points, frequency, 29-31 of a month) and one-shots."""
    kind = draw(st.sampled_from(["single", "day", "week", "month"]))
    offset = timedelta(days=draw(st.integers(0, 200)), hours=draw(st.integers(0, 23)))
    first = (START + offset).replace(tzinfo=None)
    at = f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 15, 30])):02d}:00"
    if kind == "single":
        return {"single": {"time": first.strftime("%Y-%m-%d ") + at, "zone_type": 1}}
    end = first + timedelta(days=draw(st.integers(1, 364 - offset.days)))
    spec: dict[str, Any] = {
        "start": first.strftime("%Y-%m-%d %H:%M:%S"),
        "end": end.strftime("%Y-%m-%d %H:%M:%S"),
        "time": at,
        "time_unit": kind,
        "zone_type": 1,
        "frequency": draw(st.integers(1, 4)),
    }
    if kind == "week":
        days = st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True)
        spec["point"] = draw(days)
    elif kind == "month":
        days = draw(st.lists(st.integers(1, 31), min_size=1, max_size=3, unique=True))
        spec["point"] = [f"{d:02d}" for d in days]
    else:
        spec["point"] = []
    return {"periodical": spec}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(triggers(), min_size=1, max_size=4),
    st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
)
def test_calendar_equals_the_emulators_firings_over_a_year(
    specs: list[dict[str, Any]], zone: str
) -> None:
    """Every firing the emulator makes in a simulated year is in the calendar, and no other."""
    tz = ZoneInfo(zone)
    # The clock starts two days early: every generated local time lies ahead in any zone.
    begin = START - timedelta(days=2)
    emulator = Emulator(clock=lambda: begin, timezone=zone)
    bodies = {f"s{i}": _body(f"s{i}", t) for i, t in enumerate(specs)}
    ids = {name: emulator.add_schedule(b) for name, b in bodies.items()}
    end = START + timedelta(days=366)
    emulator.set_time(end)
    fired: set[tuple[str, datetime]] = set()
    for name, sid in ids.items():
        for raw in emulator.api_msg_ids(sid).body["MsgIds"]:
            ts = json.loads(raw)["ts"]
            fired.add((name, datetime.fromtimestamp(ts / 1000, UTC)))
    planned = {
        (f.name, f.start)
        for f in firings(((n, b, "") for n, b in bodies.items()), start=begin, end=end, tz=tz)
    }
    assert planned == fired


def _emulator_firings(
    bodies: dict[str, dict[str, Any]], zone: str, begin: datetime, end: datetime
) -> set[tuple[str, datetime]]:
    """(name, instant) of every firing the emulator records between ``begin`` and ``end``."""
    emulator = Emulator(clock=lambda: begin, timezone=zone)
    ids = {name: emulator.add_schedule(b) for name, b in bodies.items()}
    emulator.set_time(end)
    return {
        (name, datetime.fromtimestamp(json.loads(raw)["ts"] / 1000, UTC))
        for name, sid in ids.items()
        for raw in emulator.api_msg_ids(sid).body["MsgIds"]
    }


def _daily(start: str, end: str, at: str, zone_type: int = 1) -> dict[str, Any]:
    return {
        "periodical": {
            "start": start,
            "end": end,
            "time": at,
            "time_unit": "day",
            "point": [],
            "zone_type": zone_type,
        }
    }


def test_calendar_equals_the_emulator_across_berlin_clock_changes() -> None:
    """Around both clock changes of Europe/Berlin in 2027 (28 March, 31 October) the calendar
    has exactly the emulator's firings: a daily 02:30 fires at 03:30 on the spring-forward day
    and once on the autumn day; a span starting at 03:00 on the spring-forward day does not
    fire that day's 02:30 (its wall time is before the start, docs/api.md 2.2); a span ending
    at 02:45 that day fires it; a one-shot at the skipped 02:30 fires at 03:30."""
    bodies = {
        "spring": _body("spring", _daily("2027-03-20 00:00:00", "2027-04-05 00:00:00", "02:30:00")),
        "starts_at_3": _body(
            "starts_at_3", _daily("2027-03-28 03:00:00", "2027-04-05 00:00:00", "02:30:00")
        ),
        "ends_in_gap": _body(
            "ends_in_gap", _daily("2027-03-20 00:00:00", "2027-03-28 02:45:00", "02:30:00")
        ),
        "autumn": _body("autumn", _daily("2027-10-25 00:00:00", "2027-11-05 00:00:00", "02:30:00")),
        "one_shot": _body("one_shot", {"single": {"time": "2027-03-28 02:30:00", "zone_type": 1}}),
    }
    tz = ZoneInfo("Europe/Berlin")
    begin, end = datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 12, 1, tzinfo=UTC)
    fired = _emulator_firings(bodies, "Europe/Berlin", begin, end)
    planned = {
        (f.name, f.start)
        for f in firings(((n, b, "") for n, b in bodies.items()), start=begin, end=end, tz=tz)
    }
    assert planned == fired
    spring_day = {f for f in planned if f[1].date() == datetime(2027, 3, 28).date()}
    three_thirty = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert spring_day == {("spring", three_thirty), ("ends_in_gap", three_thirty),
                          ("one_shot", three_thirty)}  # fmt: skip
    assert len([f for f in planned if f[0] == "autumn"]) == 11


def test_a_zone_type_2_firing_on_the_environments_clock_change_keeps_its_wall_time() -> None:
    """zone_type 2 wall times are the devices' own: a daily 02:30 in an environment whose zone
    (Europe/Berlin) skips 02:30 on 28 March still spans 02:30 at UTC+14 to 02:30 at UTC-12 that
    day, not 03:30 (no device elsewhere changes its clock with Berlin)."""
    body = _body("d2", _daily("2027-03-26 00:00:00", "2027-03-30 00:00:00", "02:30:00", 2))
    tz = ZoneInfo("Europe/Berlin")
    items = firings(
        [("d2", body, "")],
        start=datetime(2027, 3, 26, tzinfo=UTC),
        end=datetime(2027, 3, 30, tzinfo=UTC),
        tz=tz,
    )
    spans = [(f.start, f.end) for f in items]
    day = datetime(2027, 3, 28, 2, 30, tzinfo=UTC)  # the wall time, written as UTC
    assert (day - timedelta(hours=14), day + timedelta(hours=12)) in spans
    assert all(f.end is not None and f.end - f.start == timedelta(hours=26) for f in items)
    assert [(f.start + timedelta(hours=14)).strftime("%H:%M") for f in items] == ["02:30"] * 4


def test_a_zone_type_2_firing_is_the_span_of_its_local_time_across_zones() -> None:
    """09:00 local on every device: from 09:00 at UTC+14 to 09:00 at UTC-12."""
    body = _body("w", {"single": {"time": "2027-01-04 09:00:00", "zone_type": 2}})
    [f] = firings([("w", body, "")], start=START, end=START + timedelta(days=7), tz=UTC)
    assert f.start == datetime(2027, 1, 3, 19, 0, tzinfo=UTC)
    assert f.end == datetime(2027, 1, 4, 21, 0, tzinfo=UTC)
    assert "device time zones" in render_text([f], UTC, START, START + timedelta(days=7))


def test_disabled_and_immediate_schedules_do_not_appear() -> None:
    """A disabled manifest fires nothing; an intelligent 'now' is sent at creation only."""
    off = {**_body("off", {"single": {"time": "2027-01-02 09:00:00", "zone_type": 1}})}
    off["enabled"] = False
    now = _body("now", {"intelligent": {"backup_time": "now"}})
    items = [("off", off, ""), ("now", now, "")]
    assert firings(items, start=START, end=START + timedelta(days=7), tz=UTC) == []


def test_ics_is_valid_line_folded_icalendar() -> None:
    """CRLF lines of at most 75 octets, escaped text, one VEVENT per firing, stable UIDs."""
    f = Firing(START, "Sale; 50%, all" + "x" * 80, None, "single", "schedules/a.yaml:1:1")
    text = render_ics([f], env="prod", stamp=START)
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in lines)
    assert "SUMMARY:Push: Sale\\; 50%\\, all" in text
    assert text.count("BEGIN:VEVENT") == 1
    assert text == render_ics([f], env="prod", stamp=START)


def test_json_lists_each_firing_with_its_local_time() -> None:
    """Machine-readable output: UTC instants plus the local rendering."""
    body = _body("a", {"single": {"time": "2027-01-02 09:00:00", "zone_type": 1}})
    tz = ZoneInfo("Asia/Shanghai")
    items = firings([("a", body, "src")], start=START, end=START + timedelta(days=7), tz=tz)
    data = json.loads(render_json(items, tz, START, START + timedelta(days=7)))
    assert data["firings"] == [
        {
            "name": "a",
            "start": "2027-01-02T01:00:00+00:00",
            "end": None,
            "local": "2027-01-02 09:00",
            "trigger": "single",
            "source": "src",
        }
    ]
