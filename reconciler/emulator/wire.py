"""Wire-level vocabulary of the emulated API: error codes, the error exception, time formats.

Everything the other emulator modules need to speak the vendor's format lives here, so that the
codes of docs/api.md section 4 (schedules) and section 6 (batch push) are spelled in one place.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

# Schedule API codes (docs/api.md section 4).
SCHEDULE_INVALID: Final = 28100
SCHEDULE_AUTH: Final = 28101
SCHEDULE_PUSH_INVALID: Final = 28102
SCHEDULE_TIME_INVALID: Final = 28103
SCHEDULE_NOT_FOUND: Final = 28104
SCHEDULE_NO_TARGET: Final = 28105
SCHEDULE_INTERNAL: Final = 28200
SCHEDULE_TIMEOUT: Final = 28203

# Batch push codes (docs/api.md section 6).
BATCH_AUTH: Final = 21004
BATCH_APPKEY_LENGTH: Final = 21008
BATCH_VALUE_INVALID: Final = 21003
BATCH_REQUEST_INVALID: Final = 21015
BATCH_CHECK_FAILED: Final = 21016
BATCH_RATE_LIMITED: Final = 23008
BATCH_NO_PERMISSION: Final = 21038
BATCH_PAYMENT_DUE: Final = 21043
BATCH_IP_NOT_ALLOWED: Final = 23009
BATCH_INTERNAL: Final = 21009

# Global batch errors a fault can inject (docs/emulator.md): all HTTP 400, whole batch refused,
# nothing sent. 23008 here is the whole call over the quota (the page files it at 400 too).
BATCH_FAULT_MESSAGES: Final[dict[int, str]] = {
    BATCH_NO_PERMISSION: "the app has no push permission",
    BATCH_PAYMENT_DUE: "the app has no push permission: payment outstanding",
    BATCH_IP_NOT_ALLOWED: "the IP address is not on the app's allow-list",
    BATCH_INTERNAL: "internal system error, do not retry",
    BATCH_RATE_LIMITED: "API rate limit exceeded",
}

NO_TARGET_MESSAGE: Final = (
    "The push task is invalid. There is no push target for the scheduled time"
)
RATE_LIMIT_MESSAGE: Final = "rate limit exceeded"
# The page shows this on list, detail and msg-ids answers and on error answers.
JSON_UTF8: Final = "application/json; charset=utf-8"

PAGE_SIZE: Final = 50  # docs/api.md section 3: "50 per page"
MAX_BODY_BYTES: Final = 128 * 1024  # not published; a generous bound for one schedule body
# 500 requests of up to ~4 KB content each, plus options and custom_args (not published either).
MAX_BATCH_BODY_BYTES: Final = 8 * 1024 * 1024
MAX_CONTENT_BYTES: Final = 4000  # docs/api.md section 5: notification / message content
APP_KEY_LENGTH: Final = 24  # docs/api.md section 1
# Not published: deeper bodies are refused before anything walks them recursively. Manifests
# nest at most 100 levels, so every body the client can send fits.
MAX_DEPTH: Final = 128

# ASCII digits only: "\d" would also take "２０２７" or "²" (docs/emulator.md, formats).
_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_TIME_RE = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}")
MONTH_POINT_RE: Final = re.compile(r"0[1-9]|[12][0-9]|3[01]")
DATETIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


class WireError(Exception):
    """An error answer: HTTP status plus the vendor's ``{"error": {code, message}}`` body."""

    def __init__(self, status: int, code: int, message: str, *, fault: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fault = fault  # the injected fault this answer stands for, if any (request log)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: int, message: str) -> dict[str, Any]:
    """The vendor's error envelope (docs/api.md section 4)."""
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
    """404 / 28104 (docs/api.md section 3 decision: 28104, never 28404)."""
    return WireError(
        404,
        SCHEDULE_NOT_FOUND,
        f"Request schedule operation doesn't exist: no active schedule {schedule_id!r} "
        "(wrong id, deleted, or already sent)",
    )


def parse_datetime(value: object) -> datetime | None:
    """A naive ``datetime`` from ``"yyyy-MM-dd HH:mm:ss"`` (complete, zero-padded), or None."""
    if not isinstance(value, str) or not _DATETIME_RE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, DATETIME_FORMAT)
    except ValueError:
        return None


def parse_time_of_day(value: object) -> time | None:
    """A ``time`` from ``"HH:mm:ss"`` (24 h, zero-padded), or None."""
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
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
