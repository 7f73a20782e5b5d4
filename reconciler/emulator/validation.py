"""The emulator's own wire validation of schedule bodies (docs/api.md 2 and 5), and the push
content checks batch pushes share (``batch_validation``; bodies are decoded by ``decoding``).

Deliberately independent of ``reconciler.manifests.models``: if the client and the emulator
shared one validator, a client bug would be invisible. Every check raises a ``WireError``
carrying the code the vendor documents for it; messages name the offending field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.emulator import wire
from reconciler.emulator.decoding import Fail
from reconciler.emulator.firing import WEEKDAYS, trigger_kind
from reconciler.emulator.wire import invalid, push_invalid, time_invalid

SCHEDULE_KEYS = ("name", "enabled", "trigger", "push")
TRIGGER_KINDS = ("single", "periodical", "intelligent")
PUSH_KEYS = {"from", "to", "body", "request_id", "custom_args"}
TO_LIST_KEYS = ("registration_id", "alias", "tag", "tag_and", "tag_not")
TO_KEYS = {*TO_LIST_KEYS, "seg", "live_activity_id"}
BODY_KEYS = {"platform", "notification", "message", "live_activity", "voip", "options"}
PLATFORMS = ("android", "ios", "hmos")
NOTIFICATION_KEYS = {"alert", "android", "ios", "hmos"}
OPTION_KEYS = {
    "time_to_live", "override_msg_id", "apns_production", "apns_collapse_id",
    "big_push_duration", "multi_language", "third_party_channel", "classification",
    "voice_value", "enhanc_message", "plan_id", "cid", "auto_truncation",
}  # fmt: skip
_CID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_BADGE_RE = re.compile(r"^[+-]?\d+\Z")


# --------------------------------------------------------------------------- schedules


def validate_schedule(body: Any, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """Check a create or update body; return the stored form (without ``schedule_id``).

    Updates are full-body (docs/api.md section 2.4): all four sections are required every time.
    """
    if not isinstance(body, dict):
        raise invalid("section is invalid: the body must be a JSON object")
    missing = [k for k in SCHEDULE_KEYS if k not in body]
    if missing == ["push"]:
        # The code table files a missing push under 28102 "push param is nil or invalid".
        raise push_invalid("push param is nil or invalid: push is missing")
    if missing:
        raise invalid(
            f"section is invalid: missing {', '.join(missing)} "
            "(every create and update must send name, enabled, trigger and push in full)"
        )
    unknown = sorted(set(body) - {*SCHEDULE_KEYS, "schedule_id"})
    if unknown:
        raise invalid(f"section is invalid: unknown section(s) {', '.join(unknown)}")
    _check_name(body["name"])
    if not isinstance(body["enabled"], bool):
        raise invalid("enabled: must be true or false")
    _check_trigger(body["trigger"], now=now, tz=tz)
    _check_push(body["push"])
    return {k: body[k] for k in SCHEDULE_KEYS}


def check_replaceable(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Refuse an update that changes the trigger kind or the zone_type (docs/api.md section 2.4)."""
    old_kind, new_kind = trigger_kind(old), trigger_kind(new)
    if old_kind != new_kind:
        raise invalid(
            f"update target task: trigger kind cannot change ({old_kind} -> {new_kind}); "
            "create a new task and delete this one"
        )
    if old_kind == "intelligent":
        return
    old_zone, new_zone = old[old_kind]["zone_type"], new[new_kind]["zone_type"]
    if old_zone != new_zone:
        raise invalid(
            f"update target task: zone_type cannot change ({old_zone} -> {new_zone}); "
            "create a new task and delete this one"
        )


# The name rule as the project documents it (docs/manifests.md, field reference): ASCII
# letters, digits, "_" and Chinese characters, plus space and "-" (used by the vendor's own
# examples), at least one of them not a space or "-". Written out here, not imported: the
# emulator keeps its own.
_NAME_CHARS = re.compile(
    r"[A-Za-z0-9_ \-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)
_NAME_SEPARATORS = " -"


def name_problem(name: Any) -> str | None:
    """Why ``name`` breaks the name rule, or None (the tests compare this with the models)."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    size = len(name.encode("utf-8", errors="surrogatepass"))
    if size > 255:
        return f"at most 255 bytes (UTF-8), got {size}"
    bad = sorted({c for c in name if not _NAME_CHARS.fullmatch(c)})
    if bad:
        return (
            f"characters {''.join(bad)!r} not allowed "
            "(ASCII letters, digits, '_', Chinese characters, space and '-' only)"
        )
    if all(c in _NAME_SEPARATORS for c in name):
        return "needs at least one letter, digit, '_' or Chinese character"
    return None


def _check_name(name: Any) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise invalid(f"name: {problem}")


def _check_trigger(trigger: Any, *, now: datetime, tz: ZoneInfo) -> None:
    if not isinstance(trigger, dict):
        raise invalid("trigger: must be an object")
    kinds = [k for k in trigger if k in TRIGGER_KINDS]
    only_keys(trigger, set(TRIGGER_KINDS), "trigger")
    if len(kinds) != 1:
        raise invalid("trigger: exactly one of single, periodical, intelligent is required")
    kind = kinds[0]
    spec = trigger[kind]
    if not isinstance(spec, dict):
        raise invalid(f"trigger.{kind}: must be an object")
    latest = wire.add_one_year(now)
    if kind == "single":
        only_keys(spec, {"time", "zone_type"}, f"trigger.{kind}")
        _zone_type(spec, kind)
        moment = _datetime(spec, "time", "trigger.single.time", tz)
        if moment <= now:
            raise time_invalid(f"trigger.single.time {spec['time']!r} is not in the future")
        if moment > latest:
            raise time_invalid(f"trigger.single.time {spec['time']!r} is more than a year ahead")
    elif kind == "periodical":
        _check_periodical(spec, now=now, tz=tz)
    else:
        only_keys(spec, {"backup_time"}, "trigger.intelligent")
        if spec.get("backup_time") == "now":
            return
        moment = _datetime(spec, "backup_time", "trigger.intelligent.backup_time", tz)
        if moment <= now or moment > latest:
            raise time_invalid(
                'trigger.intelligent.backup_time must be "now" or a time within the next year'
            )


def _check_periodical(spec: dict[str, Any], *, now: datetime, tz: ZoneInfo) -> None:
    where = "trigger.periodical"
    only_keys(spec, {"start", "end", "time", "time_unit", "point", "frequency", "zone_type"}, where)
    _zone_type(spec, "periodical")
    start = _naive(spec, "start", f"{where}.start")
    end = _naive(spec, "end", f"{where}.end")
    if end <= start:
        raise time_invalid(f"{where}.end must be after start")
    if end > wire.add_one_year(start):
        raise time_invalid(f"{where}: start to end spans more than one year")
    if wire.localize(end, tz) <= now:
        raise time_invalid(f"{where}.end {spec['end']!r} has passed: the task could never fire")
    if wire.parse_time_of_day(spec.get("time")) is None:
        raise time_invalid(f'{where}.time must be "HH:mm:ss" (24 h), got {spec.get("time")!r}')
    unit = spec.get("time_unit")
    if not isinstance(unit, str) or unit.lower() not in ("day", "week", "month"):
        raise time_invalid(f"{where}.time_unit must be day, week or month, got {unit!r}")
    frequency = spec.get("frequency")
    if frequency is not None and (
        isinstance(frequency, bool) or not isinstance(frequency, int) or not 1 <= frequency <= 100
    ):
        raise time_invalid(f"{where}.frequency must be an integer 1..100, got {frequency!r}")
    point = spec.get("point")
    if unit.lower() == "day":
        if point is not None and not isinstance(point, list):
            raise time_invalid(f"{where}.point must be a list")
        return  # docs/api.md section 2.2: irrelevant for "day"
    if not isinstance(point, list) or not point:
        raise time_invalid(f"{where}.point: one or more points are required for {unit!r}")
    for p in point:
        if unit.lower() == "week":
            ok = isinstance(p, str) and p.upper() in WEEKDAYS
        else:
            ok = isinstance(p, str) and wire.MONTH_POINT_RE.fullmatch(p) is not None
        if not ok:
            expected = "MON..SUN" if unit.lower() == "week" else '"01".."31" (strings)'
            raise time_invalid(f"{where}.point: {p!r} is not one of {expected}")


def _zone_type(spec: Mapping[str, Any], kind: str) -> None:
    # docs/api.md section 3 decision: zone_type outside 1/2 is rejected with 28100.
    zone = spec.get("zone_type")
    if isinstance(zone, bool) or not isinstance(zone, int) or zone not in (1, 2):
        raise invalid(f"trigger.{kind}.zone_type must be 1 or 2, got {zone!r}")


def _naive(spec: Mapping[str, Any], key: str, where: str) -> datetime:
    parsed = wire.parse_datetime(spec.get(key))
    if parsed is None:
        raise time_invalid(f'{where} must be "yyyy-MM-dd HH:mm:ss", got {spec.get(key)!r}')
    return parsed


def _datetime(spec: Mapping[str, Any], key: str, where: str, tz: ZoneInfo) -> datetime:
    return wire.localize(_naive(spec, key, where), tz)


def only_keys(spec: Mapping[str, Any], allowed: set[str], where: str, fail: Fail = invalid) -> None:
    """Refuse keys outside ``allowed``, all of them named, with the endpoint's error."""
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(unknown)}")


# --------------------------------------------------------------------------- push (section 5)


def _check_push(push: Any) -> None:
    if not isinstance(push, dict):
        raise push_invalid("push param is nil or invalid: push must be an object")
    only_keys(push, PUSH_KEYS, "push", push_invalid)
    for key in ("from", "request_id"):
        if key in push and not isinstance(push[key], str):
            raise push_invalid(f"push.{key} must be a string")
    if "custom_args" in push and not isinstance(push["custom_args"], dict | str):
        raise push_invalid("push.custom_args must be an object or a string")
    _check_to(push.get("to"))
    _check_body(push.get("body"))


def _check_to(to: Any) -> None:
    if to == "all":
        return
    if not isinstance(to, dict) or not to:
        raise push_invalid('push.to is required: "all" or an object of targets')
    only_keys(to, TO_KEYS, "push.to", push_invalid)
    for key in TO_LIST_KEYS:
        if key not in to:
            continue
        values = to[key]
        if not isinstance(values, list) or not values:
            raise push_invalid(f"push.to.{key} must be a non-empty list of strings")
        for v in values:
            if not isinstance(v, str) or not v:
                raise push_invalid(f"push.to.{key}: {v!r} is not a non-empty string")
            if key != "registration_id" and len(v.encode("utf-8")) > 40:
                raise push_invalid(f"push.to.{key}: {v!r} is longer than 40 bytes")
    if "seg" in to and not (isinstance(to["seg"], dict) and isinstance(to["seg"].get("id"), str)):
        raise push_invalid('push.to.seg must be {"id": "<segment id>"}')
    if "live_activity_id" in to and not isinstance(to["live_activity_id"], str):
        raise push_invalid("push.to.live_activity_id must be a string")


def _check_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise push_invalid("push.body is required and must be an object")
    only_keys(body, BODY_KEYS, "push.body", push_invalid)
    platforms = _platforms(body.get("platform"))
    contents = [k for k in ("notification", "message", "live_activity", "voip") if k in body]
    if not contents:
        raise push_invalid(
            "push.body needs at least one of notification, message, live_activity, voip"
        )
    if "voip" in body and len(contents) > 1:
        raise push_invalid("push.body.voip cannot be combined with other content")
    if "live_activity" in body and ({"notification", "message"} & set(contents)):
        raise push_invalid("push.body.live_activity cannot be combined with notification/message")
    if {"voip", "live_activity"} & set(contents) and platforms != {"ios"}:
        raise push_invalid('push.body: live_activity and voip are iOS only (platform "ios")')
    for key in contents:
        if not isinstance(body[key], dict):
            raise push_invalid(f"push.body.{key} must be an object")
    if "notification" in body:
        check_notification(body["notification"], "push.body.notification", push_invalid)
    if "message" in body:
        check_message(body["message"], "push.body.message", push_invalid)
    if "options" in body:
        check_options(body["options"], "push.body.options", push_invalid)


def _platforms(platform: Any) -> set[str]:
    if platform == "all":
        return set(PLATFORMS)
    if isinstance(platform, str) and platform in PLATFORMS:
        return {platform}
    if (
        isinstance(platform, list)
        and platform
        and all(isinstance(p, str) and p in PLATFORMS for p in platform)
    ):
        return set(platform)
    raise push_invalid(
        'push.body.platform must be "all", "android", "ios", "hmos" or a list of the last three, '
        f"got {platform!r}"
    )


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def check_notification(notification: Any, where: str, fail: Fail) -> None:
    """Shape and size of a notification object (shared with the batch endpoints)."""
    if not isinstance(notification, dict) or not notification:
        raise fail(f"{where} must be a non-empty object")
    only_keys(notification, NOTIFICATION_KEYS, where, fail)
    if _size(notification) > wire.MAX_CONTENT_BYTES:
        raise fail(f"{where} is larger than {wire.MAX_CONTENT_BYTES} bytes")
    for platform in PLATFORMS:
        sub = notification.get(platform)
        if sub is None:
            continue
        if not isinstance(sub, dict):
            raise fail(f"{where}.{platform} must be an object")
        if "extras" in sub and not isinstance(sub["extras"], dict):
            raise fail(f"{where}.{platform}.extras must be an object")
    badge = (notification.get("ios") or {}).get("badge")
    if badge is not None and not (
        (isinstance(badge, int) and not isinstance(badge, bool))
        or (isinstance(badge, str) and _BADGE_RE.match(badge))
    ):
        raise fail(f'{where}.ios.badge must be an integer or a string like "+1"')
    hmos = notification.get("hmos") or {}
    for key, low in (("badge_add_num", 1), ("badge_set_num", 0)):
        value = hmos.get(key)
        if value is not None and (not isinstance(value, int) or not low <= value <= 99):
            raise fail(f"{where}.hmos.{key} must be an integer {low}..99")


def check_message(message: Any, where: str, fail: Fail) -> None:
    """A custom message needs ``msg_content`` and fits in 4000 bytes."""
    if not isinstance(message, dict) or "msg_content" not in message:
        raise fail(f"{where}.msg_content is required")
    if _size(message) > wire.MAX_CONTENT_BYTES:
        raise fail(f"{where} is larger than {wire.MAX_CONTENT_BYTES} bytes")


def check_options(options: Any, where: str, fail: Fail) -> None:
    """Known option keys with their documented ranges (docs/api.md section 5)."""
    if not isinstance(options, dict):
        raise fail(f"{where} must be an object")
    only_keys(options, OPTION_KEYS, where, fail)
    ttl = options.get("time_to_live")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise fail(f"{where}.time_to_live must be a non-negative integer (seconds)")
    duration = options.get("big_push_duration")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= 1440
    ):
        raise fail(f"{where}.big_push_duration must be an integer 0..1440 (minutes)")
    if "apns_production" in options and not isinstance(options["apns_production"], bool):
        raise fail(f"{where}.apns_production must be true or false")
    cid = options.get("cid")
    if cid is not None and not (isinstance(cid, str) and _CID_RE.match(cid)):
        raise fail(f"{where}.cid must be at most 64 of letters, digits, '_' and '-'")
