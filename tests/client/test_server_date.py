"""The client reads the server's clock from the ``Date`` header of its first answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.client.helpers import Script, client_for, reply, run

PAGE = {"total_count": 0, "total_pages": 0, "page": 1, "page_size": 50, "schedules": []}


def offset_after_one_list(*dates: str | None) -> timedelta | None:
    answers = [reply(200, PAGE, headers={"Date": d} if d is not None else None) for d in dates]

    async def go() -> timedelta | None:
        async with client_for(Script(answers)) as client:
            for _ in dates:
                await client.list_schedules()
            return client.server_offset

    return run(go())


def test_the_first_dated_answer_sets_the_servers_clock() -> None:
    """A Date three days ahead gives an offset of three days (within a few seconds); a later
    answer's Date does not move it."""
    ahead = datetime.now(UTC) + timedelta(days=3)
    offset = offset_after_one_list(
        ahead.strftime("%a, %d %b %Y %H:%M:%S GMT"), "Mon, 04 Jan 2027 09:00:00 GMT"
    )
    assert offset is not None
    assert abs(offset - timedelta(days=3)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "date",
    [
        None,
        "",
        "yesterday",
        "Mon, 99 Foo 2027 99:00:00 GMT",
        # Outside the years --now accepts: firings computed from it overflowed the calendar.
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1900 00:00:00 GMT",
    ],
)
def test_no_readable_date_leaves_the_local_clock(date: str | None) -> None:
    """A missing or unreadable Date is no clock: the offset stays unknown (no error)."""
    assert offset_after_one_list(date) is None
