"""The canonical form of a schedule body, shared by both sides of every comparison.

Works on raw API dicts, whether they come from a manifest (``Schedule.to_api()``) or from the
server (a detail GET), so a diff compares like with like and a fingerprint is byte-stable for
the same content. Pure functions only: no I/O, no pydantic, no YAML.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

TriggerKind = Literal["single", "periodical", "intelligent"]

TRIGGER_KINDS: tuple[TriggerKind, ...] = ("single", "periodical", "intelligent")

# The four sections of a schedule object (docs/api.md section 2); anything else at the top level is
# either server-only (schedule_id) or reconciler-only (lifecycle) and never part of the body.
SECTIONS = ("name", "enabled", "trigger", "push")

# Free-form objects (docs/api.md section 5): the API hands them on to the device, the vendor
# channel or the app as they are, so a null in one is data, not an absent field. Copied
# untouched, keys and nulls included. Every field the manifest models type as an open mapping
# is here (tests/test_canonical.py holds the two lists together): ``alert``, ``sound`` and
# ``msg_content`` as objects, an Android ``inbox``, a Live Activity's ``attributes`` and
# ``content-state``, a VoIP payload. A null dropped from one was a silent change: a probe's
# adopted task lost ``"caller": null`` from its voip payload at the next full-body update.
PASSTHROUGH_KEYS = frozenset(
    {
        "extras",
        "custom_args",
        "third_party_channel",
        "multi_language",
        "alert",
        "sound",
        "msg_content",
        "inbox",
        "attributes",
        "content-state",
        "voip",
    }
)

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_WEEKDAY_ORDER = {day: n for n, day in enumerate(WEEKDAYS)}


def canonicalize(body: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical schedule body ``{name, enabled, trigger, push}`` of a raw API dict.

    Drops server-only keys and ``None`` values, sorts mapping keys, and normalises the spellings
    the API treats as equal (docs/api.md 2.2): ``time_unit`` lower-case, week points upper-case,
    month points as zero-padded strings, points sorted, ``point`` of a daily trigger ``[]``.
    Idempotent: ``canonicalize(canonicalize(x)) == canonicalize(x)``.
    """
    out: dict[str, Any] = {}
    for key in sorted(SECTIONS):
        value = body.get(key)
        if value is None:
            continue
        out[key] = _canon(value)
    trigger = out.get("trigger")
    if isinstance(trigger, dict):
        periodical = trigger.get("periodical")
        if isinstance(periodical, dict):
            trigger["periodical"] = _canon_periodical(periodical)
    return out


# Said wherever a warning leads people to change a schedule's name: changed alone, the name of an
# applied schedule is a delete of its task and a create of another.
RENAME_ADVICE = (
    "; to rename a schedule already applied, list its old name in `lifecycle.previous_names` "
    "(else its task is deleted and another created)"
)


def name_key(name: str) -> str:
    """The form in which a server may store or compare a schedule name.

    The vendor documents neither whether names are unique nor how they are compared, and
    servers that strip surrounding whitespace were seen (``"promo "`` stored as ``"promo"``).
    Two names with one key are one name wherever a duplicate could follow: the journal's
    lookup of a create whose answer was lost, and the planner's search for a same-name task.
    The key is NFKC (a compatibility ideograph becomes its unified form) with surrounding
    whitespace removed and inner runs of whitespace as one space; case is kept, as servers
    keep it. See docs/threat-model.md.
    """
    return " ".join(unicodedata.normalize("NFKC", name).split())


def canonical_json(body: Any) -> str:
    """Deterministic compact JSON of ``body`` (sorted keys, UTF-8 text kept as is).

    It does not canonicalise: pass a canonical body (or use ``fingerprint``).
    """
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(body: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of the canonical form of ``body``."""
    return fingerprint_of_canonical(canonicalize(body))


def fingerprint_of_canonical(body: Any) -> str:
    """``fingerprint(body)`` for a body already in canonical form, without a second pass.

    Also the digest of any JSON value (plan checksums, input digests): sorted compact JSON.
    """
    digest = hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def trigger_kind(body: Mapping[str, Any]) -> TriggerKind:
    """Which trigger the body has; ``ValueError`` unless it has exactly one (docs/api.md 2)."""
    trigger = body.get("trigger")
    if not isinstance(trigger, Mapping):
        raise ValueError("schedule body has no trigger object")
    kinds = [kind for kind in TRIGGER_KINDS if trigger.get(kind) is not None]
    if len(kinds) != 1:
        raise ValueError(f"schedule body needs exactly one trigger kind, found {kinds or 'none'}")
    return kinds[0]


def zone_type(body: Mapping[str, Any]) -> int | None:
    """The ``zone_type`` of a single or periodical trigger; ``None`` for intelligent delivery."""
    trigger = body.get("trigger")
    if not isinstance(trigger, Mapping):
        return None
    for kind in ("single", "periodical"):
        section = trigger.get(kind)
        if isinstance(section, Mapping):
            value = section.get("zone_type")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


# A tuple, not ``str | int | float``: isinstance is three times faster with it.
_LEAVES = (str, int, float)


def _canon(value: Any) -> Any:
    if isinstance(value, _LEAVES) or value is None:
        # Most values are leaves; asking for them first skips two slow ABC checks (Mapping and
        # list | tuple) per leaf: a plan canonicalises every body several times.
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in sorted(value, key=str):
            item = value[key]
            if item is None:
                continue
            out[key] = _copy(item) if key in PASSTHROUGH_KEYS else _canon(item)
        return out
    if isinstance(value, list | tuple):
        return [_canon(item) for item in value]
    return value


def _copy(value: Any) -> Any:
    """A structural copy that changes nothing (pass-through objects stay as the user wrote)."""
    if isinstance(value, _LEAVES) or value is None:
        return value
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return value


def _canon_periodical(periodical: dict[str, Any]) -> dict[str, Any]:
    unit = periodical.get("time_unit")
    if isinstance(unit, str):
        unit = unit.lower()
        periodical["time_unit"] = unit
    points = periodical.get("point")
    if unit == "day":
        # docs/api.md 2.2: point means nothing for daily triggers; the vendor sends [] (required).
        periodical["point"] = []
    elif isinstance(points, list):
        if unit == "week":
            week = [p.upper() if isinstance(p, str) else p for p in points]
            periodical["point"] = sorted(week, key=_week_key)
        elif unit == "month":
            periodical["point"] = sorted((_month_point(p) for p in points), key=str)
    return dict(sorted(periodical.items()))


def _week_key(point: Any) -> tuple[int, str]:
    order = _WEEKDAY_ORDER.get(point, len(WEEKDAYS)) if isinstance(point, str) else len(WEEKDAYS)
    return (order, str(point))


def _month_point(point: Any) -> Any:
    """``1`` / ``"1"`` / ``"01"`` all mean the first of the month (docs/api.md 2.2: "01".."31")."""
    if isinstance(point, bool):
        return point
    if isinstance(point, int) and 0 <= point < 100:
        return f"{point:02d}"
    if isinstance(point, str) and point.isascii() and point.isdigit() and len(point) < 3:
        return f"{int(point):02d}"
    return point
