"""Read the remote side completely: every task of the list with its detail, checked for gaps.

The list and its completeness rules are ``listing``'s; this module adds the details. Each detail
GET starts as soon as its page arrives, and is checked and fingerprinted as it arrives. Ids the
caller knows from the state file and did not see in the list are looked up one by one (the
vendor's 28104: gone), so a managed task is never missed because of churn.

Answers that no honest server gives stop the read with an ``InventoryError`` before anything is
planned (docs/threat-model.md): a detail that is no schedule the planner can reason about, a
listed task whose detail has another name or says it does not exist (unless a fresh read of the
list agrees). A read whose details cannot all be read is refused too: without one the planner
could not tell the task from a missing one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.errors import (
    AuthError,
    InventoryError,
    NotFoundError,
    RemoteError,
)
from reconciler.planning import canonical
from reconciler.remote.client import EngageLabClient
from reconciler.remote.listing import Listing, ListReader, drop, read_deadline, untrusted
from reconciler.remote.observed import Inventory, RemoteSchedule
from reconciler.remote.responses import ListedSchedule, quoted

__all__ = ["Inventory", "RemoteSchedule", "read_inventory"]

# The task, 404, the failure, or why the answer is malformed.
_Detail = RemoteSchedule | None | RemoteError | str


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
    Every known id's detail is read either way (listed or looked up), so the pages the known
    ids fill are requested with page 1 (one try each: a guess), not one round trip after its
    answer, and their details as soon as page 1 has answered.

    Raises AuthError (wrong credentials), the error of page 1 when even that cannot be read,
    and InventoryError when a task's detail cannot be read: without it the planner could not
    tell the task from a missing one.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    known = list(dict.fromkeys(known_ids))
    reader = _Reader(client, progress, known)
    try:
        async with read_deadline(client):
            return await reader.run(set(known), max_attempts, confirm)
    finally:
        await reader.cancel_pending()


class _Reader(ListReader):
    """One inventory read: the list passes, and one detail task per id (never two)."""

    def __init__(
        self,
        client: EngageLabClient,
        progress: Callable[[int, int], None] | None = None,
        known: list[str] | None = None,
    ) -> None:
        super().__init__(client, expect=len(known or ()))
        self.want_details = True
        self.details: dict[str, asyncio.Task[_Detail]] = {}
        self.progress = progress
        self.read = 0
        self.known = known or []

    def page_one_read(self) -> None:
        # Listed or not (churn, deleted: then the task itself is asked), every known id's
        # detail is read; once page 1 shows that the server answers (a thousand details queued
        # before a failing page 1 would hold its retries up behind them), and after the pages
        # already requested, so that the limiter serves those first.
        for schedule_id in self.known:
            self.fetch_detail(schedule_id)
        self.known = []

    async def run(self, known: set[str], max_attempts: int, confirm: bool) -> Inventory:
        seen, listing = await self.passes(max_attempts, confirm)
        outcomes = dict(
            zip(self.details, await asyncio.gather(*self.details.values()), strict=True)
        )
        await self.check_agreement(seen, outcomes, known)
        # With ``confirm`` a pass that adds up is one the next pass repeated (``passes``).
        confirmed = listing.snapshot or (confirm and listing.consistent)
        return _assemble(seen, outcomes, known, listing, max_attempts, confirmed=confirmed)

    async def check_agreement(
        self, seen: dict[str, ListedSchedule], outcomes: dict[str, _Detail], known: set[str]
    ) -> None:
        """Refuse a read whose list and details disagree, unless a fresh list explains it.

        A listed task whose detail says 28104, or is named otherwise than its row, was deleted,
        fired or renamed between the two answers, or the server (or something in between) is
        lying. One more list pass, and the disputed details read again with it, tell them
        apart: a task the pass no longer shows, and whose detail says 28104 again, is gone (for
        an id the state file holds, only when that pass adds up: concluding "gone" may
        recreate it; any other second answer is no proof of absence), a row now showing the
        detail's name was renamed after the list was read, a fresh detail now showing the
        row's name was renamed after its first detail was read (details start with the first
        pages, so either can be the older answer). Anything else is an error naming the ids:
        planning on it could recreate a live task or adopt the wrong one.
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
        fresh = {sid: asyncio.ensure_future(self.fetch(sid)) for sid in disputed}
        try:
            again = await self.list_once()
            fresh_outcomes = dict(zip(fresh, await asyncio.gather(*fresh.values()), strict=True))
        finally:
            await drop(list(fresh.values()))
        unresolved: list[str] = []
        churned = 0  # gone on both looks, only the list that would confirm it kept changing
        for schedule_id, why in disputed.items():
            outcome = outcomes[schedule_id]
            now = again.rows.get(schedule_id)
            newer = fresh_outcomes[schedule_id]
            if (
                outcome is None
                and now is None
                and newer is None  # the vendor's not-found again: any other answer is no proof
                and (again.consistent or schedule_id not in known)
            ):
                continue
            if isinstance(outcome, RemoteSchedule) and now is not None and now.name == outcome.name:
                continue
            if isinstance(newer, RemoteSchedule) and now is not None and now.name == newer.name:
                outcomes[schedule_id] = newer  # the task as it is now, as its row says
                continue
            unresolved.append(f"{schedule_id}: {why}{_then(newer, now, again)}")
            churned += outcome is None and newer is None and now is None
        if unresolved and churned == len(unresolved):
            # Every dispute is a task the server twice said is gone, and the only doubt is
            # that the list changed again while it was read: an app whose tasks are firing or
            # being deleted right now, not a server that lies. Still no plan on it (concluding
            # "gone" may recreate a task), but the message says what is happening.
            raise InventoryError(
                f"{len(unresolved)} task(s) disappeared while the list was read, and the list "
                "kept changing when it was read again, so their absence could not be "
                f"confirmed: {_shown(unresolved)}",
                hint="nothing was changed; tasks of the app are being deleted, or are firing "
                "(a single-shot task is removed by the server once it has fired), right now. "
                "Run the command again once the app is quiet, in a minute or two",
            )
        if unresolved:
            raise untrusted(
                f"the list and the details disagree, also on a second read: {_shown(unresolved)}"
            )

    def fetch_detail(self, schedule_id: str) -> None:
        if schedule_id not in self.details:
            self.details[schedule_id] = asyncio.create_task(self.detail(schedule_id))

    async def detail(self, schedule_id: str) -> _Detail:
        try:
            return await self.fetch(schedule_id)
        finally:
            self.read += 1
            if self.progress is not None:
                self.progress(self.read, len(self.details))

    async def fetch(self, schedule_id: str) -> _Detail:
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

    async def cancel_pending(self) -> None:
        await drop(list(self.details.values()))


def _shown(disputes: list[str]) -> str:
    more = f" (and {len(disputes) - 10} more)" if len(disputes) > 10 else ""
    return "; ".join(disputes[:10]) + more


def _then(newer: _Detail, now: ListedSchedule | None, again: Listing) -> str:
    """What the second look at a disputed task showed, for the error that names it."""
    if now is not None:
        row = f"names it {quoted(now.name)}"
    elif again.consistent:
        row = "no longer lists it"
    else:  # a row missing from a pass that did not add up says nothing
        row = f"could not be read whole ({again.problems[0]})"
    if isinstance(newer, RemoteSchedule):
        detail = f"its detail read again names it {quoted(newer.name)}"
    elif newer is None:
        detail = "its detail read again says it does not exist"
    elif isinstance(newer, RemoteError):
        detail = f"reading its detail again failed ({newer.message})"
    else:
        detail = f"its detail read again is malformed ({newer})"
    return f"; then the list {row} and {detail}"


MAX_BODY_DEPTH = 128  # manifests nest at most 100 levels (manifests.yamlconvert.MAX_DEPTH)


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
    listing: Listing,
    max_attempts: int,
    *,
    confirmed: bool,
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
        listed=frozenset(listing.rows),
        confirmed=confirmed,
    )
