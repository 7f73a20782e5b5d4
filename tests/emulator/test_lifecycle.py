"""Lifecycle rules (docs/api.md section 2.4): the clock fires tasks, records msg-ids, expires them.

START is Monday 2027-01-04 09:00 UTC; the test emulator's time zone is UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, Faults
from tests.emulator.helpers import START, at, create, error_code, intelligent, modified, periodical
from tests.emulator.helpers import single as single_body

DAY = 86400.0


def msg_records(api: httpx.Client, sid: str) -> list[dict[str, Any]]:
    body = api.get(f"/v4/schedules/{sid}/msg-ids").json()
    assert body["count"] == len(body["MsgIds"])
    return [json.loads(item) for item in body["MsgIds"]]


def ts(moment: str) -> int:
    return (
        int(datetime.strptime(moment, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()) * 1000
    )


def listed_ids(api: httpx.Client) -> list[str]:
    return [s["schedule_id"] for s in api.get("/v4/schedules").json()["schedules"]]


# ----------------------------------------------------------------------------- single


def test_single_does_not_fire_before_its_time(api: httpx.Client, emulator: Emulator) -> None:
    """One second before its time a single task is listed and has no msg-ids."""
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    emulator.advance(3 * 3600 - 1)
    assert msg_records(api, sid) == []
    assert listed_ids(api) == [sid]


def test_single_fires_once_at_its_time(api: httpx.Client, emulator: Emulator) -> None:
    """At its time a single task gains exactly one successful msg-id record stamped then."""
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    emulator.advance(3 * 3600)
    emulator.advance(DAY)
    [record] = msg_records(api, sid)
    assert record["error"] == {"code": 0, "message": ""}
    assert record["needRetry"] is False
    assert record["ts"] == ts("2027-01-04 12:00:00")
    assert record["msg_id"].isdigit()


def test_msg_ids_items_are_json_encoded_strings(api: httpx.Client, emulator: Emulator) -> None:
    """Each MsgIds item is a string holding JSON, as in the vendor example."""
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    emulator.advance(DAY)
    [item] = api.get(f"/v4/schedules/{sid}/msg-ids").json()["MsgIds"]
    assert isinstance(item, str)
    assert set(json.loads(item)) == {"msg_id", "error", "needRetry", "ts"}


def test_sent_single_is_gone(api: httpx.Client, emulator: Emulator) -> None:
    """After firing, a single task is "already sent": GET/PUT/DELETE 404/28104, not listed."""
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    emulator.advance(DAY)
    responses = [
        api.get(f"/v4/schedules/{sid}"),
        api.put(f"/v4/schedules/{sid}", json=single_body(time="2027-01-09 12:00:00")),
        api.delete(f"/v4/schedules/{sid}"),
    ]
    assert [(r.status_code, error_code(r)) for r in responses] == [(404, 28104)] * 3
    assert listed_ids(api) == []


def test_disabled_single_passes_silently(api: httpx.Client, emulator: Emulator) -> None:
    """A disabled single task records nothing at its time, and is gone afterwards."""
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    api.put(f"/v4/schedules/{sid}", json=modified(single_body(time="2027-01-04 12:00:00"),
                                                   "enabled", False))  # fmt: skip
    emulator.advance(DAY)
    assert msg_records(api, sid) == []
    assert api.get(f"/v4/schedules/{sid}").status_code == 404


def test_zone_type_2_fires_like_zone_type_1(api: httpx.Client, emulator: Emulator) -> None:
    """The emulator has no devices: zone_type 2 times are read in its own time zone too."""
    sid = create(api, single_body(time="2027-01-04 12:00:00", zone_type=2))
    emulator.advance(3 * 3600)
    assert [r["ts"] for r in msg_records(api, sid)] == [ts("2027-01-04 12:00:00")]


# ----------------------------------------------------------------------------- periodical


def fired_days(api: httpx.Client, sid: str) -> list[str]:
    return [
        datetime.fromtimestamp(r["ts"] / 1000, UTC).strftime("%m-%d %H:%M")
        for r in msg_records(api, sid)
    ]


def test_daily_task_fires_every_day(api: httpx.Client, emulator: Emulator) -> None:
    """A daily task created Monday 09:00 fires at 12:00 on each of the next seven days."""
    sid = create(api, periodical(time_unit="day"))
    emulator.advance(7 * DAY)
    assert fired_days(api, sid) == [f"01-{d:02d} 12:00" for d in range(4, 11)]


def test_weekly_task_fires_on_its_points(api: httpx.Client, emulator: Emulator) -> None:
    """MON and THU points (any case) fire on Mondays and Thursdays only."""
    sid = create(api, periodical(time_unit="week", point=["mon", "THU"]))
    emulator.advance(14 * DAY)
    assert fired_days(api, sid) == ["01-04 12:00", "01-07 12:00", "01-11 12:00", "01-14 12:00"]


def test_monthly_day_30_skips_february(api: httpx.Client, emulator: Emulator) -> None:
    """Point "30" fires on 30 January and 30 March; February lacks the day and simply skips."""
    sid = create(
        api,
        periodical(time_unit="month", point=["30"], start="2027-01-01 00:00:00",
                   end="2027-04-15 00:00:00"),
    )  # fmt: skip
    emulator.set_time(datetime(2027, 4, 1, tzinfo=UTC))
    assert fired_days(api, sid) == ["01-30 12:00", "03-30 12:00"]


@pytest.mark.parametrize(
    ("spec", "until", "expected"),
    [
        ({"time_unit": "day", "frequency": 3, "start": "2027-01-04 00:00:00"},
         datetime(2027, 1, 12, tzinfo=UTC), ["01-04 12:00", "01-07 12:00", "01-10 12:00"]),
        ({"time_unit": "week", "point": ["MON"], "frequency": 2, "start": "2027-01-04 00:00:00"},
         datetime(2027, 1, 26, tzinfo=UTC), ["01-04 12:00", "01-18 12:00"]),
        ({"time_unit": "month", "point": ["05"], "frequency": 2, "start": "2027-01-01 00:00:00",
          "end": "2027-06-01 00:00:00"},
         datetime(2027, 5, 10, tzinfo=UTC), ["01-05 12:00", "03-05 12:00", "05-05 12:00"]),
    ],
    ids=["every-3-days", "every-2-weeks", "every-2-months"],
)  # fmt: skip
def test_frequency_counts_units_from_start(
    api: httpx.Client,
    emulator: Emulator,
    spec: dict[str, Any],
    until: datetime,
    expected: list[str],
) -> None:
    """``frequency`` N fires every N-th day/week/month counted from the start."""
    sid = create(api, periodical(**spec))
    emulator.set_time(until)
    assert fired_days(api, sid) == expected


def test_start_in_the_past_does_not_fire_retroactively(
    api: httpx.Client, emulator: Emulator
) -> None:
    """A task whose start lies before its creation fires only from creation on."""
    sid = create(api, periodical(start="2026-12-01 00:00:00"))
    emulator.advance(DAY)
    assert fired_days(api, sid) == ["01-04 12:00"]


def test_periodical_stops_at_end(api: httpx.Client, emulator: Emulator) -> None:
    """No firing after ``end``: a daily task ending 01-06 12:00 fires 01-04, 01-05, 01-06."""
    sid = create(api, periodical(end="2027-01-06 12:00:00"))
    emulator.advance(10 * DAY)
    assert fired_days(api, sid) == ["01-04 12:00", "01-05 12:00", "01-06 12:00"]


def test_expired_periodical_leaves_the_list(api: httpx.Client, emulator: Emulator) -> None:
    """After ``end`` a periodical task is expired: not listed, detail and delete 404/28104."""
    sid = create(api, periodical(end="2027-01-06 00:00:00"))
    emulator.advance(2 * DAY)
    assert listed_ids(api) == []
    assert api.get("/v4/schedules").json()["total_count"] == 0
    for response in (api.get(f"/v4/schedules/{sid}"), api.delete(f"/v4/schedules/{sid}")):
        assert (response.status_code, error_code(response)) == (404, 28104)


def test_expired_periodical_cannot_be_updated(api: httpx.Client, emulator: Emulator) -> None:
    """Updating an expired periodical task is refused with 400 / 28100 ("expired")."""
    sid = create(api, periodical(end="2027-01-06 00:00:00"))
    emulator.advance(2 * DAY)
    response = api.put(f"/v4/schedules/{sid}", json=periodical(end="2027-02-06 00:00:00"))
    assert (response.status_code, error_code(response)) == (400, 28100)
    assert "expired" in response.json()["error"]["message"]


def test_periodical_is_active_until_end(api: httpx.Client, emulator: Emulator) -> None:
    """One second before ``end`` the task is still listed (after its last firing)."""
    sid = create(api, periodical(end="2027-01-06 00:00:00"))
    emulator.set_time(datetime(2027, 1, 5, 23, 59, 59, tzinfo=UTC))
    assert listed_ids(api) == [sid]


def test_msg_ids_stay_readable_after_expiry(api: httpx.Client, emulator: Emulator) -> None:
    """The history of an expired task can still be read through msg-ids."""
    sid = create(api, periodical(end="2027-01-06 00:00:00"))
    emulator.advance(5 * DAY)
    assert fired_days(api, sid) == ["01-04 12:00", "01-05 12:00"]


def test_disabled_periodical_skips_firings(api: httpx.Client, emulator: Emulator) -> None:
    """While disabled a periodical task records nothing; re-enabled, it fires again."""
    sid = create(api, periodical())
    api.put(f"/v4/schedules/{sid}", json=modified(periodical(), "enabled", False))
    emulator.advance(2 * DAY)
    api.put(f"/v4/schedules/{sid}", json=periodical())
    emulator.advance(DAY)
    assert fired_days(api, sid) == ["01-06 12:00"]


def test_update_does_not_refire_past_occurrences(api: httpx.Client, emulator: Emulator) -> None:
    """Moving the time of day to earlier than now does not fire today's missed slot."""
    sid = create(api, periodical(time="12:00:00"))
    emulator.advance(DAY + 4 * 3600)  # Tuesday 13:00, fired Mon + Tue
    api.put(f"/v4/schedules/{sid}", json=periodical(time="10:00:00"))
    emulator.advance(DAY)  # Wednesday 13:00
    assert fired_days(api, sid) == ["01-04 12:00", "01-05 12:00", "01-06 10:00"]


def test_clock_going_back_never_fires_twice(api: httpx.Client, emulator: Emulator) -> None:
    """Jumping back in time and forward again does not repeat a firing."""
    sid = create(api, periodical())
    emulator.advance(DAY)
    emulator.set_time(START)
    emulator.advance(DAY)
    assert fired_days(api, sid) == ["01-04 12:00"]


def test_msg_ids_are_unique_across_tasks(api: httpx.Client, emulator: Emulator) -> None:
    """Every firing of every task gets its own msg_id."""
    a = create(api, periodical("a"))
    b = create(api, periodical("b"))
    emulator.advance(3 * DAY)
    ids = [r["msg_id"] for sid in (a, b) for r in msg_records(api, sid)]
    assert len(ids) == 6
    assert len(set(ids)) == 6


def test_failed_firing_carries_code_1011(api: httpx.Client, emulator: Emulator) -> None:
    """With fire_error_rate 1 a firing is recorded as failed: msg_id "0", code 1011."""
    emulator.faults = Faults(fire_error_rate=1.0)
    sid = create(api, single_body(time="2027-01-04 12:00:00"))
    emulator.advance(DAY)
    [record] = msg_records(api, sid)
    assert record["msg_id"] == "0"
    assert record["error"]["code"] == 1011


# ----------------------------------------------------------------------------- intelligent


def test_intelligent_fires_at_backup_time(api: httpx.Client, emulator: Emulator) -> None:
    """An intelligent task fires at ``backup_time`` and is then gone."""
    sid = create(api, intelligent(backup_time="2027-01-04 10:30:00"))
    emulator.advance(3600)
    assert msg_records(api, sid) == []
    emulator.advance(1800)
    assert [r["ts"] for r in msg_records(api, sid)] == [ts("2027-01-04 10:30:00")]
    assert api.get(f"/v4/schedules/{sid}").status_code == 404


def test_intelligent_now_fires_immediately(api: httpx.Client) -> None:
    """``backup_time: "now"`` fires at creation: the next request finds it already sent."""
    sid = create(api, intelligent(backup_time="now"))
    assert api.get(f"/v4/schedules/{sid}").status_code == 404
    assert [r["ts"] for r in msg_records(api, sid)] == [int(START.timestamp() * 1000)]


# ----------------------------------------------------------------------------- 1000 limit


def fill(emulator: Emulator, count: int) -> list[str]:
    return [emulator.add_schedule(periodical(f"filler_{i:04d}")) for i in range(count)]


def test_the_1001st_active_task_is_refused(api: httpx.Client, emulator: Emulator) -> None:
    """With 1000 active tasks a create answers 400 / 28100 and nothing is added."""
    fill(emulator, 1000)
    response = api.post("/v4/schedules", json=single_body())
    assert (response.status_code, error_code(response)) == (400, 28100)
    assert "too many" in response.json()["error"]["message"]
    assert api.get("/v4/schedules").json()["total_count"] == 1000


def test_a_delete_frees_a_slot(api: httpx.Client, emulator: Emulator) -> None:
    """At the limit, deleting one task lets the next create through."""
    ids = fill(emulator, 1000)
    api.delete(f"/v4/schedules/{ids[0]}")
    assert api.post("/v4/schedules", json=single_body()).status_code == 200


def test_expiry_frees_a_slot(api: httpx.Client, emulator: Emulator) -> None:
    """A task that fired and expired no longer counts toward the limit."""
    fill(emulator, 999)
    create(api, single_body(time=at(timedelta(minutes=5))))
    assert api.post("/v4/schedules", json=single_body()).status_code == 400
    emulator.advance(300)
    assert api.post("/v4/schedules", json=single_body()).status_code == 200


def test_disabled_tasks_count_toward_the_limit(api: httpx.Client, emulator: Emulator) -> None:
    """Disabled but unexpired tasks are active for the limit."""
    emulator.max_active = 2
    a = create(api, periodical("a"))
    create(api, periodical("b"))
    api.put(f"/v4/schedules/{a}", json=modified(periodical("a"), "enabled", False))
    assert api.post("/v4/schedules", json=single_body()).status_code == 400
