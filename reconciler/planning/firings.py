"""Every firing of a set of schedules in a time window, and its renderings (text, markdown,
json, ics, html).

One job: turn schedule bodies into the list of moments they fire at between two instants, with
the rules of ``timing`` (the same the emulator fires by: time_unit, points, frequency, a day a
month lacks is skipped), and render that list. A zone_type 2 firing happens at one local time
on every device, so it is a span of instants: from the moment that local time comes in the
earliest time zone (UTC+14) to the moment it comes in the latest (UTC-12).

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.planning import timing
from reconciler.planning.canonical import trigger_kind, zone_type

# The earliest and latest civil time zones in use: a local wall time T comes first at UTC+14
# (T - 14 h in UTC) and last at UTC-12 (T + 12 h).
EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=12)
# A periodical trigger spans at most a year (docs/api.md section 2.2): no window needs more
# firings than one a day for a year for each schedule; the cap guards against a huge window.
MAX_FIRINGS_PER_SCHEDULE = 400


@dataclass(frozen=True, order=True)
class Firing:
    """One firing: ``start`` (UTC), and for zone_type 2 the ``end`` of the span (UTC)."""

    start: datetime
    name: str
    end: datetime | None = None  # None: one instant (zone_type 1, or an intelligent backup)
    kind: str = ""
    source: str = ""

    @property
    def is_span(self) -> bool:
        return self.end is not None

    def local_date(self, tz: tzinfo) -> date:
        """The calendar day it fires on: for a span, the devices' local date."""
        if self.end is None:
            return self.start.astimezone(tz).date()
        return (self.start + EARLIEST_OFFSET).date()

    def local_time(self, tz: tzinfo) -> str:
        """``HH:MM`` in ``tz``; for a span, the devices' local wall time."""
        if self.end is None:
            return self.start.astimezone(tz).strftime("%H:%M")
        return (self.start + EARLIEST_OFFSET).strftime("%H:%M") + " local"


def firings(
    schedules: Iterable[tuple[str, Mapping[str, Any], str]],
    *,
    start: datetime,
    end: datetime,
    tz: tzinfo,
) -> list[Firing]:
    """Every firing of ``(name, body, source)`` overlapping ``[start, end)``, in time order.

    Disabled schedules do not fire. Times in triggers are read in ``tz`` (the environment's
    zone); a zone_type 2 firing is the span of that local time across all zones.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window must be timezone-aware")
    out: list[Firing] = []
    for name, body, source in schedules:
        if body.get("enabled") is False:
            continue
        out.extend(_of_one(name, body, source, start.astimezone(UTC), end.astimezone(UTC), tz))
    out.sort()
    return out


def _of_one(
    name: str, body: Mapping[str, Any], source: str, start: datetime, end: datetime, tz: tzinfo
) -> list[Firing]:
    try:
        kind = trigger_kind(body)
    except ValueError:
        return []
    spread = zone_type(body) == 2
    if kind == "intelligent" and timing.is_immediate(body):
        return []  # sent once, when it is created: no moment in a calendar
    # zone_type 2: the trigger's wall times are the devices' own, read in no zone of ours (a
    # clock change of the environment's zone moves nothing on a device elsewhere): they are
    # enumerated as UTC wall times, and a span reaching into the window starts up to
    # LATEST_OFFSET before it.
    zone = UTC if spread else tz
    after = start - (LATEST_OFFSET if spread else timedelta(0))
    after -= timedelta(microseconds=1)  # next_fire is strictly after: include ``start``
    out: list[Firing] = []
    try:
        while len(out) < MAX_FIRINGS_PER_SCHEDULE:
            at = timing.next_fire(body, after, zone)
            if at is None:
                break
            after = at
            if spread:
                first = at - EARLIEST_OFFSET  # ``at`` is the wall time itself (read in UTC)
                last = at + LATEST_OFFSET
                if first >= end:
                    break
                if last >= start:
                    out.append(Firing(first, name, last, kind, source))
            else:
                if at >= end:
                    break
                if at >= start:
                    out.append(Firing(at, name, None, kind, source))
    except (ValueError, KeyError, TypeError, OverflowError):
        # Only a server's answer gets here (manifests are checked): a trigger without a
        # readable time, or one at the end of the calendar, has no firing to show.
        return out
    return out


# -- rendering -----------------------------------------------------------------------------


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def when(f: Firing, tz: tzinfo) -> str:
    """When it fires, in ``tz``; a zone_type 2 firing as the span ``start .. end``."""
    if f.end is None:
        return _local(f.start, tz)
    return f"{_local(f.start, tz)} .. {_local(f.end, tz)} (device time zones)"


_when = when


def render_text(items: Sequence[Firing], tz: tzinfo, start: datetime, end: datetime) -> str:
    head = f"Firings from {_local(start, tz)} to {_local(end, tz)} ({tz})"
    if not items:
        return head + "\n  (none)\n"
    width = max(len(_when(f, tz)) for f in items)
    lines = [head, ""]
    lines += [f"  {_when(f, tz).ljust(width)}  {f.name}" for f in items]
    lines += ["", f"{len(items)} firing(s) of {len({f.name for f in items})} schedule(s)."]
    return "\n".join(lines) + "\n"


def render_markdown(items: Sequence[Firing], tz: tzinfo, title: str) -> str:
    lines = [f"#### {html.escape(title, quote=False)}", ""]
    if not items:
        return "\n".join([*lines, "Nothing fires in this window.", ""])
    lines += [f"| when ({tz}) | schedule |", "|---|---|"]
    for f in items:
        name = f.name.replace("|", "\\|")
        lines.append(f"| {_when(f, tz)} | `{name}` |")
    return "\n".join(lines) + "\n"


def render_json(items: Sequence[Firing], tz: tzinfo, start: datetime, end: datetime) -> str:
    data = {
        "format_version": JSON_OUTPUT_VERSION,
        "type": "calendar",
        "timezone": str(tz),
        "from": start.astimezone(UTC).isoformat(),
        "to": end.astimezone(UTC).isoformat(),
        "firings": [
            {
                "name": f.name,
                "start": f.start.isoformat(),
                "end": f.end.isoformat() if f.end is not None else None,
                "local": _when(f, tz),
                "trigger": f.kind,
                "source": f.source,
            }
            for f in items
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _ics_text(value: str) -> str:
    # RFC 5545 section 3.3.11: backslash, semicolon and comma are escaped, newlines as \n.
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """RFC 5545 section 3.1: lines longer than 75 octets are folded (continuations start with a
    space), never inside a UTF-8 sequence."""
    out: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode("utf-8")) > (75 if not out else 74):
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def render_ics(items: Sequence[Firing], *, env: str, stamp: datetime) -> str:
    """An iCalendar file (RFC 5545) with one event per firing, for calendar applications."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//engagelab-reconciler//calendar//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_ics_text(f'Scheduled pushes ({env})')}",
    ]
    for f in items:
        digest = hashlib.sha256(f"{f.name}\0{f.start.isoformat()}".encode()).hexdigest()[:16]
        uid = f"{_ics_time(f.start)}-{digest}@reconciler"
        end = f.end if f.end is not None else f.start + timedelta(minutes=15)
        summary = f"Push: {f.name}" + (" (device time zones)" if f.is_span else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{_ics_time(stamp)}",
            f"DTSTART:{_ics_time(f.start)}",
            f"DTEND:{_ics_time(end)}",
            f"SUMMARY:{_ics_text(summary)}",
            f"DESCRIPTION:{_ics_text(f'{f.kind} trigger; {f.source}')}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _fold(line))


def render_html(
    items: Sequence[Firing], tz: tzinfo, start: datetime, end: datetime, *, env: str
) -> str:
    """A self-contained page: one month grid per month of the window, firings in their days."""
    by_day: dict[date, list[Firing]] = {}
    for f in items:
        by_day.setdefault(f.local_date(tz), []).append(f)
    first = start.astimezone(tz).date().replace(day=1)
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    months: list[str] = []
    month = first
    while month <= last:
        months.append(_month_table(month, by_day, tz))
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    title = f"Scheduled pushes — {env}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1d2330; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th {{ background: #eef1f6; padding: .3rem; font-weight: 600; }}
td {{ border: 1px solid #d6dbe4; vertical-align: top; height: 5.5rem; padding: .25rem; }}
td.out {{ background: #f7f8fa; color: #a0a7b4; }}
.day {{ font-size: .8rem; color: #5a6375; }}
.push {{ display: block; margin-top: .2rem; padding: .1rem .3rem; border-radius: .3rem;
  background: #dbe8ff; font-size: .78rem; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }}
.push.span {{ background: #ffe7c7; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(items)} firing(s), {html.escape(str(tz))} time. Orange: zone_type 2 (each device at its
own local time; the day shown is the local date).</p>
{"".join(months)}
</body></html>
"""


def _month_table(month: date, by_day: Mapping[date, list[Firing]], tz: tzinfo) -> str:
    rows: list[str] = []
    day = month - timedelta(days=month.weekday())
    while True:
        cells = []
        for _ in range(7):
            pushes = "".join(
                f'<span class="push{" span" if f.is_span else ""}" '
                f'title="{html.escape(f.name)}">'
                f"{f.local_time(tz)} {html.escape(f.name)}</span>"
                for f in by_day.get(day, [])
            )
            css = "" if day.month == month.month else ' class="out"'
            cells.append(f'<td{css}><span class="day">{day.day}</span>{pushes}</td>')
            day += timedelta(days=1)
        rows.append("<tr>" + "".join(cells) + "</tr>")
        if day.month != month.month:
            break
    head = "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    return (
        f"<h2>{month.strftime('%B %Y')}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
