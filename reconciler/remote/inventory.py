"""Read the remote side completely: every page of the list, every detail, checked for gaps.

The planner deletes and recreates only from a read it can trust (docs/design.md, safety rules), so
this module says whether the read is complete instead of assuming it. Page 1 comes first, then
the remaining pages concurrently, and each detail GET starts as soon as its page arrives. The
list is complete only when the distinct ids read equal ``total_count`` and no page saw another
total (docs/api.md section 3: ``total_pages`` alone is not trusted). When tasks are created or
deleted while we page, offsets shift and a task can slip between two pages: the list is read
again, a bounded number of times, and otherwise reported incomplete. Ids the caller knows from
the state file and did not see in the list are looked up one by one (the vendor's 28104: gone),
so a managed task is never missed because of churn.

Answers that no honest server gives, even one whose tasks change while it is read, stop the read
with an ``InventoryError`` before anything is planned (docs/threat-model.md): a page that is not
full although its own total says more follow (on every re-read), a total that would take more
pages than any app can fill, one id under two names, a listed task whose detail has another
name or says it does not exist (unless a fresh read of the list agrees). Pages in flight are
bounded, and a whole read has a deadline (``ClientSettings.read_deadline``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.errors import (
    AuthError,
    InventoryError,
    MalformedResponseError,
    NotFoundError,
    RemoteError,
)
from reconciler.limits import MAX_PLAUSIBLE_TOTAL, PAGE_SIZE
from reconciler.planning import canonical
from reconciler.remote.client import EngageLabClient
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.remote.responses import ListedSchedule, SchedulePage, quoted

__all__ = ["Inventory", "RemoteList", "RemoteSchedule", "read_inventory", "read_list"]

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


# The task, 404, the failure, or why the answer is malformed.
_Detail = RemoteSchedule | None | RemoteError | str


@dataclass
class _Listing:
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


async def read_inventory(
    client: EngageLabClient,
    *,
    known_ids: Iterable[str] = (),
    max_attempts: int = 3,
    progress: Callable[[int, int], None] | None = None,
    confirm: bool = False,
) -> Inventory:
    """Every active task with its full detail, and whether that is provably all of them.

    ``known_ids`` (from the state file) missing from the list are confirmed with a detail GET:
    404 puts them in ``Inventory.gone``; an answer puts them in ``schedules`` (they exist).
    The list is re-read up to ``max_attempts`` times while it does not add up; after that the
    inventory is returned with ``complete=False`` and the reasons in ``problems``.
    With ``confirm``, a pass that adds up counts only when the next pass lists the same ids:
    one pass can add up and still miss a task (one deleted before a page boundary moves the
    next task onto a page already read, one created meanwhile keeps the total). A deleted task
    never comes back, so two equal passes cannot both be fooled that way; a list that fits in one
    page that is not full is one answer and needs no second pass. Whoever concludes
    from an absence that a task of unknown id does not exist (healing journalled creates) needs
    this; known ids are looked up one by one anyway.
    ``progress(details_read, details_started)`` is called as details arrive (for a terminal).

    Raises AuthError (wrong credentials), the error of page 1 when even that cannot be read,
    and InventoryError when a task's detail cannot be read: without it the planner could not
    tell the task from a missing one.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    reader = _Reader(client, progress)
    try:
        async with _deadline(client):
            return await reader.run(list(dict.fromkeys(known_ids)), max_attempts, confirm)
    finally:
        await reader.cancel_pending()


@asynccontextmanager
async def _deadline(client: EngageLabClient) -> AsyncIterator[None]:
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


class _Reader:
    """One inventory read: the list passes, and one detail task per id (never two)."""

    def __init__(
        self,
        client: EngageLabClient,
        progress: Callable[[int, int], None] | None = None,
        *,
        details: bool = True,
    ) -> None:
        self.client = client
        self.want_details = details
        self.details: dict[str, asyncio.Task[_Detail]] = {}
        self.progress = progress
        self.read = 0

    async def run(self, known_ids: list[str], max_attempts: int, confirm: bool) -> Inventory:
        seen, listing = await self.passes(max_attempts, confirm)
        for schedule_id in known_ids:
            if schedule_id not in seen:
                self.fetch_detail(schedule_id)  # churn or deleted: ask the task itself
        outcomes = dict(
            zip(self.details, await asyncio.gather(*self.details.values()), strict=True)
        )
        await self.check_agreement(seen, outcomes, set(known_ids))
        return _assemble(seen, outcomes, set(known_ids), listing, max_attempts)

    async def check_agreement(
        self, seen: dict[str, ListedSchedule], outcomes: dict[str, _Detail], known: set[str]
    ) -> None:
        """Refuse a read whose list and details disagree, unless a fresh list explains it.

        A listed task whose detail says 28104, or is named otherwise than its row, was deleted,
        fired or renamed between the two answers, or the server (or something in between) is
        lying. One more list pass tells them apart: a task it no longer shows is gone (for an
        id the state file holds, only when that pass adds up: concluding "gone" may recreate
        it), a row now showing the detail's name was renamed. Anything else is an error
        naming the ids: planning on it could recreate a live task or adopt the wrong one.
        """
        disputed: dict[str, str] = {}
        for schedule_id, outcome in outcomes.items():
            row = seen.get(schedule_id)
            if row is None:
                continue
            if outcome is None:
                disputed[schedule_id] = "the list shows it, its detail says it does not exist"
            elif isinstance(outcome, RemoteSchedule) and outcome.name != row.name:
                disputed[schedule_id] = (
                    f"the list names it {quoted(row.name)}, its detail {quoted(outcome.name)}"
                )
        if not disputed:
            return
        self.want_details = False
        again = await self.list_once()
        unresolved: list[str] = []
        for schedule_id, why in disputed.items():
            outcome = outcomes[schedule_id]
            now = again.rows.get(schedule_id)
            if outcome is None and now is None and (again.consistent or schedule_id not in known):
                continue
            if isinstance(outcome, RemoteSchedule) and now is not None and now.name == outcome.name:
                continue
            unresolved.append(f"{schedule_id}: {why}")
        if unresolved:
            shown = "; ".join(unresolved[:10])
            more = f" (and {len(unresolved) - 10} more)" if len(unresolved) > 10 else ""
            raise untrusted(
                f"the list and the details disagree, also on a second read: {shown}{more}"
            )

    async def passes(
        self, max_attempts: int, confirm: bool
    ) -> tuple[dict[str, ListedSchedule], _Listing]:
        """List passes until one adds up (and, with ``confirm``, is confirmed) or attempts end."""
        seen: dict[str, ListedSchedule] = {}
        listing: _Listing | None = None
        trusted = False
        previous: set[str] | None = None  # ids of the last pass that added up
        for attempt in range(1, max_attempts + 1):
            listing = await self.list_once()
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

    async def list_once(self) -> _Listing:
        first = await self.client.list_schedules(1)
        count, total = len(first.items), first.total_count
        if count > total or (count == 0 and total > 0):
            why = f"page 1 holds {count} task(s) but its total_count is {total}"
            return _Listing(rows={}, total_count=total, problems=[why], lie=why)
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
        rows: dict[str, ListedSchedule] = {}
        totals = {total}
        problems: list[str] = []
        lie: str | None = None
        last_items = count
        # Pages before details: they are on the critical path, and the limiter serves in order.
        # At most PAGE_WINDOW of them at once, started in page order as earlier ones arrive.
        pending: dict[int, asyncio.Task[SchedulePage | RemoteError]] = {}
        started = 1

        def start_pages() -> None:
            nonlocal started
            while started < last and len(pending) < PAGE_WINDOW:
                started += 1
                pending[started] = asyncio.create_task(self.page(started))

        try:
            start_pages()
            self.take(first, rows, 1)
            for n in range(2, last + 1):
                start_pages()
                result = await pending.pop(n)
                if isinstance(result, RemoteError):
                    problems.append(f"page {n} could not be read: {result.message}")
                    last_items = 0
                    continue
                lie = _page_lie(result, n, size)
                if lie is not None:
                    break  # no more pages of this pass (the rest are cancelled below)
                totals.add(result.total_count)
                self.take(result, rows, n)
                last_items = len(result.items)
        finally:
            for task in pending.values():
                task.cancel()  # only matters when one page raised (AuthError, a lie)
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
            result = await self.page(n)
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
        return _Listing(
            rows=rows, total_count=max(totals), problems=problems, pages=max(n, 1), lie=lie
        )

    async def page(self, n: int) -> SchedulePage | RemoteError:
        try:
            return await self.client.list_schedules(n)
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

    def fetch_detail(self, schedule_id: str) -> None:
        if schedule_id not in self.details:
            self.details[schedule_id] = asyncio.create_task(self.detail(schedule_id))

    async def detail(self, schedule_id: str) -> _Detail:
        try:
            # Checked and fingerprinted as it arrives: the work is spread over the read, while
            # the process mostly waits, instead of piling up after the last answer.
            return _remote_of(schedule_id, await self.client.get_schedule(schedule_id))
        except NotFoundError:
            return None
        except AuthError:
            raise
        except RemoteError as exc:
            return exc
        finally:
            self.read += 1
            if self.progress is not None:
                self.progress(self.read, len(self.details))

    async def cancel_pending(self) -> None:
        pending = [t for t in self.details.values() if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass(frozen=True)
class RemoteList:
    """The list alone (ids, names, enabled flags), and whether it provably holds every task."""

    rows: dict[str, ListedSchedule]  # by schedule_id, oldest first
    complete: bool
    problems: tuple[str, ...] = ()


async def read_list(
    client: EngageLabClient, *, max_attempts: int = 3, confirm: bool = False
) -> RemoteList:
    """Every page of the list, with the completeness rules of :func:`read_inventory`, no detail.

    For callers that already hold the bodies (a saved plan) and only need to know that the set
    of tasks, their names and their enabled flags are what they were.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    async with _deadline(client):
        seen, listing = await _Reader(client, details=False).passes(max_attempts, confirm)
    if listing.consistent:
        return RemoteList(rows=listing.rows, complete=True)
    return RemoteList(
        rows=seen,
        complete=False,
        problems=(*listing.problems, f"the list still did not add up after {max_attempts} read(s)"),
    )


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


MAX_BODY_DEPTH = 128  # manifests nest at most 100 levels (yamlread.MAX_DEPTH)


def _shape_problem(body: dict[str, Any]) -> str | None:
    """Why a detail is not a schedule the planner can reason about, or None.

    docs/api.md 2: a trigger of exactly one kind and a push object. A body without them (or nested
    deeper than any manifest can be) cannot be compared, replaced or guarded; planning on it
    would be guessing.
    """
    trigger = body.get("trigger")
    if not isinstance(trigger, dict):
        return "the detail has no 'trigger' object"
    kinds = [kind for kind in canonical.TRIGGER_KINDS if trigger.get(kind) is not None]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        every = ", ".join(canonical.TRIGGER_KINDS)
        return f"the detail's trigger needs exactly one of {every} ({found})"
    if not isinstance(trigger[kinds[0]], dict):
        return f"the detail's trigger.{kinds[0]} is not an object"
    if not isinstance(body.get("push"), dict):
        return "the detail has no 'push' object"
    if _deeper_than(body, MAX_BODY_DEPTH):
        return f"the detail is nested more than {MAX_BODY_DEPTH} levels deep"
    return None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests containers more than ``limit`` levels (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[Any] = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _remote_of(schedule_id: str, detail: dict[str, Any]) -> RemoteSchedule | str:
    """The task a detail answer describes, or why it is malformed."""
    enabled = detail.get("enabled")
    if not isinstance(enabled, bool):
        return "the detail has no boolean 'enabled'"
    shape = _shape_problem(detail)
    if shape is not None:
        return shape
    body = {k: v for k, v in detail.items() if k != "schedule_id"}
    remote = RemoteSchedule(
        schedule_id=schedule_id, name=detail["name"], enabled=enabled, body=body
    )
    _ = remote.fingerprint  # cached on the instance
    return remote


def _assemble(
    seen: dict[str, ListedSchedule],
    outcomes: dict[str, _Detail],
    known: set[str],
    listing: _Listing,
    max_attempts: int,
) -> Inventory:
    schedules: dict[str, RemoteSchedule] = {}
    gone: set[str] = set()
    failures: list[str] = []
    for schedule_id, outcome in outcomes.items():
        if outcome is None:
            # Listed-then-404 tasks were deleted (or fired) since: the server's word now stands.
            if schedule_id in known:
                gone.add(schedule_id)
            continue
        if isinstance(outcome, RemoteError):
            failures.append(f"{schedule_id}: {outcome.message}")
            continue
        if isinstance(outcome, str):
            failures.append(f"{schedule_id}: malformed answer: {outcome}")
            continue
        schedules[schedule_id] = outcome
    if failures:
        shown = "\n".join(f"  - {f}" for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise InventoryError(
            f"could not read the details of {len(failures)} schedule(s):\n{shown}{more}",
            hint="nothing was changed; try again later (or lower --rate-limit / --concurrency)",
        )
    problems: tuple[str, ...] = ()
    if not listing.consistent:
        problems = (
            *listing.problems,
            f"the list still did not add up after {max_attempts} read(s)",
        )
    # Keep the list's order (oldest first), then the ones found only by id.
    ordered = {sid: schedules[sid] for sid in seen if sid in schedules}
    ordered.update(schedules)
    return Inventory(
        schedules=ordered,
        complete=listing.consistent,
        problems=problems,
        gone=frozenset(gone),
        total_count=listing.total_count,
    )
