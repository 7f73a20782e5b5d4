"""A schedule's delivery history: its msg-id records as a table or JSON, times in a time zone.

Pure: takes the ``MsgRecord`` list the client decoded (docs/api.md section 3) and renders it. The
execution time is shown in the environment's time zone, as people read it; the JSON carries the
same instant with its offset and the raw ``ts`` in epoch milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.printable import columns, padded
from reconciler.remote.responses import MsgRecord

_HEADERS = ("EXECUTED", "MSG_ID", "ERROR", "MESSAGE", "RETRY")


@dataclass(frozen=True)
class Execution:
    """One firing of a schedule, in the time zone it is shown in."""

    executed_at: datetime  # aware, in the display time zone
    msg_id: str
    error_code: int
    error_message: str
    need_retry: bool

    @property
    def ok(self) -> bool:
        return self.error_code == 0

    @property
    def ts(self) -> int:
        """Epoch milliseconds, as the API sends them."""
        return round(self.executed_at.timestamp() * 1000)


def executions(records: Sequence[MsgRecord], tz: ZoneInfo) -> list[Execution]:
    """The records as executions in ``tz``, oldest first (ties keep the server's order)."""
    rows = [
        Execution(
            executed_at=r.executed_at.astimezone(tz),
            msg_id=r.msg_id,
            error_code=r.error_code,
            error_message=r.error_message,
            need_retry=r.need_retry,
        )
        for r in records
    ]
    return sorted(rows, key=lambda e: e.executed_at)


def human_time(moment: datetime) -> str:
    """``2027-01-01 12:00:00 CST``: the local wall time and the zone's abbreviation."""
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def render_text(rows: Sequence[Execution], *, title: str, tz: ZoneInfo) -> str:
    """An aligned table and a summary line; a plain sentence when it never fired."""
    if not rows:
        return f"No executions yet for {title}.\n"
    table = [
        (
            human_time(e.executed_at),
            e.msg_id,
            "-" if e.ok else str(e.error_code),
            e.error_message or "-",
            "yes" if e.need_retry else "no",
        )
        for e in rows
    ]
    widths = [max(len(h), *(columns(row[i]) for row in table)) for i, h in enumerate(_HEADERS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(padded(c, w) for c, w in zip(cells, widths, strict=True)).rstrip()

    failed = sum(1 for e in rows if not e.ok)
    out = [line(_HEADERS), *(line(row) for row in table), ""]
    out.append(
        f"{len(rows)} execution(s) of {title}: {len(rows) - failed} ok, {failed} failed; "
        f"times in {tz.key}."
    )
    return "\n".join(out) + "\n"


def to_json(
    rows: Sequence[Execution], *, name: str | None, schedule_id: str, tz: ZoneInfo
) -> dict[str, Any]:
    """The JSON document of ``reconciler history --format json``."""
    return {
        "format_version": JSON_OUTPUT_VERSION,
        "name": name,
        "schedule_id": schedule_id,
        "timezone": tz.key,
        "count": len(rows),
        "failed": sum(1 for e in rows if not e.ok),
        "executions": [
            {
                "executed_at": e.executed_at.isoformat(),
                "ts": e.ts,
                "msg_id": e.msg_id,
                "ok": e.ok,
                "error": {"code": e.error_code, "message": e.error_message},
                "need_retry": e.need_retry,
            }
            for e in rows
        ],
    }


def render_json(
    rows: Sequence[Execution], *, name: str | None, schedule_id: str, tz: ZoneInfo
) -> str:
    return (
        json.dumps(
            to_json(rows, name=name, schedule_id=schedule_id, tz=tz), indent=2, ensure_ascii=False
        )
        + "\n"
    )
