"""The client against answers no honest EngageLab server gives: each is refused, bounded, clear.

Not found only in the vendor's own words, ids that could address another URL, pages and totals
that do not add up, answers too large to hold, reads that would never end.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    AmbiguousCreateError,
    InventoryError,
    MalformedResponseError,
    NotFoundError,
    RequestRejectedError,
    UsageError,
)
from reconciler.remote.inventory import read_inventory
from reconciler.remote.listing import MAX_LIST_PAGES, PAGE_WINDOW, read_list

from .helpers import Script, client_for, error, reply, run, schedule_body

SID = "a9b85590-6cec-4f91-b277-2d82b0e20ef6"  # an id as the vendor's pages show them


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, text="<html><head><title>404 Not Found</title></head></html>"),
        httpx.Response(404, text="not found"),
        reply(404, {"code": 28104, "message": "gateway's own"}),  # not in the error envelope
        reply(404, {"message": "no route"}),
        error(404, 10404, "no such path"),
        error(400, 28104, "schedule does not exist"),  # the code, but not a 404
    ],
    ids=["html", "text", "top-level-code", "no-code", "other-code", "not-a-404"],
)
def test_only_the_vendors_not_found_answer_is_not_found(answer: httpx.Response) -> None:
    """A 404 that is not the vendor's own answer (HTTP 404, 28104/28404 in its envelope) is no
    NotFoundError: nothing may conclude from it that a task is gone."""
    with pytest.raises(RequestRejectedError) as info:
        run(client_for(Script([answer]), max_retries=0).get_schedule(SID))
    assert not isinstance(info.value, NotFoundError)


def test_the_vendors_not_found_answer_is_not_found() -> None:
    """HTTP 404 with 28104 in the error envelope: NotFoundError (the task is gone)."""
    answer = error(404, 28104, "schedule does not exist")
    with pytest.raises(NotFoundError):
        run(client_for(Script([answer]), max_retries=0).get_schedule(SID))


def test_a_proxy_404_is_not_taken_as_a_finished_delete() -> None:
    """A retried delete (the first attempt timed out) answered by a proxy's HTML 404 is not
    "it had worked": the delete fails instead of being recorded as done."""
    script = Script([httpx.ReadTimeout("slow"), httpx.Response(404, text="<title>nope</title>")])
    with pytest.raises(RequestRejectedError):
        run(client_for(script).delete_schedule(SID))


@pytest.mark.parametrize(
    "bad",
    [".", "..", "a/b", "a?b", "a#b", "%2e%2e", "a b", "a.b", "", "a\x00b", "ü", "-a", "x" * 129],
)
def test_ids_that_could_address_another_url_are_never_sent(bad: str) -> None:
    """'.', '..' and anything outside letters, digits, '-' and '_' never become a request."""
    script = Script([reply(200, [{"schedule_id": SID, **schedule_body()}])])
    for call in (
        lambda c: c.get_schedule(bad),
        lambda c: c.delete_schedule(bad),
        lambda c: c.update_schedule(bad, schedule_body()),
        lambda c: c.get_msg_ids(bad),
    ):
        with pytest.raises(UsageError, match="is not a schedule id"):
            run(call(client_for(script)))
    assert script.requests == []


@pytest.mark.parametrize("bad", [".", "..", "../x", "a/b", "a%2Fb", "a b", "a.b"])
def test_a_list_row_with_an_unsafe_id_is_a_malformed_answer(bad: str) -> None:
    """A list page naming a task '..' is refused whole (naming the id), before any detail."""
    page = {
        "total_count": 2,
        "total_pages": 1,
        "page": 1,
        "schedules": [
            {"schedule_id": SID, "name": "ok", "enabled": True},
            {"schedule_id": bad, "name": "evil", "enabled": True},
        ],
    }
    script = Script([reply(200, page)])
    with pytest.raises(MalformedResponseError) as info:
        run(client_for(script).list_schedules(1))
    assert repr(bad) in info.value.message
    assert "not a schedule id" in info.value.message


def test_an_unsafe_id_on_a_later_page_stops_the_whole_read() -> None:
    """A '..' on page 2 is no passing failure to read around (an incomplete read would still
    be planned on): the read stops with the malformed answer, and no detail is asked for it."""
    rows = [{"schedule_id": f"id{i}", "name": f"n{i}", "enabled": True} for i in range(51)]
    rows[50]["schedule_id"] = ".."
    requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url.raw_path, "ascii"))
        if request.url.path == "/v4/schedules":
            n = int(request.url.params["page"])
            page = rows[(n - 1) * 50 : n * 50]
            return reply(200, {"total_count": 51, "total_pages": 2, "schedules": page})
        sid = request.url.path.rsplit("/", 1)[1]
        return reply(200, [{"schedule_id": sid, **schedule_body(f"n{sid[2:]}")}])

    with pytest.raises(MalformedResponseError, match=r"'\.\.' is not a schedule id"):
        run(_inventory_of(handler))
    assert not any(path.startswith("/v4/schedules/..") for path in requests)
    assert "/v4/schedules" not in [p.split("?")[0] for p in requests if "?" not in p]


def test_a_create_answered_with_an_unsafe_id_is_ambiguous_not_adopted() -> None:
    """A create whose answer names the new task '..' is not recorded under that id: its outcome
    is unknown (the journal looks the task up by name and body next time)."""
    script = Script([reply(200, {"schedule_id": "..", "name": "weekly_digest"})])
    with pytest.raises(AmbiguousCreateError):
        run(client_for(script).create_schedule(schedule_body()))


def test_ids_are_percent_encoded_into_the_path() -> None:
    """Every id goes into its path segment percent-encoded (a no-op for safe ids, by design)."""
    script = Script([reply(200, [{"schedule_id": "a_b-C9", **schedule_body()}])])
    run(client_for(script).get_schedule("a_b-C9"))
    assert script.requests[0].url.raw_path == b"/v4/schedules/a_b-C9"


# -- answer size ----------------------------------------------------------------------------------


def _streamed(status: int, chunks: int, chunk: bytes, *, length: bool = False) -> httpx.Response:
    """An answer whose body arrives in ``chunks`` pieces, counted as they are taken."""
    taken = {"n": 0}

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            for _ in range(chunks):
                taken["n"] += 1
                yield chunk

    headers = {"Content-Type": "application/json"}
    if length:
        headers["Content-Length"] = str(chunks * len(chunk))
    response = httpx.Response(status, headers=headers, stream=Body())
    response.extensions["taken"] = taken
    return response


def test_a_huge_answer_is_stopped_at_the_cap_with_a_clear_error() -> None:
    """An endless-looking body (a GiB in 64 KiB chunks): reading stops just past the cap (so
    memory stays bounded) with MalformedResponseError; it is not retried."""
    answer = _streamed(200, 16_384, b"x" * 65_536)
    script = Script([answer])
    with pytest.raises(MalformedResponseError, match="larger than 1048576 bytes"):
        run(client_for(script, max_answer_bytes=1_048_576).list_schedules(1))
    assert answer.extensions["taken"]["n"] <= 17
    assert len(script.requests) == 1


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    """Content-Length above the cap: refused without taking a single chunk."""
    answer = _streamed(200, 100, b"x" * 65_536, length=True)
    with pytest.raises(MalformedResponseError, match="larger than"):
        run(client_for(Script([answer]), max_answer_bytes=65_536).get_schedule(SID))
    assert answer.extensions["taken"]["n"] == 0


def test_a_huge_answer_to_a_create_is_ambiguous() -> None:
    """A create's oversized answer may follow a create that happened: ambiguous, not retried."""
    script = Script([_streamed(200, 100, b"x" * 65_536)])
    with pytest.raises(AmbiguousCreateError, match="larger than"):
        run(client_for(script, max_answer_bytes=65_536).create_schedule(schedule_body()))
    assert script.methods == ["POST"]


def test_answers_under_the_cap_are_read_whole() -> None:
    """The cap changes nothing for a normal answer (streamed and joined)."""
    page = {"total_count": 0, "total_pages": 0, "page": 1, "schedules": []}
    body = json.dumps(page).encode()
    answer = _streamed(200, 1, body)
    result = run(client_for(Script([answer]), max_answer_bytes=len(body)).list_schedules(1))
    assert result.total_count == 0


# -- totals and pages ------------------------------------------------------------------------------


class LyingList:
    """A list whose every page holds ``per_page`` fresh rows and claims ``total``; counts
    the page requests and the most that were waiting for an answer at once."""

    def __init__(self, total: int, per_page: int = 1, pages_served: int | None = None) -> None:
        self.total = total
        self.per_page = per_page
        self.pages_served = pages_served
        self.requests = 0
        self.waiting = 0
        self.most_waiting = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        path = request.url.path
        if path != "/v4/schedules":
            sid = path.rsplit("/", 1)[1]
            return reply(200, [{"schedule_id": sid, **schedule_body(f"t_{sid}")}])
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        await asyncio.sleep(0)  # let every request the client started arrive before answering
        self.waiting -= 1
        n = int(request.url.params["page"])
        served = self.pages_served is None or n <= self.pages_served
        rows = [
            {"schedule_id": f"p{n}-{i}", "name": f"t_p{n}-{i}", "enabled": True}
            for i in range(self.per_page if served else 0)
        ]
        return reply(
            200, {"total_count": self.total, "total_pages": 1, "page": n, "schedules": rows}
        )


def test_a_total_of_100000_at_one_row_a_page_is_refused_at_page_1() -> None:
    """total_count 100000, one row per page: 100000 pages would be needed; refused after one
    request with an error naming the numbers, instead of 100000 requests scheduled at once."""
    server = LyingList(100_000)
    with pytest.raises(InventoryError) as info:
        run(_inventory_of(server))
    assert server.requests == 1
    assert "100000" in info.value.message
    assert str(MAX_LIST_PAGES) in info.value.message
    assert info.value.hint is not None
    assert "nothing was changed" in info.value.hint


def test_pages_in_flight_are_bounded() -> None:
    """A believable but long list (2000 pages of one row): never more than PAGE_WINDOW list
    requests are waiting at once."""
    server = LyingList(MAX_LIST_PAGES)
    inv = run(_inventory_of(server, concurrency=256, rate_limit=1e9))
    assert inv.complete
    assert server.most_waiting <= PAGE_WINDOW
    assert len(inv.schedules) == MAX_LIST_PAGES


@pytest.mark.parametrize(
    ("total", "per_page", "served", "what"),
    [
        (5000, 50, 2, "page 3 holds 0 task(s)"),  # full pages, then nothing before the end
        (3, 0, None, "page 1 holds 0 task(s) but its total_count is 3"),
        (1, 2, None, "page 1 holds 2 task(s) but its total_count is 1"),
    ],
)
def test_totals_the_pages_do_not_bear_out_stop_the_read(
    total: int, per_page: int, served: int | None, what: str
) -> None:
    """Pages that are short or empty before their own claimed end, or hold more than their own
    total: InventoryError at the first such page, no further paging."""
    server = LyingList(total, per_page, served)
    with pytest.raises(InventoryError, match="cannot be trusted") as info:
        run(_inventory_of(server))
    assert what in info.value.message


def test_one_id_under_two_names_in_one_list_is_refused() -> None:
    """A row repeated on another page under another name: InventoryError naming both."""
    pages = {
        1: [{"schedule_id": f"id{i}", "name": f"n{i}", "enabled": True} for i in range(50)],
        2: [{"schedule_id": "id7", "name": "other", "enabled": True}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", 0))
        if request.url.path == "/v4/schedules":
            return reply(200, {"total_count": 51, "total_pages": 2, "schedules": pages[n]})
        sid = request.url.path.rsplit("/", 1)[1]
        return reply(200, [{"schedule_id": sid, **schedule_body(f"n{sid[2:]}")}])

    with pytest.raises(InventoryError, match=r"id7 is listed twice, as 'n7' and as 'other'"):
        run(_list_of(handler))


def test_a_read_that_does_not_finish_in_time_stops_with_a_clear_error() -> None:
    """A server that never finishes answering (each page within the request timeout, but
    never the whole read): InventoryError after the read deadline, nothing left running."""

    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # an answer that never comes
        raise AssertionError("unreachable")

    with pytest.raises(InventoryError, match=r"did not finish within 0.05 s") as info:
        run(_inventory_of(never, read_deadline=0.05, timeout=60))
    assert info.value.hint is not None
    assert "--read-deadline" in info.value.hint
    with pytest.raises(InventoryError, match=r"did not finish within 0.05 s"):
        run(_list_of(never, read_deadline=0.05, timeout=60))


async def _inventory_of(handler: Any, **overrides: Any) -> Any:
    async with client_for(handler, **overrides) as client:
        return await read_inventory(client)


async def _list_of(handler: Any, **overrides: Any) -> Any:
    async with client_for(handler, **overrides) as client:
        return await read_list(client)
