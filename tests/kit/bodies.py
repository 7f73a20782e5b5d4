"""Schedule bodies for tests: the one builder of ``{"name", "enabled", "trigger", "push"}``.

``body`` builds a whole API body (what a manifest holds, lifecycle aside); ``single``,
``periodical`` and ``intelligent`` build its trigger section and ``push`` its push section.
Tests override by keyword what they need different; each default is a valid value
(docs/api.md 2), so a bare ``body("x")`` is a task the emulator accepts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

# The device registration ids of the vendor's examples (docs/api.md 5).
REGISTRATION_IDS = ("1a0018970ab49abda3e", "100d85590955c1d2793")


def single(time: str = "2027-03-01 10:00:00", zone_type: int = 1) -> dict[str, Any]:
    """A one-shot trigger section."""
    return {"single": {"time": time, "zone_type": zone_type}}


def periodical(
    *,
    start: str = "2027-01-01 00:00:00",
    end: str = "2027-12-31 00:00:00",
    time: str = "09:00:00",
    time_unit: str = "week",
    point: Sequence[Any] = ("MON",),
    zone_type: int = 1,
    frequency: int | None = None,
) -> dict[str, Any]:
    """A periodical trigger section (``frequency`` only when given)."""
    spec: dict[str, Any] = {
        "start": start,
        "end": end,
        "time": time,
        "time_unit": time_unit,
        "point": list(point),
        "zone_type": zone_type,
    }
    if frequency is not None:
        spec["frequency"] = frequency
    return {"periodical": spec}


def intelligent(backup_time: str = "2027-02-01 08:00:00") -> dict[str, Any]:
    """An intelligent trigger section."""
    return {"intelligent": {"backup_time": backup_time}}


def push(
    alert: str = "Hello",
    *,
    sender: str | None = "push",
    to: Any = "all",
    platform: Any = "all",
    notification: Mapping[str, Any] | None = None,
    **body_extra: Any,
) -> dict[str, Any]:
    """A push section: ``from`` (omitted when ``sender`` is None), ``to`` and ``body``.

    ``notification`` replaces the default ``{"alert": alert}``; ``body_extra`` adds keys to
    the push body after it (``options``, ``message``, ...).
    """
    section: dict[str, Any] = {} if sender is None else {"from": sender}
    section["to"] = copy.deepcopy(to)
    section["body"] = {
        "platform": copy.deepcopy(platform),
        "notification": (
            copy.deepcopy(dict(notification)) if notification is not None else {"alert": alert}
        ),
        **copy.deepcopy(body_extra),
    }
    return section


def device_push(**body_overrides: Any) -> dict[str, Any]:
    """A push to one Android device, as in the vendor's examples; ``body_overrides`` replace
    keys of its push body."""
    section = push(
        to={"registration_id": [REGISTRATION_IDS[0]]},
        platform="android",
        notification={"alert": "Hello", "android": {"title": "Hi", "extras": {"k": "v"}}},
        options={"time_to_live": 60},
    )
    section["body"].update(body_overrides)
    return section


def body(
    name: str,
    *,
    alert: str = "Hello",
    trigger: Mapping[str, Any] | None = None,
    enabled: bool = True,
    sender: str | None = "push",
    push: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete API body. The push section is ``push`` when given, else a push to everyone
    saying ``alert`` (from ``sender``); the trigger is a one-shot unless ``trigger`` is given.
    Sections passed in are copied, so one trigger can serve several bodies."""
    return {
        "name": name,
        "enabled": enabled,
        "trigger": copy.deepcopy(dict(trigger)) if trigger is not None else single(),
        "push": (copy.deepcopy(dict(push)) if push is not None else _push(alert, sender=sender)),
    }


_push = push  # ``body`` has a parameter of that name
