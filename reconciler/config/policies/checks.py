"""Checking manifests against an environment's policies: ``check`` runs every rule in force.

The rules that read one schedule's body (``required_fields``, ``min_lead_time``) and those that
read its firing days alone (``quiet_hours``, ``blackout_dates``) are here; the frequency cap,
which weighs schedules against each other, is ``frequency_cap``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from reconciler.config.policies.frequency_cap import over_cap
from reconciler.config.policies.occurrences import TIME_KEYS, Occurrences, occurrences_of
from reconciler.config.policies.rules import (
    RULES,
    Blackout,
    LeadTime,
    Policies,
    QuietHours,
    RequiredFields,
)
from reconciler.config.policies.subjects import SHOWN, PathKey, Subject, Violation, violation
from reconciler.planning import timing
from reconciler.planning.canonical import zone_type
from reconciler.planning.firings import EARLIEST_OFFSET


def check(
    subjects: Sequence[Subject],
    policies: Policies,
    *,
    now: datetime,
    tz: tzinfo,
    known: Iterable[str] | None = None,
) -> list[Violation]:
    """Every violation of ``policies`` by ``subjects``, in file and line order.

    ``known``: the names of schedules already created (the state file); a manifest outside it
    is a new schedule for ``min_lead_time``. ``None``: every manifest is new.
    """
    if not policies:
        return []
    out: list[Violation] = []
    if policies.required_fields is not None:
        out += _required(subjects, policies.required_fields)
    if policies.min_lead_time is not None:
        out += _lead_time(subjects, policies.min_lead_time, now, tz, set(known or ()))
    if (
        policies.quiet_hours is not None
        or policies.frequency_cap is not None
        or policies.blackout_dates is not None
    ):
        occurrences = occurrences_of(subjects, now, tz)
        if policies.quiet_hours is not None:
            out += _quiet(occurrences, policies.quiet_hours, tz)
        if policies.blackout_dates is not None:
            out += _blackout(occurrences, policies.blackout_dates, tz)
        if policies.frequency_cap is not None:
            out += over_cap(occurrences, policies.frequency_cap, tz)
    out.sort(key=lambda v: (v.path, v.line, v.col, RULES.index(v.rule), v.message))
    return out


def _required(subjects: Sequence[Subject], rule: RequiredFields) -> list[Violation]:
    out: list[Violation] = []
    for subject in subjects:
        for dotted in rule.fields:
            key: PathKey = tuple(dotted.split("."))
            value: Any = subject.body
            for step in key:
                value = value.get(step) if isinstance(value, Mapping) else None
            if value is None:
                out.append(
                    violation(
                        "required_fields",
                        rule.level,
                        subject,
                        key,
                        f"{dotted} is required in this environment but {subject.name!r} "
                        "does not set it",
                    )
                )
    return out


def _lead_time(
    subjects: Sequence[Subject], rule: LeadTime, now: datetime, tz: tzinfo, known: set[str]
) -> list[Violation]:
    out: list[Violation] = []
    for subject in subjects:
        if subject.name in known or any(n in known for n in subject.previous_names):
            continue
        single = (subject.body.get("trigger") or {}).get("single")
        if not isinstance(single, Mapping) or subject.body.get("enabled") is False:
            continue
        try:
            naive = timing.parse_datetime(str(single["time"]))
        except (KeyError, ValueError):
            continue
        if zone_type(subject.body) == 2:
            first = naive.replace(tzinfo=UTC) - EARLIEST_OFFSET  # the first zone to reach it
            shown = f"{naive:%Y-%m-%d %H:%M} device local time (first {first:%Y-%m-%d %H:%M} UTC)"
        else:
            first = timing.parse_local(str(single["time"]), tz)
            shown = f"{naive:%Y-%m-%d %H:%M} {tz}"
        ahead = first - now.astimezone(UTC)
        if ahead < rule.minimum:
            out.append(
                violation(
                    "min_lead_time",
                    rule.level,
                    subject,
                    TIME_KEYS["single"],
                    f"new one-shot {subject.name!r} fires at {shown}, "
                    f"{_ahead(ahead)}; new one-shots need at least "
                    f"{_duration(rule.minimum)} of lead time",
                )
            )
    return out


def _ahead(span: timedelta) -> str:
    return "already past" if span < timedelta(0) else f"{_duration(span)} from now"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    text = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
    return text


def _quiet(occurrences: Sequence[Occurrences], rule: QuietHours, tz: tzinfo) -> list[Violation]:
    out: list[Violation] = []
    for occ in occurrences:
        if rule.contains(occ.at):
            bad = [d for d in occ.days if d not in occ.shifted or rule.contains(occ.shifted[d])]
        else:
            bad = [d for d in occ.shifted if rule.contains(occ.shifted[d])]
        if not bad:
            continue
        zone = "on each device" if occ.spread else f"in {tz}"
        out.append(
            violation(
                "quiet_hours",
                rule.level,
                occ.subject,
                occ.time_key,
                f"{occ.subject.name!r} fires {_days(bad, occ, tz)}, inside the quiet hours "
                f"{rule.describe()} {zone}",
            )
        )
    return out


def _days(days: Sequence[int], occ: Occurrences, tz: tzinfo) -> str:
    shown = ", ".join(occ.when(d, tz) for d in sorted(days)[:SHOWN])
    more = len(days) - SHOWN
    return f"at {shown}" + (f" and {more} more time(s)" if more > 0 else "")


def _blackout(occurrences: Sequence[Occurrences], rule: Blackout, tz: tzinfo) -> list[Violation]:
    out: list[Violation] = []
    dates = {d.toordinal() for d in rule.dates}
    for occ in occurrences:
        bad = sorted(dates.intersection(occ.days))
        if bad:
            out.append(
                violation(
                    "blackout_dates",
                    rule.level,
                    occ.subject,
                    occ.time_key,
                    f"{occ.subject.name!r} fires on a blackout date: {_days(bad, occ, tz)}",
                )
            )
    return out
