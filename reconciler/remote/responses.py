"""Turn raw JSON answers of the EngageLab API into typed results, refusing wrong shapes.

Every function takes the decoded JSON and a ``where`` text ("GET /v4/schedules?page=2") and
raises ``MalformedResponseError`` naming the place and the field when the answer is not of the
documented shape (docs/api.md sections 3 and 6), so a surprise from the server is a message, not a
``KeyError`` traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import MalformedResponseError
from reconciler.limits import (
    CONTENT_MAX_BYTES,
    MAX_ACTIVE_TASKS,
    MAX_PLAUSIBLE_TOTAL,
    NAME_MAX_BYTES,
    REMOTE_NAME_MAX_CHARS,
    REMOTE_TEXT_MAX_CHARS,
)
from reconciler.printable import SPELLED_IN_WORDS, spelled

_HINT = "the server's answer is not what the EngageLab API documents; check --endpoint"

# What a schedule id may look like before it goes into a request path. The vendor's ids are
# uuids ("a9b85590-6cec-4f91-b277-2d82b0e20ef6"); letters, digits, '-' and '_' leave room for
# other id styles while excluding everything a path or URL gives a meaning to: '.' and '..'
# (the collection itself, or its parent), '/', '?', '#', '%', whitespace, control characters.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


@dataclass(frozen=True)
class CreatedSchedule:
    """The answer to a create: the new task's id and name."""

    schedule_id: str
    name: str


@dataclass(frozen=True)
class ListedSchedule:
    """One row of the schedule list (the list carries no trigger or push)."""

    schedule_id: str
    name: str
    enabled: bool


@dataclass(frozen=True)
class SchedulePage:
    """One page of ``GET /v4/schedules``. ``total_pages`` is never trusted alone (docs/api.md 3)."""

    total_count: int
    total_pages: int
    page: int
    items: list[ListedSchedule]


@dataclass(frozen=True)
class MsgRecord:
    """One firing of a schedule, decoded from a ``MsgIds`` item (docs/api.md section 3)."""

    msg_id: str
    executed_at: datetime  # from ``ts`` (epoch milliseconds), aware, UTC
    error_code: int  # 0 when the firing succeeded
    error_message: str
    need_retry: bool

    @property
    def ok(self) -> bool:
        return self.error_code == 0


@dataclass(frozen=True)
class BatchResult:
    """The outcome for one target of a batch push (docs/api.md section 6)."""

    target: str
    success: bool
    msg_id: str | None = None
    error_code: int | None = None
    error_message: str | None = None

    @property
    def rate_limited(self) -> bool:
        """Failed only because the push quota was exceeded: the caller may retry this target."""
        return self.error_code == 23008


@dataclass(frozen=True)
class BatchResponse:
    """Per-target results of a batch push; the client never re-sends any of them itself."""

    results: dict[str, BatchResult]
    rate_limit_occurred: bool = False
    rate_limit_message: str | None = None
    unanswered: tuple[str, ...] = ()  # targets sent but absent from ``results``

    @property
    def failed(self) -> list[BatchResult]:
        return [r for r in self.results.values() if not r.success]

    @property
    def rate_limited_targets(self) -> list[str]:
        return [r.target for r in self.results.values() if r.rate_limited]


def is_safe_id(value: str) -> bool:
    """Whether ``value`` is a schedule id that may be put into a request path (``SAFE_ID``)."""
    return SAFE_ID.fullmatch(value) is not None


def quoted(value: str, limit: int = 80) -> str:
    """``value`` quoted for a message, or only its length when it is long.

    Never a cut: a piece of a value can hold a piece of a credential that the client's scrubber
    (which sees the whole message) would no longer recognise.
    """
    return repr(value) if len(value) <= limit else f"a {len(value)}-character text"


def expect_id(obj: dict[str, Any], key: str, where: str) -> str:
    """A schedule id from the server, refused unless it is safe in a path (``SAFE_ID``)."""
    value = expect_str(obj, key, where)
    if not is_safe_id(value):
        raise malformed(
            where,
            f"{key!r} {quoted(value)} is not a schedule id this tool can trust (ids are letters, "
            "digits, '-' and '_'; a server answering otherwise is not answering for the "
            "EngageLab API)",
        )
    return value


def malformed(where: str, what: str) -> MalformedResponseError:
    return MalformedResponseError(f"{where}: malformed answer: {what}", hint=_HINT)


def expect_dict(value: Any, where: str, what: str = "the answer") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(where, f"{what} is {_kind(value)}, expected an object")
    return value


def expect_str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise malformed(where, f"{key!r} is {_kind(value)}, expected a string")
    return value


def expect_int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(where, f"{key!r} is {_kind(value)}, expected an integer")
    return value


def expect_bool(obj: dict[str, Any], key: str, where: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise malformed(where, f"{key!r} is {_kind(value)}, expected true or false")
    return value


def _id_text(obj: dict[str, Any], key: str, where: str) -> str:
    """An identifier that the vendor sends sometimes as a string, sometimes as a number (a
    msg_id: shown in reports, so made harmless to print like a name)."""
    value = obj.get(key)
    if isinstance(value, str) and value:
        return harmless(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise malformed(where, f"{key!r} is {_kind(value)}, expected an id")


def _kind(value: Any) -> str:
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# Control characters, which no schedule name of the API holds (docs/api.md 2): printed as they
# are, a name "x\n::error::..." starts a line that GitHub Actions runs as a workflow command, and
# an escape sequence rewrites the terminal (its title, even its clipboard): they are shown escaped.
# The characters that show nothing (``printable.SPELLED_IN_WORDS``) are spelled out as well: an
# unmanaged task "promo\u200b" printed next to the manifest "promo" read as the same name.
def _visible(match: re.Match[str]) -> str:
    char = match.group()
    # Whitespace stays whitespace, so the name keeps its canonical.name_key (the planner's
    # same-name search still finds "promo\n" for a manifest "promo").
    if char.isspace():
        return " "
    return spelled(char)


def harmless(text: str) -> str:
    """Text from the server with its control characters and the characters that show nothing
    made harmless to print (whitespace as a space, the others as ``\\xNN`` or ``\\u200b``)."""
    if text.isascii() and text.isprintable():
        return text
    return SPELLED_IN_WORDS.sub(_visible, text)


MESSAGE = 1000  # characters of a vendor's message shown (in an error, a report)


def vendor_message(value: str) -> str:
    """A vendor's message from an answer for a report or the state, made harmless to print; one
    longer than MESSAGE is no vendor's and is described, not kept (it would be printed, searched
    for credentials as it is, and stored)."""
    if len(value) > MESSAGE:
        return f"(a {len(value)}-character message; not shown)"
    return harmless(value)


def expect_name(obj: dict[str, Any], where: str) -> str:
    """A schedule's name from the server, its control characters made harmless to print
    (whitespace as a space, the others as ``\\xNN``): names reach plans, reports and CI logs.
    One far longer than the API allows (``REMOTE_NAME_MAX_CHARS``) is a malformed answer."""
    name = expect_str(obj, "name", where)
    if len(name) > REMOTE_NAME_MAX_CHARS:
        raise malformed(
            where,
            f"'name' is a {len(name)}-character text; a schedule's name is at most "
            f"{NAME_MAX_BYTES} bytes",
        )
    return harmless(name)


def parse_created(data: Any, where: str) -> CreatedSchedule:
    obj = expect_dict(data, where)
    return CreatedSchedule(
        schedule_id=expect_id(obj, "schedule_id", where), name=expect_name(obj, where)
    )


def parse_page(data: Any, where: str) -> SchedulePage:
    obj = expect_dict(data, where)
    rows = obj.get("schedules")
    if rows is None:
        rows = []  # an empty app may omit the list; total_count then says 0
    if not isinstance(rows, list):
        raise malformed(where, f"'schedules' is {_kind(rows)}, expected a list")
    items = []
    for i, row in enumerate(rows):
        row_where = f"{where} schedules[{i}]"
        r = expect_dict(row, row_where, "the row")
        items.append(
            ListedSchedule(
                schedule_id=expect_id(r, "schedule_id", row_where),
                name=expect_name(r, row_where),
                enabled=expect_bool(r, "enabled", row_where),
            )
        )
    total_count = expect_int(obj, "total_count", where)
    total_pages = expect_int(obj, "total_pages", where)
    if total_count < 0 or total_pages < 0:
        raise malformed(where, "negative total_count or total_pages")
    if total_count > MAX_PLAUSIBLE_TOTAL:
        # Believing it would mean paging for ever (inventory reads total_count / PAGE_SIZE pages).
        raise malformed(
            where,
            f"total_count {total_count} is not believable: an app holds at most "
            f"{MAX_ACTIVE_TASKS} active "
            "schedules (docs/api.md 2.4)",
        )
    page = obj.get("page")
    return SchedulePage(
        total_count=total_count,
        total_pages=total_pages,
        page=page if isinstance(page, int) and not isinstance(page, bool) else 0,
        items=items,
    )


def parse_detail(
    data: Any, where: str, schedule_id: str | None = None, *, size: int | None = None
) -> dict[str, Any]:
    """A full schedule object; the API sends a one-element list, we also accept a bare object.
    ``size``: the answer's length in bytes, when known; an answer no longer than
    ``REMOTE_TEXT_MAX_CHARS`` holds no text longer (a character takes a byte at least).

    (docs/api.md section 3, decision "Detail may come back as a list or a bare object".)
    """
    if isinstance(data, list):
        if len(data) != 1:
            raise malformed(where, f"a list of {len(data)} schedules, expected exactly one")
        data = data[0]
    if not isinstance(data, dict):
        raise malformed(where, f"the answer is {_kind(data)}, expected a schedule (list or object)")
    data["name"] = expect_name(data, where)
    over = None if size is not None and size <= REMOTE_TEXT_MAX_CHARS else _overlong_text(data)
    if over is not None:
        raise malformed(
            where,
            f"{over} is longer than any text the API stores (a push's content is at most "
            f"{CONTENT_MAX_BYTES} bytes)",
        )
    got = data.get("schedule_id")
    if schedule_id is not None and got is not None and got != schedule_id:
        shown = quoted(got) if isinstance(got, str) else _kind(got)
        raise malformed(where, f"asked for schedule {schedule_id!r}, got {shown}")
    return data


def _overlong_text(data: Any) -> str | None:
    """Where ``data`` holds a key or a text longer than ``REMOTE_TEXT_MAX_CHARS``, or None.

    Said by its path and length: the text itself is never quoted (it would be searched for
    credentials, the cost this check saves)."""
    todo: list[tuple[Any, str]] = [(data, "")]
    while todo:
        value, path = todo.pop()
        if isinstance(value, str):
            if len(value) > REMOTE_TEXT_MAX_CHARS:
                return f"{path or 'the answer'}: a {len(value)}-character text"
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > REMOTE_TEXT_MAX_CHARS:
                    return f"a key under {path or 'the answer'}: a {len(key)}-character text"
                shown = harmless(key) if len(key) <= 40 else f"<a {len(key)}-character key>"
                todo.append((item, f"{path}.{shown}" if path else shown))
        elif isinstance(value, list):
            todo += [(item, f"{path}[{n}]") for n, item in enumerate(value)]
    return None


def parse_msg_ids(data: Any, where: str) -> list[MsgRecord]:
    """Decode ``MsgIds``; the list's length counts, not ``count`` (docs/api.md section 3)."""
    obj = expect_dict(data, where)
    items = obj.get("MsgIds")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise malformed(where, f"'MsgIds' is {_kind(items)}, expected a list")
    return [_msg_record(item, f"{where} MsgIds[{i}]") for i, item in enumerate(items)]


def _msg_record(item: Any, where: str) -> MsgRecord:
    if isinstance(item, str):
        # Each item is itself a JSON-encoded string (docs/api.md section 3).
        try:
            item = json.loads(item)
        except json.JSONDecodeError as exc:
            raise malformed(where, f"the item is not JSON ({exc.msg})") from exc
        except (ValueError, RecursionError) as exc:  # too deep, or an over-long number
            raise malformed(where, "the item is not JSON that can be read") from exc
    obj = expect_dict(item, where, "the item")
    ts = obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise malformed(where, f"'ts' is {_kind(ts)}, expected epoch milliseconds")
    try:
        executed_at = datetime.fromtimestamp(ts / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise malformed(where, f"'ts' {ts} is not a usable time") from exc
    error = obj.get("error")
    code, message = 0, ""
    if error is not None:
        err = expect_dict(error, where, "'error'")
        code = expect_int(err, "code", where) if "code" in err else 0
        raw_message = err.get("message")
        # The server's words reach the terminal (history's table): made harmless to print.
        message = harmless(raw_message) if isinstance(raw_message, str) else ""
    need_retry = obj.get("needRetry", False)
    return MsgRecord(
        msg_id=_id_text(obj, "msg_id", where),
        executed_at=executed_at,
        error_code=code,
        error_message=message,
        need_retry=need_retry if isinstance(need_retry, bool) else False,
    )


def parse_batch(data: Any, where: str, sent_targets: list[str]) -> BatchResponse:
    obj = expect_dict(data, where)
    raw = obj.get("results")
    if raw is None:
        raw = {}
    raw = expect_dict(raw, where, "'results'")
    results: dict[str, BatchResult] = {}
    sent = set(sent_targets)
    for key, value in raw.items():
        if key not in sent:
            # Not the client's: never read, kept or counted (a 23008 for another target would
            # pass as a refusal of its own and slow it down).
            continue
        item_where = f"{where} results[{quoted(key)}]"
        r = expect_dict(value, item_where, "the result")
        success = expect_bool(r, "success", item_where)
        if success:
            results[key] = BatchResult(
                target=key, success=True, msg_id=_id_text(r, "msg_id", item_where)
            )
            continue
        err = expect_dict(r.get("error"), item_where, "'error'")
        raw_message = err.get("message")
        results[key] = BatchResult(
            target=key,
            success=False,
            error_code=expect_int(err, "code", item_where),
            # Printed in test-send's report, next to the target: made harmless to print.
            error_message=vendor_message(raw_message) if isinstance(raw_message, str) else "",
        )
    info = obj.get("rate_limit_info")
    occurred, info_message = False, None
    if isinstance(info, dict):
        occurred = info.get("rate_limit_occurred") is True
        m = info.get("message")
        info_message = vendor_message(m) if isinstance(m, str) else None
    unanswered = tuple(t for t in sent_targets if t not in results)
    return BatchResponse(
        results=results,
        rate_limit_occurred=occurred,
        rate_limit_message=info_message,
        unanswered=unanswered,
    )
