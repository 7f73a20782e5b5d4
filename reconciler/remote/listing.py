"""Read the list of tasks completely: every page, and whether the pages add up.

The planner deletes and recreates only from a read it can trust (docs/design.md, safety rules), so
this module says whether the list is complete instead of assuming it. Page 1 comes first, then
the remaining pages concurrently (each listed task handed to ``ListReader.fetch_detail`` as its
page arrives: the inventory starts its detail GET then). The list is complete only when the
distinct ids read equal ``total_count`` and no page saw another total (docs/api.md section 3:
``total_pages`` alone is not trusted). When tasks are created or deleted while we page, offsets
shift and a task can slip between two pages: the list is read again, a bounded number of times,
and otherwise reported incomplete.

Pages that no honest server sends, even one whose tasks change while it is read, stop the read
with an ``InventoryError`` before anything is planned (docs/threat-model.md): a page that is not
full although its own total says more follow (on every re-read), a total that would take more
pages than any app can fill, one id under two names. Pages in flight are bounded, and a whole
read has a deadline (``ClientSettings.read_deadline``). The details and their agreement with
the list are ``inventory``'s.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.errors import (
    AuthError,
    InventoryError,
    MalformedResponseError,
    RemoteError,
)
from reconciler.limits import MAX_PLAUSIBLE_TOTAL, PAGE_SIZE
from reconciler.remote.client import EngageLabClient
from reconciler.remote.responses import ListedSchedule, SchedulePage, quoted

# One channel with ``inventory`` in ``--debug`` output: the list is part of the inventory's read.
logger = logging.getLogger("reconciler.remote.inventory")

# The most list pages one pass may take: enough for the largest believable total at the
# documented page size. A server claiming a total that its pages would need more for (one row
# a page, a hundred thousand claimed) is refused at page 1 instead of paged for an hour.
MAX_LIST_PAGES = -(-MAX_PLAUSIBLE_TOTAL // PAGE_SIZE)
# List pages requested at once: more than any real app has (1000 tasks are 20 pages), so an
# honest read is not slowed, but a bound on the requests a lying total can start.
PAGE_WINDOW = 64
_UNTRUSTED_HINT = (
    "nothing was changed: the server's answers contradict each other, so no plan can be based "
    "on them. Check --endpoint and any proxy in between; against the EngageLab API itself, "
    "try again later"
)


def untrusted(what: str) -> InventoryError:
    """The error for answers no honest server gives: the read stops, nothing is planned."""
    return InventoryError(f"the server's answers cannot be trusted: {what}", hint=_UNTRUSTED_HINT)


@dataclass
class Listing:
    """One pass over the list."""

    rows: dict[str, ListedSchedule]
    total_count: int
    problems: list[str]
    pages: int = 1  # list requests this pass made
    lie: str | None = None  # a page no honest server sends (the pass stopped there)

    @property
    def consistent(self) -> bool:
        return not self.problems

    @property
    def snapshot(self) -> bool:
        """One answer held the whole list: it cannot have missed a task churn moved.

        Churn fools a read only across page boundaries (a task moves onto a page already read).
        A pass of one page that is not full, holding ``total_count`` tasks, is a single answer
        of the server: there is no boundary, so a confirming second pass would add nothing.
        """
        return self.consistent and self.pages == 1 and len(self.rows) < PAGE_SIZE


@asynccontextmanager
async def read_deadline(client: EngageLabClient) -> AsyncIterator[None]:
    """Stop a whole read after ``read_deadline`` seconds with a clear InventoryError; mask the
    credentials in any error of the read (they quote names and ids the server sent)."""
    seconds = client.settings.read_deadline
    try:
        with client.scrubbing():
            async with asyncio.timeout(seconds) as timer:
                yield
    except TimeoutError:
        if not timer.expired():
            raise
        raise InventoryError(
            f"reading the remote schedules did not finish within {seconds:g} s",
            hint="nothing was changed; the server answers too slowly or claims more tasks than "
            "it sends. If the app really needs longer, raise --read-deadline "
            "(RECONCILER_READ_DEADLINE)",
        ) from None


class ListReader:
    """The list passes of one read; ``fetch_detail`` is where a listed task's detail would start
    (``inventory`` reads them; ``read_list`` does not)."""

    def __init__(self, client: EngageLabClient, *, expect: int = 0) -> None:
        self.client = client
        self.want_details = False
        # Pages the first pass requests with page 1 rather than after it (see list_once).
        self.expect_pages = pages_for(expect)

    def fetch_detail(self, schedule_id: str) -> None:
        """Start reading the detail of a listed task (``want_details``): no details here."""

    def page_one_read(self) -> None:
        """Called when page 1 of a pass has answered and adds up: the server answers, and the
        requests queued now go after the pages already requested."""

    async def passes(
        self, max_attempts: int, confirm: bool
    ) -> tuple[dict[str, ListedSchedule], Listing]:
        """List passes until one adds up (and, with ``confirm``, is confirmed) or attempts end."""
        seen: dict[str, ListedSchedule] = {}
        listing: Listing | None = None
        trusted = False
        previous: set[str] | None = None  # ids of the last pass that added up
        expect = self.expect_pages
        for attempt in range(1, max_attempts + 1):
            listing = await self.list_once(expect)
            expect = listing.pages  # a pass again is expected to be as long as this one
            seen.update(listing.rows)
            if listing.consistent:
                ids = set(listing.rows)
                if not confirm or listing.snapshot or ids == previous:
                    trusted = True
                    break
                previous = ids
                continue
            previous = None
            logger.debug(
                "list read %d of %d does not add up: %s",
                attempt,
                max_attempts,
                "; ".join(listing.problems),
            )
        assert listing is not None
        if listing.lie is not None:
            # Every read ended the same way: not the timing of a task changing meanwhile.
            raise untrusted(f"{listing.lie} (on the last of {max_attempts} reads)")
        if not trusted and listing.consistent:
            listing.problems.append(
                "two consecutive reads of the list did not show the same tasks (tasks were "
                "created or deleted meanwhile)"
            )
        return seen, listing

    async def list_once(self, expect_pages: int = 1) -> Listing:
        """One pass. ``expect_pages`` (how long the caller expects the list to be, from the
        state file) are requested together with page 1 instead of after its answer: one round
        trip less. They are a guess, so each is tried once: one that fails is requested again,
        with retries, once page 1 has answered (all such at once); a server that fails page 1
        gets nothing else to retry meanwhile. Pages beyond the end that page 1 shows are
        dropped unread."""
        pending: dict[int, asyncio.Task[SchedulePage | RemoteError]] = {}
        started = 1
        answered = asyncio.Event()  # page 1 has answered and adds up

        async def guessed(n: int) -> SchedulePage | RemoteError:
            result = await self.page(n, retry=False)
            if isinstance(result, RemoteError):
                await answered.wait()  # the list is that long after all: read it properly
                result = await self.page(n)
            return result

        def start_pages(last: int, *, guess: bool = False) -> None:
            # At most PAGE_WINDOW pages at once, started in page order as earlier ones arrive.
            nonlocal started
            while started < last and len(pending) < PAGE_WINDOW:
                started += 1
                page = guessed(started) if guess else self.page(started)
                pending[started] = asyncio.create_task(page)

        def page_one_sound() -> None:
            answered.set()  # failed guesses are read properly now
            self.page_one_read()

        # Pages before details: they are on the critical path, and the limiter serves in order.
        first_page = asyncio.create_task(self.client.list_schedules(1))
        start_pages(min(expect_pages, MAX_LIST_PAGES), guess=True)
        try:
            return await self._pass(await first_page, pending, start_pages, page_one_sound)
        finally:
            await drop([first_page, *pending.values()])

    async def _pass(
        self,
        first: SchedulePage,
        pending: dict[int, asyncio.Task[SchedulePage | RemoteError]],
        start_pages: Callable[[int], None],
        page_one_sound: Callable[[], None],
    ) -> Listing:
        count, total = len(first.items), first.total_count
        if count > total or (count == 0 and total > 0):
            why = f"page 1 holds {count} task(s) but its total_count is {total}"
            return Listing(rows={}, total_count=total, problems=[why], lie=why)
        # The page size is the documented one, or the server's own when page 1 is full of it
        # and more follow (a page is short only at the end: it holds the tail of the list).
        size = count if 0 < count < total else max(count, PAGE_SIZE)
        need = math.ceil(total / size)
        if need > MAX_LIST_PAGES:
            raise untrusted(
                f"page 1 holds {count} task(s) and claims {total} in all: that is {need} pages, "
                f"more than the {MAX_LIST_PAGES} that the largest believable app fills"
            )
        # total_pages is believed only up to one page beyond what total_count needs: a huge
        # value must not start a million requests, and one extra page shows a stale count.
        last = min(max(first.total_pages, need), need + 1)
        for n, task in pending.items():
            if n > last + 1:
                task.cancel()  # expected, but beyond the end: the list got shorter
        rows: dict[str, ListedSchedule] = {}
        totals = {total}
        problems: list[str] = []
        lie: str | None = None
        last_items = count
        start_pages(last)
        page_one_sound()
        self.take(first, rows, 1)
        for n in range(2, last + 1):
            start_pages(last)
            result = await pending.pop(n)
            if isinstance(result, RemoteError):
                problems.append(f"page {n} could not be read: {result.message}")
                last_items = 0
                continue
            lie = _page_lie(result, n, size)
            if lie is not None:
                break  # no more pages of this pass (the rest are cancelled by list_once)
            totals.add(result.total_count)
            self.take(result, rows, n)
            last_items = len(result.items)
        # Ids still missing after the pages the total needs (a row served twice, or a stale
        # total_pages): one more page, if the last was not empty, shows whether more follow.
        n = last
        while (
            lie is None
            and not problems
            and len(totals) == 1
            and len(rows) < total
            and last_items
            and n <= need
        ):
            n += 1
            early = pending.pop(n, None)
            result = await (early if early is not None else self.page(n))
            if isinstance(result, RemoteError):
                problems.append(f"page {n} could not be read: {result.message}")
                break
            lie = _page_lie(result, n, size)
            if lie is not None:
                break
            totals.add(result.total_count)
            self.take(result, rows, n)
            last_items = len(result.items)
        if lie is not None:
            problems.append(lie)
        elif len(totals) > 1:
            problems.append(
                f"the total changed from {total} to "
                f"{', '.join(str(t) for t in sorted(totals - {total}))} while the "
                "pages were read (tasks were created or deleted meanwhile)"
            )
        elif len(rows) != total and not problems:
            problems.append(
                f"the list reported {total} task(s) but {len(rows)} distinct id(s) were read"
            )
        return Listing(
            rows=rows, total_count=max(totals), problems=problems, pages=max(n, 1), lie=lie
        )

    async def page(self, n: int, *, retry: bool = True) -> SchedulePage | RemoteError:
        try:
            return await self.client.list_schedules(n, retry=retry)
        except (AuthError, MalformedResponseError):
            # A page of the wrong shape (an id like '..', credentials in a name) is no passing
            # failure to read around: the whole read stops, as it does for page 1.
            raise
        except RemoteError as exc:
            return exc

    def take(self, page: SchedulePage, rows: dict[str, ListedSchedule], n: int) -> None:
        for item in page.items:
            before = rows.get(item.schedule_id)
            if before is not None and before.name != item.name:
                raise untrusted(
                    f"task {item.schedule_id} is listed twice, as {quoted(before.name)} and "
                    f"as {quoted(item.name)} (page {n})"
                )
            rows[item.schedule_id] = item
            if self.want_details:
                self.fetch_detail(item.schedule_id)


@dataclass(frozen=True)
class RemoteList:
    """The list alone (ids, names, enabled flags), and whether it provably holds every task."""

    rows: dict[str, ListedSchedule]  # by schedule_id, oldest first
    complete: bool
    problems: tuple[str, ...] = ()


async def read_list(
    client: EngageLabClient, *, max_attempts: int = 3, confirm: bool = False, expect: int = 0
) -> RemoteList:
    """Every page of the list, with the completeness rules of :func:`read_inventory`, no detail.

    For callers that already hold the bodies (a saved plan) and only need to know that the set
    of tasks, their names and their enabled flags are what they were. ``expect``: how many
    tasks the caller expects (their pages are requested at once, with page 1).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    async with read_deadline(client):
        seen, listing = await ListReader(client, expect=expect).passes(max_attempts, confirm)
    if listing.consistent:
        return RemoteList(rows=listing.rows, complete=True)
    return RemoteList(
        rows=seen,
        complete=False,
        problems=(*listing.problems, f"the list still did not add up after {max_attempts} read(s)"),
    )


def pages_for(tasks: int) -> int:
    """List pages that ``tasks`` tasks fill at the documented page size (at least one)."""
    return max(1, math.ceil(tasks / PAGE_SIZE))


async def drop(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel the requests still running and collect every outcome, so that none is left for
    asyncio to report as never retrieved (a page or detail that failed while page 1 was
    awaited)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _page_lie(page: SchedulePage, n: int, size: int) -> str | None:
    """Why no honest server sends page ``n`` as it is (``size``: the page size), or None.

    A page is computed from one state of the list, together with its own total: it is full,
    or it holds the tail of the list (then the tasks before it and on it add up to its total),
    or it is empty because the list ends before it. Tasks changing between pages change the
    totals, not this; a server that counts and lists in two steps can be caught between them,
    so the pass is read again, and only a lie on every read stops the read (``passes``).
    """
    count = len(page.items)
    if count > size:
        return f"page {n} holds {count} tasks, page 1 showed pages of {size}"
    before = (n - 1) * size
    if count < size and before + count < page.total_count:
        return (
            f"page {n} holds {count} task(s), not a full page of {size}, yet its total_count "
            f"{page.total_count} says more follow"
        )
    return None
