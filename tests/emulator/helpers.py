"""Request bodies and small helpers shared by the emulator conformance tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET

START = datetime(2027, 1, 4, 9, 0, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
AUTH = (DEMO_APP_KEY, DEMO_MASTER_SECRET)


class FakeClock:
    """A clock that only moves when told to (the emulator adds its own offset on top)."""

    def __init__(self, moment: datetime = START) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class SleepRecorder:
    """An injected ``sleep`` that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeMonotonic:
    """An injected monotonic clock for the rate-limit buckets."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def push(**body_overrides: Any) -> dict[str, Any]:
    """A valid push section (docs/api.md section 5)."""
    body: dict[str, Any] = {
        "platform": "android",
        "notification": {"alert": "Hello", "android": {"title": "Hi", "extras": {"k": "v"}}},
        "options": {"time_to_live": 60},
    }
    body.update(body_overrides)
    return {"from": "push", "to": {"registration_id": ["1a0018970ab49abda3e"]}, "body": body}


def at(delta: timedelta, base: datetime = START) -> str:
    """A wire time string ``delta`` after ``base`` (UTC = the test emulator's zone)."""
    return (base + delta).strftime("%Y-%m-%d %H:%M:%S")


def single(
    name: str = "one shot", *, time: str | None = None, zone_type: int = 1
) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": True,
        "trigger": {"single": {"time": time or at(timedelta(hours=3)), "zone_type": zone_type}},
        "push": push(),
    }


def periodical(
    name: str = "weekly digest",
    *,
    start: str = "2027-01-01 00:00:00",
    end: str = "2027-03-01 00:00:00",
    time: str = "12:00:00",
    time_unit: str = "day",
    point: list[str] | None = None,
    frequency: int | None = None,
    zone_type: int = 1,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "start": start,
        "end": end,
        "time": time,
        "time_unit": time_unit,
        "point": point if point is not None else [],
        "zone_type": zone_type,
    }
    if frequency is not None:
        spec["frequency"] = frequency
    return {"name": name, "enabled": True, "trigger": {"periodical": spec}, "push": push()}


def intelligent(name: str = "smart", *, backup_time: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": True,
        "trigger": {"intelligent": {"backup_time": backup_time or at(timedelta(hours=2))}},
        "push": push(),
    }


def modified(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the dotted ``path`` set (``...=DELETE`` removes it)."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


DELETE = object()


def create(api: httpx.Client, body: dict[str, Any]) -> str:
    """Create ``body`` and return its schedule_id (fails the test on any error)."""
    response = api.post("/v4/schedules", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["schedule_id"])


def error_code(response: httpx.Response) -> int:
    return int(response.json()["error"]["code"])
