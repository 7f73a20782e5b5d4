"""read_inventory against a scripted server: paging rules, completeness, known ids, failures."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.config.connection import DEFAULT_MAX_RETRIES
from reconciler.errors import AuthError, InventoryError, ServerError
from reconciler.remote.inventory import read_inventory
from reconciler.remote.listing import RemoteList, read_list

from .helpers import client_for, error, reply, run, schedule_body


@dataclass
class FakeServer:
    """An in-memory schedule list of ``count`` tasks, with hooks to misbehave."""

    count: int
    page_size: int = 50
    reported_pages: Callable[[int], int] | None = None  # total -> total_pages to report
    page_hook: Callable[[int, list[str]], list[str]] | None = None  # page -> rows to serve
    broken_pages: set[int] = field(default_factory=set)
    detail_hook: Callable[[str], httpx.Response | None] | None = None
    ids: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)  # exist but are never listed
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ids = [f"id-{i:04d}" for i in range(self.count)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append(f"{request.method} {path}?{request.url.query.decode()}")
        if path == "/v4/schedules":
            return self.page(int(request.url.params["page"]))
        schedule_id = path.rsplit("/", 1)[1]
        if self.detail_hook is not None:
            hooked = self.detail_hook(schedule_id)
            if hooked is not None:
                return hooked
        if schedule_id in self.ids or schedule_id in self.hidden:
            body = {"schedule_id": schedule_id, **schedule_body(f"task_{schedule_id}")}
            return reply(200, [body])
        return error(404, 28104, "schedule does not exist")

    def page(self, n: int) -> httpx.Response:
        if n in self.broken_pages:
            return error(500, 28200, "internal error")
        total = len(self.ids)
        rows = self.ids[(n - 1) * self.page_size : n * self.page_size]
        if self.page_hook is not None:
            rows = self.page_hook(n, rows)
        pages = math.ceil(total / self.page_size)
        if self.reported_pages is not None:
            pages = self.reported_pages(total)
        return reply(
            200,
            {
                "total_count": total,
                "total_pages": pages,
                "page": n,
                "schedules": [
                    {"schedule_id": i, "name": f"task_{i}", "enabled": True} for i in rows
                ],
            },
        )

    def count_of(self, prefix: str) -> int:
        return sum(1 for line in self.log if line.startswith(prefix))


def _read(server: Callable[[httpx.Request], Any], **kw: Any) -> Any:
    client_kw = kw.pop("client_kw", {})

    async def go() -> Any:
        async with client_for(server, **client_kw) as client:
            return await read_inventory(client, **kw)

    return run(go())


def test_every_page_and_every_detail_is_read() -> None:
    """120 tasks: 3 pages and 120 details; complete, bodies without schedule_id."""
    server = FakeServer(120)
    inv = _read(server)
    assert inv.complete
    assert inv.total_count == 120
    assert list(inv.schedules) == server.ids
    s = inv.schedules["id-0007"]
    assert (s.name, s.enabled) == ("task_id-0007", True)
    assert "schedule_id" not in s.body
    assert s.body["trigger"] == schedule_body()["trigger"]
    assert server.count_of("GET /v4/schedules?") == 3
    assert server.count_of("GET /v4/schedules/") == 120


def test_an_empty_app_is_a_complete_empty_inventory() -> None:
    """total_count 0: one page read, nothing else, complete."""
    server = FakeServer(0)
    inv = _read(server)
    assert inv.complete
    assert inv.schedules == {}
    assert server.log == ["GET /v4/schedules?page=1"]


def test_total_pages_is_not_trusted_when_it_is_too_small() -> None:
    """The vendor example's "1000 tasks in 5 pages": all 20 pages are read (docs/api.md 3)."""
    server = FakeServer(1000, reported_pages=lambda total: 5)
    inv = _read(server)
    assert inv.complete
    assert len(inv.schedules) == 1000


def test_smaller_pages_than_documented_are_followed_until_the_count_is_reached() -> None:
    """A server with 20 per page and total_pages 1 is paged on until all ids are there."""
    server = FakeServer(70, page_size=20, reported_pages=lambda total: 1)
    inv = _read(server)
    assert inv.complete
    assert len(inv.schedules) == 70


def test_duplicates_across_pages_make_the_read_incomplete() -> None:
    """A row served twice (and so one never served) leaves distinct ids below total_count."""
    server = FakeServer(100, page_hook=lambda n, rows: ["id-0000", *rows[1:]] if n == 2 else rows)
    inv = _read(server, max_attempts=2)
    assert not inv.complete
    assert "reported 100 task(s) but 99 distinct id(s)" in inv.problems[0]
    assert "after 2 read(s)" in inv.problems[-1]
    assert server.count_of("GET /v4/schedules?page=1") == 2
    assert len(inv.schedules) == 99


def test_a_page_that_keeps_failing_makes_the_read_incomplete_not_an_error() -> None:
    """Page 2 failing after all retries: incomplete with the reason; the rest is still read."""
    server = FakeServer(120, broken_pages={2})
    inv = _read(server, max_attempts=2, client_kw={"max_retries": 1})
    assert not inv.complete
    assert any("page 2 could not be read" in p for p in inv.problems)
    assert len(inv.schedules) == 70


def test_page_one_failing_is_an_error() -> None:
    """Without page 1 nothing is known: its error surfaces."""
    server = FakeServer(10, broken_pages={1})
    with pytest.raises(ServerError):
        _read(server, client_kw={"max_retries": 0})


def test_wrong_credentials_stop_the_read_with_one_auth_error() -> None:
    """401 on page 1: one AuthError, no retries, no further requests."""
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(str(request.url))
        return error(401, 28101, "basic auth failed")

    async def go() -> None:
        async with client_for(handler) as client:
            await read_inventory(client)

    with pytest.raises(AuthError):
        run(go())
    assert len(log) == 1


def test_known_id_missing_from_the_list_and_404_is_gone() -> None:
    """A state id not listed and answered 404 lands in ``gone``."""
    server = FakeServer(3)
    inv = _read(server, known_ids=["id-0001", "deleted-out-of-band"])
    assert inv.gone == frozenset({"deleted-out-of-band"})
    assert inv.complete
    assert "deleted-out-of-band" not in inv.schedules


def test_known_id_missing_from_the_list_but_found_is_included() -> None:
    """A state id the list missed but the detail GET finds exists, and is in ``schedules``."""
    server = FakeServer(3, hidden={"unlisted"})
    inv = _read(server, known_ids=["unlisted"])
    assert "unlisted" in inv.schedules
    assert inv.gone == frozenset()


def test_listed_task_deleted_before_its_detail_is_dropped() -> None:
    """A task listed then 28104 on detail, and no longer listed by a fresh read, was deleted
    meanwhile: absent, and not in ``gone`` (the caller did not ask about it)."""
    server = FakeServer(3)

    def deleted_now(sid: str) -> httpx.Response | None:
        if sid != "id-0002":
            return None
        if sid in server.ids:  # asked again with the re-check
            server.ids.remove(sid)
        return error(404, 28104, "gone")

    server.detail_hook = deleted_now
    inv = _read(server)
    assert set(inv.schedules) == {"id-0000", "id-0001"}
    assert inv.gone == frozenset()
    assert server.count_of("GET /v4/schedules?page=1") == 2  # the pass, and the re-check


@pytest.mark.parametrize("known", [False, True])
def test_a_task_the_list_keeps_showing_is_never_gone(known: bool) -> None:
    """The list shows a task, its detail says 28104, and a fresh list still shows it: the
    answers contradict each other; InventoryError naming the id (nothing planned on it)."""
    server = FakeServer(
        3, detail_hook=lambda sid: error(404, 28104, "gone") if sid == "id-0002" else None
    )
    with pytest.raises(InventoryError) as info:
        _read(server, known_ids=["id-0002"] if known else [])
    assert "cannot be trusted" in info.value.message
    assert "id-0002" in info.value.message
    assert info.value.hint is not None
    assert "nothing was changed" in info.value.hint


@pytest.mark.parametrize(
    ("second", "shown"),
    [
        (None, "its detail read again names it 'task_id-0001'"),
        (
            reply(200, [{"schedule_id": "id-0001", "name": "x"}]),
            "its detail read again is malformed",
        ),
        (error(503, 28203, "busy"), "reading its detail again failed"),
        (httpx.Response(404, text="<html>404</html>"), "reading its detail again failed"),
    ],
    ids=["exists", "malformed", "failed", "proxy-404"],
)
def test_a_task_whose_detail_said_gone_is_gone_only_if_it_says_so_again(
    second: httpx.Response | None, shown: str
) -> None:
    """A known task: its first detail says 28104, the second list pass (which adds up) no
    longer shows it, and its detail read again answers with the task, with a body that is no
    schedule, with a failure or with a 404 that is not the vendor's. None of these confirms the
    absence: InventoryError, not "gone" (a gone task is recreated: two live copies)."""
    server = FakeServer(3)
    details = {"id-0001": 0}

    def flaky(sid: str) -> httpx.Response | None:
        if sid != "id-0001":
            return None
        details[sid] += 1
        if details[sid] == 1:
            server.ids.remove(sid)  # unlisted from the second pass on
            server.hidden.add(sid)  # and still answering by its id
            return error(404, 28104, "schedule does not exist")
        return second

    server.detail_hook = flaky
    with pytest.raises(InventoryError) as info:
        _read(server, known_ids=["id-0001"], client_kw={"max_retries": 0})
    assert details["id-0001"] == 2
    assert "id-0001" in info.value.message
    assert "then the list no longer lists it" in info.value.message
    assert shown in info.value.message


def test_a_second_pass_that_fails_is_named_in_the_dispute() -> None:
    """The second list pass cannot read page 2: the error says so, not that the list "no
    longer lists" a task it simply did not read."""
    server = FakeServer(
        60, detail_hook=lambda sid: error(404, 28104, "gone") if sid == "id-0055" else None
    )
    passes = {"page2": 0}
    original_page = server.page

    def page(n: int) -> httpx.Response:
        if n == 2:
            passes["page2"] += 1
            if passes["page2"] > 1:
                return error(500, 28200, "internal error")
        return original_page(n)

    server.page = page  # type: ignore[method-assign]
    with pytest.raises(InventoryError) as info:
        _read(server, known_ids=["id-0055"], client_kw={"max_retries": 0})
    assert "then the list could not be read whole (page 2 could not be read" in info.value.message


def test_tasks_firing_during_the_read_are_not_called_a_lying_server() -> None:
    """A known task fires (the server removes it) while the list is read, and more fire while
    it is read again, so the second pass does not add up: the read still refuses to conclude
    "gone", but says that the app's tasks are changing right now, not that the server or a
    proxy lies."""
    server = FakeServer(60)
    firing = ["id-0003", "id-0004", "id-0005"]  # on page 1: each pass sees another total

    def fired(sid: str) -> httpx.Response | None:
        if sid == "id-0055" and sid in server.ids:
            server.ids.remove(sid)
        return None

    original_page = server.page

    def page(n: int) -> httpx.Response:
        answer = original_page(n)
        if n == 1 and firing and "id-0055" not in server.ids:
            server.ids.remove(firing.pop(0))  # fires right after page 1 of this pass
        return answer

    server.detail_hook = fired
    server.page = page  # type: ignore[method-assign]
    with pytest.raises(InventoryError) as info:
        _read(server, known_ids=["id-0055"], client_kw={"max_retries": 0})
    message = info.value.message
    assert "cannot be trusted" not in message, message
    assert "disappeared while the list was read" in message, message
    assert "id-0055" in message
    assert info.value.hint is not None
    assert "firing" in info.value.hint
    assert "proxy" not in info.value.hint


def test_a_404_that_is_not_the_vendors_never_means_gone() -> None:
    """A proxy's HTML 404 for a known task (listed or not) is a failed read, not "gone": the
    inventory fails instead of handing the planner a task to recreate."""
    html = httpx.Response(404, text="<html><title>404 Not Found</title></html>")
    for listed in (True, False):
        server = FakeServer(3, detail_hook=lambda sid: html if sid == "id-0002" else None)
        if not listed:
            server.ids.remove("id-0002")
            server.hidden.add("id-0002")
        with pytest.raises(InventoryError) as info:
            _read(server, known_ids=["id-0002"], client_kw={"max_retries": 0})
        assert "id-0002" in info.value.message
        assert "404 Not Found" in info.value.message


def test_list_and_detail_names_that_disagree_are_not_trusted() -> None:
    """A row named one way and a detail named another (on a second read too): InventoryError
    naming the id and both names, instead of silently taking the detail's."""

    def renamed(sid: str) -> httpx.Response | None:
        if sid != "id-0001":
            return None
        return reply(200, [{"schedule_id": sid, **schedule_body("someone_else")}])

    server = FakeServer(3, detail_hook=renamed)
    with pytest.raises(InventoryError) as info:
        _read(server)
    message = info.value.message
    assert "id-0001" in message
    assert "'task_id-0001'" in message
    assert "'someone_else'" in message


def test_a_rename_between_list_and_detail_is_accepted_when_the_list_agrees_again() -> None:
    """Renamed between the row and the detail, and the fresh list shows the new name: the
    task is read under its new name (a real change, not a lie)."""
    server = FakeServer(3)
    names = {"id-0001": "task_id-0001"}

    def renamed(sid: str) -> httpx.Response | None:
        if sid != "id-0001":
            return None
        names[sid] = "renamed"
        return reply(200, [{"schedule_id": sid, **schedule_body("renamed")}])

    server.detail_hook = renamed
    original_page = server.page

    def page(n: int) -> httpx.Response:
        answer = original_page(n)
        data = json.loads(answer.content)
        for row in data["schedules"]:
            row["name"] = names.get(row["schedule_id"], row["name"])
        return reply(200, data)

    server.page = page  # type: ignore[method-assign]
    inv = _read(server)
    assert inv.schedules["id-0001"].name == "renamed"


def test_a_rename_after_its_detail_was_read_is_accepted_when_a_fresh_detail_agrees() -> None:
    """The other order: the detail (of a task the state knows) answered before its page, and
    the task renamed in between; the row is the newer answer. The second list pass shows the
    new name again, and so does the detail read again with it: the task is read as it is now,
    not refused as a lie."""
    server = FakeServer(120)
    names: dict[str, str] = {}
    served = asyncio.Event()

    def renamed(sid: str) -> httpx.Response | None:
        if sid != "id-0060":
            return None
        name = names.get(sid, f"task_{sid}")
        names[sid] = "renamed"  # right after this answer
        served.set()
        return reply(200, [{"schedule_id": sid, **schedule_body(name)}])

    server.detail_hook = renamed
    original_page = server.page

    def page(n: int) -> httpx.Response:
        data = json.loads(original_page(n).content)
        for row in data["schedules"]:
            row["name"] = names.get(row["schedule_id"], row["name"])
        return reply(200, data)

    server.page = page  # type: ignore[method-assign]

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2" and not served.is_set():
            await asyncio.wait_for(served.wait(), timeout=5)  # page 2 answers after the detail
        return server(request)

    inv = _read(handler, known_ids=server.ids)
    assert inv.complete
    assert inv.schedules["id-0060"].name == "renamed"
    assert server.log.count("GET /v4/schedules/id-0060?") == 2


def test_a_detail_that_cannot_be_read_fails_the_inventory() -> None:
    """Without a task's detail it cannot be told from a missing one: InventoryError, naming it."""
    server = FakeServer(
        3,
        detail_hook=lambda sid: error(500, 28200, "internal") if sid == "id-0001" else None,
    )
    with pytest.raises(InventoryError) as info:
        _read(server, client_kw={"max_retries": 1})
    assert "id-0001" in info.value.message
    assert info.value.hint is not None
    assert "nothing was changed" in info.value.hint


def test_a_malformed_detail_fails_the_inventory_with_a_clear_message() -> None:
    """A detail that is neither list nor object is reported per task, not as a traceback."""
    server = FakeServer(
        2,
        detail_hook=lambda sid: reply(200, "oops") if sid == "id-0000" else None,
    )
    with pytest.raises(InventoryError, match=r"id-0000: GET /v4/schedules/id-0000: malformed"):
        _read(server)


def test_pages_are_requested_before_any_detail() -> None:
    """Pages are on the critical path: every page request goes out before the first detail."""
    server = FakeServer(150)
    _read(server)
    first_detail = next(i for i, line in enumerate(server.log) if "/v4/schedules/" in line)
    pages = [i for i, line in enumerate(server.log) if "?page=" in line]
    assert max(pages) < first_detail


def test_an_absurd_total_pages_does_not_start_a_request_per_page() -> None:
    """total_pages 1 000 000 for 120 tasks: 3 pages needed, at most one more is asked for."""
    server = FakeServer(120, reported_pages=lambda total: 1_000_000)
    inv = _read(server)
    assert inv.complete
    assert server.count_of("GET /v4/schedules?") == 4


def test_auth_failure_on_a_later_page_stops_the_whole_read() -> None:
    """Credentials revoked mid-read (401 on page 3): AuthError, not an incomplete inventory."""

    class RevokedOnPage3(FakeServer):
        def page(self, n: int) -> httpx.Response:
            return error(401, 28101, "auth failed") if n == 3 else super().page(n)

    with pytest.raises(AuthError):
        _read(RevokedOnPage3(200))


@pytest.mark.parametrize("count", [0, 1, 49])
def test_a_confirmed_read_of_a_list_in_one_partial_page_reads_it_once(count: int) -> None:
    """confirm=True: a list that one non-full page holds is one answer; no second pass."""
    server = FakeServer(count)
    inv = _read(server, confirm=True)
    assert inv.complete
    assert len(inv.schedules) == count
    assert server.count_of("GET /v4/schedules?") == 1


@pytest.mark.parametrize("count", [50, 51, 120])
def test_a_confirmed_read_of_a_full_or_longer_list_reads_it_twice(count: int) -> None:
    """confirm=True: a full page may hide a page boundary, so two equal passes are needed."""
    server = FakeServer(count)
    inv = _read(server, confirm=True)
    assert inv.complete
    assert server.count_of("GET /v4/schedules?") == 2 * math.ceil(count / 50)
    assert server.count_of("GET /v4/schedules/") == count  # details once, not per pass


def test_a_page_that_is_short_before_its_own_total_ends_the_read() -> None:
    """Page 1 holds 2 of 3 tasks (so pages hold 2) and page 2 none, yet both claim 3: no
    server sends that, even one whose tasks change meanwhile. InventoryError, no more reading."""
    server = FakeServer(3, page_hook=lambda n, rows: rows[:2] if n == 1 else [])
    with pytest.raises(InventoryError, match="page 2 holds 0 task"):
        _read(server, confirm=True)
    assert server.count_of("GET /v4/schedules?page=2") == 3  # the same on every re-read
    assert server.count_of("GET /v4/schedules/") <= 2


def test_a_short_page_seen_once_is_read_again_not_refused() -> None:
    """A server that counts and lists in two steps can show a short page once (a task created
    between them): the pass is read again, and a read that then adds up is complete."""
    served = {"n": 0}

    def once_short(n: int, rows: list[str]) -> list[str]:
        if n == 2:
            served["n"] += 1
            return rows[:-1] if served["n"] == 1 else rows
        return rows

    server = FakeServer(60, page_hook=once_short)
    inv = _read(server)
    assert inv.complete
    assert len(inv.schedules) == 60


# -- the known ids as a guess at the list's length -------------------------------------------------


class _HoldsPageOne:
    """``server``, but page 1 is answered only after ``until`` has been requested as well, or,
    if it has not been after the event loop went round ``turns`` times, anyway: ``late``.

    The requests a client starts together with page 1 all reach the server within a few turns
    of the loop (the test clients' limiter sleeps on a fake clock); one that a client starts
    only after page 1's answer cannot arrive before it, however long page 1 waits. No real
    time passes either way.
    """

    def __init__(self, server: FakeServer, until: str, turns: int = 200) -> None:
        self.server = server
        self.until = until
        self.turns = turns
        self.arrived = False
        self.late = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if f"{request.method} {request.url.path}?{request.url.query.decode()}" == self.until:
            self.arrived = True
        if request.url.params.get("page") == "1":
            for _ in range(self.turns):
                if self.arrived:
                    break
                await asyncio.sleep(0)
            self.late = not self.arrived
        return self.server(request)


def test_the_pages_the_state_expects_are_requested_with_page_one() -> None:
    """120 known tasks are 3 pages: page 3 goes out before page 1 is answered (one round
    trip sooner), and the read is the same: every page once, every detail once."""
    server = FakeServer(120)
    held = _HoldsPageOne(server, "GET /v4/schedules?page=3")
    inv = _read(held, known_ids=server.ids)
    assert not held.late
    assert inv.complete
    assert list(inv.schedules) == server.ids
    assert server.count_of("GET /v4/schedules?") == 3
    assert server.count_of("GET /v4/schedules/") == 120


def test_the_details_of_the_state_ids_wait_for_page_ones_answer() -> None:
    """Details are the bulk of a read: they start once page 1 shows a server that answers (a
    sick one is not sent a thousand requests that page 1's own retries queue behind)."""
    server = FakeServer(120)
    held = _HoldsPageOne(server, "GET /v4/schedules/id-0119?")
    inv = _read(held, known_ids=server.ids)
    assert held.late
    assert list(inv.schedules) == server.ids
    assert server.count_of("GET /v4/schedules/") == 120


def test_a_server_failing_everything_gets_page_one_and_one_try_of_each_expected_page() -> None:
    """503 on every request, 1000 tasks in the state: the read fails with page 1's error after
    page 1's own retries; the 19 pages requested with it were tried once each, no detail was
    requested at all."""
    server = FakeServer(1000)

    def handler(request: httpx.Request) -> httpx.Response:
        server.log.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return error(503, 28203, "Execute action timeout, please try later again")

    async def go() -> None:
        async with client_for(handler) as client:
            await read_inventory(client, known_ids=server.ids)

    with pytest.raises(ServerError, match="page=1"):
        run(go())
    page_one = server.log.count("GET /v4/schedules?page=1")
    assert page_one == DEFAULT_MAX_RETRIES + 1
    assert sorted(set(server.log) - {"GET /v4/schedules?page=1"}) == sorted(
        f"GET /v4/schedules?page={n}" for n in range(2, 21)
    )
    assert len(server.log) == page_one + 19


def test_a_short_outage_at_the_start_is_ridden_through() -> None:
    """503 until page 1's third attempt: page 1 is retried, the expected pages are tried once
    (and read again once page 1 has answered), and the read completes with every detail; the
    client-wide retry budget is not spent on requests made before the server answered."""
    server = FakeServer(120)

    def handler(request: httpx.Request) -> httpx.Response:
        if server.log.count("GET /v4/schedules?page=1") < 2:
            server.log.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
            return error(503, 28203, "Execute action timeout, please try later again")
        return server(request)

    inv = _read(handler, known_ids=server.ids)
    assert inv.complete
    assert list(inv.schedules) == server.ids
    # One pass: page 1 three times (two refused), each guessed page twice (its one try, then
    # its read once page 1 had answered).
    assert [server.log.count(f"GET /v4/schedules?page={n}") for n in (1, 2, 3)] == [3, 2, 2]


def test_guessed_pages_that_failed_are_read_again_together() -> None:
    """Five guessed pages fail their one try; once page 1 answers they are requested again at
    once, not one after another (the server holds page 2's second request until page 6's
    has arrived: turns of the event loop, no real time)."""
    server = FakeServer(300)
    tries: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "")
        tries[page] = tries.get(page, 0) + 1
        if page != "1" and tries[page] == 1:
            return error(503, 28203, "Execute action timeout, please try later again")
        if page == "2":
            for _ in range(200):
                if tries.get("6", 0) >= 2:
                    break
                await asyncio.sleep(0)
            else:
                pytest.fail("page 6 was read again only after page 2")
        return server(request)

    inv = _read(handler, known_ids=server.ids)
    assert inv.complete
    assert list(inv.schedules) == server.ids
    assert [tries[str(n)] for n in range(1, 7)] == [1, 2, 2, 2, 2, 2]


def test_without_known_ids_page_two_waits_for_page_one() -> None:
    """The holding server tells the two apart: with no ids to expect, page 2 follows page 1's
    answer (the guard above would pass for any client otherwise)."""
    server = FakeServer(120)
    held = _HoldsPageOne(server, "GET /v4/schedules?page=2")
    inv = _read(held)
    assert held.late
    assert inv.complete


def test_a_stale_state_expects_too_much_and_reads_the_same() -> None:
    """The state knows 150 tasks, 90 of them deleted out of band: the pages beyond the end are
    dropped, the 90 are confirmed gone by their own 404, the listed ones are read as always."""
    deleted = [f"deleted-{i:03d}" for i in range(90)]
    plain = _read(FakeServer(60))
    server = FakeServer(60)
    stale = _read(server, known_ids=[*server.ids, *deleted])
    assert stale.schedules == plain.schedules
    assert stale.gone == frozenset(deleted)
    assert stale.complete
    assert server.count_of("GET /v4/schedules/") == 150


def test_a_longer_list_than_expected_is_read_to_its_end() -> None:
    server = FakeServer(230)
    inv = _read(server, known_ids=server.ids[:10])
    assert inv.complete
    assert list(inv.schedules) == server.ids
    assert server.count_of("GET /v4/schedules?") == 5


def test_the_saved_plan_check_requests_the_expected_pages_with_page_one() -> None:
    server = FakeServer(120)
    held = _HoldsPageOne(server, "GET /v4/schedules?page=3")

    async def go() -> RemoteList:
        async with client_for(held) as client:
            return await read_list(client, expect=120)

    listed = run(go())
    assert not held.late
    assert listed.complete
    assert list(listed.rows) == server.ids


def test_wrong_credentials_with_known_ids_leave_no_failure_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """401 everywhere: page 1's AuthError is the error; the guessed pages that failed
    meanwhile (requested with page 1, one try each) are collected, not reported later by
    asyncio as never retrieved; no detail was requested."""

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return error(401, 28101, "basic auth failed")

    async def go() -> None:
        async with client_for(handler) as client:
            await read_inventory(client, known_ids=[f"id-{i:04d}" for i in range(200)])

    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(AuthError):
        run(go())
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert asked == ["/v4/schedules"] * 4  # page 1 and the 3 guessed pages, once each
