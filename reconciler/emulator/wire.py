"""Wire-level vocabulary of the emulated API: error codes, the error exception, time formats.

Everything the other emulator modules need to speak the vendor's format lives here, so that the
codes of API.md section 4 (schedules) and section 6 (batch push) are spelled in one place.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

# Schedule API codes (API.md section 4).
SCHEDULE_INVALID: Final = 28100
SCHEDULE_AUTH: Final = 28101
SCHEDULE_PUSH_INVALID: Final = 28102
SCHEDULE_TIME_INVALID: Final = 28103
SCHEDULE_NOT_FOUND: Final = 28104
SCHEDULE_INTERNAL: Final = 28200
SCHEDULE_TIMEOUT: Final = 28203

# Batch push codes (API.md section 6).
BATCH_AUTH: Final = 21004
BATCH_APPKEY_LENGTH: Final = 21008
BATCH_VALUE_INVALID: Final = 21003
BATCH_REQUEST_INVALID: Final = 21015
BATCH_CHECK_FAILED: Final = 21016
BATCH_RATE_LIMITED: Final = 23008

PAGE_SIZE: Final = 50  # API.md section 3: "50 per page"
MAX_BODY_BYTES: Final = 128 * 1024  # not published; a generous bound for one schedule body
# 500 requests of up to ~4 KB content each, plus options and custom_args (not published either).
MAX_BATCH_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_CONTENT_BYTES: Final = 4000  # API.md section 5: notification / message content
APP_KEY_LENGTH: Final = 24  # API.md section 1

_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}$")
DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


class WireError(Exception):
    """An error answer: HTTP status plus the vendor's ``{"error": {code, message}}`` body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: int, message: str) -> dict[str, Any]:
    """The vendor's error envelope (API.md section 4)."""
    return {"error": {"code": code, "message": message}}


def invalid(message: str) -> WireError:
    """400 / 28100: invalid section, expired task, not JSON, too many tasks, body too long."""
    return WireError(400, SCHEDULE_INVALID, message)


def push_invalid(message: str) -> WireError:
    """400 / 28102: push parameter missing or invalid."""
    return WireError(400, SCHEDULE_PUSH_INVALID, message)


def time_invalid(message: str) -> WireError:
    """400 / 28103: time parameter invalid (format, out of range)."""
    return WireError(400, SCHEDULE_TIME_INVALID, message)


def not_found(schedule_id: str) -> WireError:
    """404 / 28104 (API.md section 3 decision: 28104, never 28404)."""
    return WireError(
        404,
        SCHEDULE_NOT_FOUND,
        f"Request schedule operation doesn't exist: no active schedule {schedule_id!r} "
        "(wrong id, deleted, or already sent)",
    )


def parse_datetime(value: object) -> datetime | None:
    """A naive ``datetime`` from ``"yyyy-MM-dd HH:mm:ss"`` (complete, zero-padded), or None."""
    if not isinstance(value, str) or not _DATETIME_RE.match(value):
        return None
    try:
        return datetime.strptime(value, DATETIME_FORMAT)
    except ValueError:
        return None


def parse_time_of_day(value: object) -> time | None:
    """A ``time`` from ``"HH:mm:ss"`` (24 h, zero-padded), or None."""
    if not isinstance(value, str) or not _TIME_RE.match(value):
        return None
    try:
        return datetime.strptime(value, "%H:%M:%S").time()
    except ValueError:
        return None


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Interpret a wall-clock time in ``tz`` and return it as an aware UTC datetime."""
    return naive.replace(tzinfo=tz).astimezone(UTC)


def add_one_year(moment: datetime) -> datetime:
    """The same wall-clock moment a calendar year later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, day=28)


def combine(day: date, at: time) -> datetime:
    """A naive datetime from a date and a time of day."""
    return datetime.combine(day, at)
