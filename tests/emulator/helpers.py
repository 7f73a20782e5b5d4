"""Request bodies and small helpers shared by the emulator conformance tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from tests.kit import bodies

START = datetime(2027, 1, 4, 9, 0, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
AUTH = (DEMO_APP_KEY, DEMO_MASTER_SECRET)


def at(delta: timedelta, base: datetime = START) -> str:
    """A wire time string ``delta`` after ``base`` (UTC = the test emulator's zone)."""
    return (base + delta).strftime("%Y-%m-%d %H:%M:%S")


# The emulator tests' bodies: ``tests.kit.bodies`` with a push to one device and triggers near
# ``START`` (a daily periodical over January and February).
PERIODICAL = {
    "start": "2027-01-01 00:00:00",
    "end": "2027-03-01 00:00:00",
    "time": "12:00:00",
    "time_unit": "day",
    "point": (),
}


def single(
    name: str = "one shot", *, time: str | None = None, zone_type: int = 1
) -> dict[str, Any]:
    trigger = bodies.single(time or at(timedelta(hours=3)), zone_type)
    return bodies.body(name, trigger=trigger, push=bodies.device_push())


def periodical(name: str = "weekly digest", **spec: Any) -> dict[str, Any]:
    """``spec``: the keywords of ``tests.kit.bodies.periodical``, over ``PERIODICAL``."""
    trigger = bodies.periodical(**{**PERIODICAL, **spec})
    return bodies.body(name, trigger=trigger, push=bodies.device_push())


def intelligent(name: str = "smart", *, backup_time: str | None = None) -> dict[str, Any]:
    trigger = bodies.intelligent(backup_time or at(timedelta(hours=2)))
    return bodies.body(name, trigger=trigger, push=bodies.device_push())


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
