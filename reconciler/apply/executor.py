"""Carry out a Plan against the API, journalled so that a crash at any point heals on re-run.

The promise: never a duplicate task, never a lost one. It rests on three habits:

* Every create (and the create half of a replace or recreate) is written to the state's
  ``pending`` journal, and that journal is saved, *before* the POST leaves. After a crash, or
  after a create whose answer was lost, ``healing.heal_journal`` looks the task up by name and
  body fingerprint: found means adopt it, a complete read without it means the POST never took
  effect.
* A replace records the new task together with a pending delete of the old one in one state
  write, so the old task is deleted on the next run even if the process dies in between.
* Updates and deletes need no journal: a PUT repeated is harmless and a crash after it shows up
  as a ``refresh`` in the next plan; a delete whose state write was lost shows up as ``expired``.
* Two applies from two checkouts (each with its own state file and lock) that create the same
  schedule at the same moment both see no task of its name, and both create one. After its
  creates, a run reads the list again: the list is oldest first, so every run agrees which of
  the copies is the first. A run whose task is not the first, with the first's body, gives way
  (``_settle_races``): it records the first task under the name with a debt to delete its own
  (the replace's shape, so a crash in between is healed), then deletes it.

What a run changes in the state is made durable by ``writer.StateWriter``: at once before a
POST, coalesced within a phase; what a crash loses of that window is exactly what the journal and
re-planning recover.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from reconciler.apply.healing import Healing, Held, find_created, journal_ids
from reconciler.apply.writer import StateWriter
from reconciler.errors import (
    AmbiguousCreateError,
    InventoryError,
    NotFoundError,
    ReconcilerError,
    RemoteError,
)
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning.actions import (
    Action,
    ConflictAction,
    CreateAction,
    DeleteAction,
    ExpiredAction,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UnmanagedAction,
    UpdateAction,
    keep_one_advice,
    retires,
)
from reconciler.planning.artifact import Plan
from reconciler.planning.canonical import name_key
from reconciler.planning.diff import fingerprint_matches
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import read_inventory
from reconciler.remote.listing import RemoteList
from reconciler.state import edits as st
from reconciler.state.schema import State, StateEntry

Progress = Callable[[str], None]


async def finish_healing(
    client: EngageLabClient,
    writer: StateWriter,
    healing: Healing,
    paid: Callable[[str, str], None] = lambda name, old: None,
) -> list[str]:
    """Carry out the deletes the journal still owes; returns failures (empty on success).
    ``paid`` hears of each task deleted (its schedule's name and id)."""
    failures: list[str] = []
    for name, old in healing.finish_deletes:
        try:
            await client.delete_schedule(old)
            paid(name, old)
        except NotFoundError:
            pass
        except RemoteError as exc:
            failures.append(f"{name}: finishing the delete of the replaced task {old}: {exc}")
            continue
        writer.change(st.clear_pending, name)
    writer.flush()
    return failures


# -- execution --------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    """What an apply did."""

    done: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings: done, but worth a look
    writes: int = 0  # writes the server made (refused and failed ones are not counted)

    def summary(self) -> str:
        """Each action done (with the new ids), then the counts; failures follow as an error."""
        ok = f"Apply complete: {len(self.done)} action(s) done, {self.writes} remote write(s)"
        ok += f", {len(self.failures)} failed." if self.failures else "."
        return "\n".join([*(f"  {done}" for done in self.done), ok])


# How long a run whose copy came first waits for the later copies' runs to give way, and how
# often it looks: a race is rare, and the other run settles once its own creates are done.
SETTLE_WAIT_SECONDS = 10.0
SETTLE_POLL_SECONDS = 1.0

# A POST leaves within this of its journal entry's stamp (see ``_keep_stamps_fresh``): well
# inside the grace healing gives a create it cannot see.
_RESTAMP_AFTER = LATE_COMMIT_GRACE / 10


class Executor:
    """Runs the actions of one plan; independent actions go on when one fails."""

    def __init__(
        self,
        client: EngageLabClient,
        writer: StateWriter,
        *,
        now: Callable[[], datetime],
        local: Callable[[], datetime] | None = None,
        progress: Progress | None = None,
        existing: frozenset[str] = frozenset(),
        race_check: bool = True,
        foreign: Callable[[], Held] = Held,
    ) -> None:
        self.client = client
        self.writer = writer
        self.now = now
        # The ids of the tasks the read showed: none of them can be a task this run makes.
        self.existing = existing
        # Look for copies another apply made at the same moment (``_settle_races``): pointless
        # where no other process can write (the embedded emulator, one checkout's own file).
        self.race_check = race_check
        # What other environments' state files hold on this app, read when it is needed.
        self.foreign = foreign
        # (name, id, fingerprint, protected) of every task this run made and recorded.
        self._made: list[tuple[str, str, str, bool]] = []
        # (name, this run's id, later copies): their runs are to give way to this one.
        self._awaited: list[tuple[str, str, list[str]]] = []
        # This machine's clock, for the journal's second stamp (none: the entries have one).
        self.local = local
        self.progress = progress
        self.report = ApplyReport()
        self._ambiguous: list[CreateAction | RecreateAction | ReplaceAction] = []
        self._stamped: datetime | None = None  # when the journal's creates were last stamped
        # Journalled creates (and replaces) whose POST has not left: if the run stops before
        # it does (Ctrl-C, SIGTERM), the entry is dropped, or healing would hold up the next
        # run for LATE_COMMIT_GRACE over a request that never existed.
        self._unsent: set[str] = set()

    async def run(self, plan: Plan) -> ApplyReport:
        try:
            return await self._run(plan)
        except BaseException:
            self._forget_unsent()
            raise

    def _forget_unsent(self) -> None:
        """Drop the journal entries of creates whose POST never left (see ``_unsent``).

        Only when the run stops on its way (cancelled, interrupted, an unexpected error): a
        POST that left is judged by healing, whatever happened after. A failed save leaves the
        entries journalled, which is safe: the next run waits out their grace."""
        for name in sorted(self._unsent):
            self.writer.change(st.clear_pending, name)
        self._unsent.clear()
        # Saved even with nothing dropped: a re-stamp of lost creates (``_resolve_ambiguous``)
        # may still be only in memory.
        with suppress(OSError, ReconcilerError):
            self.writer.flush()

    async def _run(self, plan: Plan) -> ApplyReport:
        renames, actions = self._not_owed(plan.renames, plan.actions)
        self._stamped = self.now()  # every entry journalled from here on is stamped after it
        if renames:
            # Declared renames move their state entries first, durably: whatever happens next,
            # the entry already carries the manifest's name, so a re-run plans an update of the
            # same task (never a delete of the old name and a create of the new one).
            for new_name, old_name in sorted(renames.items()):
                self.writer.change(st.rename, old_name, new_name)
            self.writer.flush()
        self._bookkeeping(actions)
        deletes, changes, creates = _phases(actions)
        await self._phase("delete", deletes)
        # One phase (they may run together), labelled by what it holds.
        kinds = sorted({a.kind for a in changes})
        await self._phase(" and ".join(kinds), changes)
        if creates:
            # The journal must be durable before the first POST leaves (module docstring).
            journalled: list[tuple[str, str, str | None]] = []
            for a in creates:
                old = a.old_schedule_id if isinstance(a, RecreateAction) else None
                journalled.append((a.name, a.fingerprint, old))
            self.writer.change(st.begin_creates, journalled, self.now(), local=self._local())
            self.writer.flush()
            self._stamped = self.now()
            self._unsent.update(a.name for a in creates)
        await self._phase("create", creates)
        if self._ambiguous:
            await self._resolve_ambiguous()
        self.writer.flush()
        if self._made and self.race_check:
            await self._settle_races()
        return self.report

    def _not_owed(
        self, renames: Mapping[str, str], actions: Sequence[Action]
    ) -> tuple[dict[str, str], list[Action]]:
        """The renames and actions that leave the journal's open debts in place.

        Healing has settled every entry it could before the plan was made; one left now is a
        debt whose payment failed (the delete of a replaced task). A create, recreate or
        replace of that name needs the journal's one entry for the name, and a rename moves
        the name: they wait for a run that has paid the debt, with the actions of a name they
        would have renamed to. Everything else on the name goes on (an update, a disable, a
        delete of the new task: the user can stop a schedule); the state's edits of the name
        (``record_update``, ``forget``) keep a debt on another task."""
        debts = self.writer.state.pending
        if not debts:
            return dict(renames), list(actions)
        kept_renames: dict[str, str] = {}
        held: dict[str, str] = {}  # name -> the debt's name
        for new_name, old_name in renames.items():
            moved = old_name if old_name in debts else new_name
            if moved in debts:
                held[new_name] = moved
            else:
                kept_renames[new_name] = old_name
        kept: list[Action] = []
        for a in actions:
            owed = held.get(a.name)
            if owed is None and a.name in debts:
                slot = isinstance(a, CreateAction | RecreateAction | ReplaceAction)
                owed = a.name if slot else None
            if owed is None:
                kept.append(a)
                continue
            debt = debts[owed].old_schedule_id
            self.report.failures.append(
                f"{a.kind} {a.name!r}: not carried out, the journal still owes the delete of "
                f"the replaced task {debt} of {owed!r} (see above); re-run apply once that "
                "delete succeeds"
            )
        return kept_renames, kept

    def _bookkeeping(self, actions: Sequence[Action]) -> None:
        """State-only actions: no API call."""
        for a in actions:
            match a:
                case ExpiredAction() | SkipAction(forget=True):
                    # Its id is kept: `history NAME` must still answer "did it go out?".
                    self.writer.change(st.forget_fired, a.name, self.now(), a.reason)
                    self.report.done.append(f"forgot {a.name!r} ({a.kind})")
                case RefreshAction():
                    self.writer.change(
                        st.record_update, a.name, a.fingerprint, a.protected, self.now()
                    )
                    self.report.done.append(f"refreshed {a.name!r} in the state")
                case (
                    CreateAction()
                    | UpdateAction()
                    | ReplaceAction()
                    | DeleteAction()
                    | RecreateAction()
                    | ConflictAction()
                    | UnmanagedAction()
                    | SkipAction()
                ):
                    pass  # a remote write (the phases) or a report: nothing to book here
                case _:
                    assert_never(a)
        self.writer.flush()

    async def _phase(self, label: str, actions: Sequence[Action]) -> None:
        if not actions:
            return
        total = len(actions)
        finished = 0

        async def one(action: Action) -> None:
            nonlocal finished
            try:
                await self._do(action)
            except ReconcilerError as exc:
                # The hint says why it stopped ("the server asked to wait 900 s", "gave up
                # after 6 attempts"): without it a refusal reads like a plain error.
                why = f" ({exc.hint})" if exc.hint else ""
                self.report.failures.append(f"{action.kind} {action.name!r}: {exc}{why}")
            finished += 1
            if self.progress is not None and (finished == total or finished % 50 == 0):
                self.progress(f"{label}: {finished}/{total}")
            await self.writer.maybe_flush()

        tasks = [asyncio.ensure_future(one(a)) for a in actions]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # gather lets the first error through with the other writes still running (only a
            # cancellation reaches them): stop and wait for every one, so that nothing is sent
            # after the run has ended and decided what its journal holds (``_forget_unsent``).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self.writer.flush()

    async def _do(self, a: Action) -> None:
        match a:
            case DeleteAction():
                await self._delete(a.schedule_id)
                self.writer.change(st.forget, a.name)
                self.report.done.append(f"deleted {a.name!r} ({a.schedule_id})")
            case UpdateAction():
                await self.client.update_schedule(a.schedule_id, a.body)
                self.report.writes += 1
                self.writer.change(st.record_update, a.name, a.fingerprint, a.protected, self.now())
                self.report.done.append(f"updated {a.name!r} ({a.schedule_id})")
            case ReplaceAction():
                await self._replace(a)
            case CreateAction() | RecreateAction():
                new_id = await self._create(a)
                if new_id is not None:
                    self._record_made(a, new_id)
                    self.report.done.append(f"{a.kind}d {a.name!r} ({new_id})")
            case (
                ExpiredAction()
                | RefreshAction()
                | ConflictAction()
                | UnmanagedAction()
                | SkipAction()
            ):
                pass  # no API call: state-only ones are booked by _bookkeeping, reports left
            case _:
                assert_never(a)

    async def _delete(self, schedule_id: str) -> None:
        with suppress(NotFoundError):  # already gone: the goal of a delete is met
            await self.client.delete_schedule(schedule_id)
            self.report.writes += 1

    async def _create(self, a: CreateAction | RecreateAction | ReplaceAction) -> str | None:
        """POST the body; None when the outcome is ambiguous (resolved after the phase)."""
        try:
            created = await self.client.create_schedule(
                a.body, before_send=lambda: self._leaving(a.name)
            )
        except AmbiguousCreateError:
            self._ambiguous.append(a)
            return None
        except ReconcilerError:
            # A clean rejection: nothing was created, so the journal entry is void.
            self.writer.change(st.clear_pending, a.name)
            raise
        doubt = self._doubt(created.schedule_id)
        if doubt is not None:
            # Recorded, this id would give two names one task (a state no command accepts)
            # or, in a replace, have the old task's delete remove the new one. The POST may
            # still have made a task: looked up by name and body like a lost answer.
            self.report.failures.append(f"{a.kind} {a.name!r}: {doubt}")
            self._ambiguous.append(a)
            return None
        self.report.writes += 1
        return created.schedule_id

    def _doubt(self, new_id: str) -> str | None:
        """Why a create's answer cannot name the task just made, or None: its id is a task
        that existed before this run (a schedule's, an unmanaged one, an old one the journal
        is to delete), or one the state holds now.

        The name in the answer is not judged: a server may store a name in its own form (more
        than ``name_key`` folds), and an answer doubted for that would be looked up by a name
        the server does not show, missed, and sent again once the grace had passed."""
        state = self.writer.state
        holder = next((n for n, e in state.entries.items() if e.schedule_id == new_id), None)
        if holder is not None:
            what = f"the task of {holder!r}"
        elif new_id in self.existing or any(
            p.old_schedule_id == new_id for p in state.pending.values()
        ):
            what = "a task that existed before this run"
        else:
            return None
        return (
            f"the server answered the create with the id {new_id}, which is already {what}; "
            "the answer is not used, and the task is looked up by its name and body"
        )

    async def _replace(self, a: ReplaceAction) -> None:
        """Create new, then delete old; undo the new one if the old cannot be deleted."""
        if retires(a):
            await self._retire_for_disabled(a)
            return
        old_entry = self.writer.state.entries.get(a.name)
        self.writer.change(
            st.begin_pending,
            "replace",
            a.name,
            a.fingerprint,
            self.now(),
            a.old_schedule_id,
            local=self._local(),
        )
        self.writer.flush()
        self._unsent.add(a.name)
        new_id = await self._create(a)
        if new_id is not None:
            await self._retire_old(a, new_id, old_entry)

    async def _retire_for_disabled(self, a: ReplaceAction) -> None:
        """Replace into a disabled manifest: delete the old task and forget the name.

        docs/api.md section 2: ``enabled`` must be true on create, so the new half cannot be made
        now. A disabled manifest that has no task is exactly the plan-semantics row "enabled:
        false, not yet created" (skip; created once enabled), which is where this leaves it.
        No journal: if the DELETE fails the entry stays and the next plan shows the replace.
        """
        await self._delete(a.old_schedule_id)
        self.writer.change(st.forget, a.name)
        self.report.done.append(
            f"replaced {a.name!r}: deleted {a.old_schedule_id}; the manifest is disabled, so "
            "its new task is created when it is enabled (docs/api.md 2: no disabled creates)"
        )

    async def _retire_old(
        self, a: ReplaceAction, new_id: str, old_entry: StateEntry | None
    ) -> None:
        """Second half of a replace: record the new task, delete the old one (or undo)."""
        # The new task and the debt to delete the old one become durable together.
        self.writer.change(st.record_create, a.name, new_id, a.fingerprint, a.protected, self.now())
        self.writer.change(
            st.begin_pending, "delete", a.name, a.fingerprint, self.now(), a.old_schedule_id
        )
        self.writer.flush()
        try:
            await self._delete(a.old_schedule_id)
        except ReconcilerError as exc:
            try:
                await self._delete(new_id)
            except ReconcilerError as undo_exc:
                raise RemoteError(
                    f"deleting the old task {a.old_schedule_id} failed ({exc}) and undoing the "
                    f"new task {new_id} failed too ({undo_exc}); the next apply deletes the old "
                    "task",
                ) from undo_exc
            if old_entry is not None:
                self.writer.change(_restore_entry, a.name, old_entry)
            raise RemoteError(
                f"deleting the old task {a.old_schedule_id} failed ({exc}); the new task "
                f"{new_id} was deleted again, nothing changed",
            ) from exc
        self.writer.change(st.clear_pending, a.name)
        self._made.append((a.name, new_id, a.fingerprint, a.protected))
        self.report.done.append(f"replaced {a.name!r} ({a.old_schedule_id} -> {new_id})")

    def _record_made(self, a: CreateAction | RecreateAction, new_id: str) -> None:
        self.writer.change(st.record_create, a.name, new_id, a.fingerprint, a.protected, self.now())
        self._made.append((a.name, new_id, a.fingerprint, a.protected))

    async def _settle_races(self) -> None:
        """Give way where another apply made the same schedule at the same moment.

        The list is read again after the creates. A task named like one this run made, that the
        read before the plan did not show and this state does not hold, was made meanwhile:
        by another checkout applying the same manifest, as a rule. The list is oldest first
        (docs/api.md), so each run sees the same first copy, and every copy's run sees the
        first one (it existed before that run's own task did):
        - this run's task is the first: it stays; the others' runs give way, which it waits
          for (``_await_later_copies``);
        - another is first, with the body this run sent, on this read and on one more (a
          server whose order is not stable must not make two runs both give way): this run
          records that task under the name, with a debt to delete its own (healed if the run
          stops in between), and deletes its own;
        - another is first with another body (another revision, or someone else's task): both
          fire, and which is right is a person's call: a failure naming both.
        A copy that another environment's state file holds, or of a name it manages or is
        creating (``foreign``: two environments on one app), is never given way to: both fire,
        a failure says why.
        """
        from reconciler.remote.listing import read_list

        try:
            listed = await read_list(self.client, expect=len(self.writer.state.entries))
            if not listed.complete:
                # Pages of passes that did not add up, merged: not in the server's order, so
                # no copy may be judged first from them.
                raise InventoryError("; ".join(listed.problems))
        except ReconcilerError as exc:
            self.report.notes.append(
                f"the list could not be read whole again after the creates ({exc}), so copies "
                "another apply may have made at the same moment were not looked for; "
                "`reconciler plan` shows them"
            )
            return
        foreign: Held | None = None  # read when a copy is found: most runs find none
        state = self.writer.state
        claimed = {e.schedule_id for e in state.entries.values()}
        claimed |= {p.old_schedule_id for p in state.pending.values() if p.old_schedule_id}
        yielding: list[tuple[str, str, str, str, bool]] = []
        order = {sid: n for n, sid in enumerate(listed.rows)}
        by_name = _by_name(listed)
        known = claimed | self.existing
        for name, mine, fingerprint, protected in sorted(self._made):
            copies = _copies(by_name, name, mine, known)
            if not copies:
                continue
            shown = ", ".join(copies)
            first = min(copies, key=order.__getitem__)
            if foreign is None:
                foreign = self.foreign()
            other_env = foreign.names.get(name_key(name)) or next(
                (foreign.ids[sid] for sid in copies if sid in foreign.ids), None
            )
            if other_env is not None:
                self.report.failures.append(
                    f"{name!r}: remote task(s) {shown} of the same name appeared while this "
                    f"apply ran, beside this run's {mine}, and the environment {other_env!r} "
                    "manages the name on this same app (its state file says so): two "
                    "environments manage one app's schedules, and each copy fires. Give each "
                    "environment its own app (AppKey and endpoint); meanwhile keep one copy: "
                    "in the environment whose copy goes, `reconciler state rm "
                    f"{shlex.quote(name)}`, then `reconciler remote delete ID` of that copy"
                )
                continue
            if mine not in order:
                self.report.notes.append(
                    f"{name!r}: remote task(s) {shown} of the same name appeared while this "
                    f"apply ran, and this run's {mine} is not listed yet, so which came first "
                    "is not known: `reconciler plan` shows whether more than one is left"
                )
                continue
            if order[mine] < order[first]:
                await self._first_of_copies(name, mine, fingerprint, copies)
                continue
            yielding.append((name, mine, first, fingerprint, protected))
            known = known | {first}
        if yielding:
            await self._give_way_all(yielding)
        if self._awaited:
            await self._await_later_copies()

    async def _give_way_all(self, yielding: list[tuple[str, str, str, str, bool]]) -> None:
        """Give way on each name whose first copy is still first on one more read."""
        from reconciler.remote.listing import read_list

        try:
            again = await read_list(self.client, expect=len(self.writer.state.entries))
            if not again.complete:
                raise InventoryError("; ".join(again.problems))
        except ReconcilerError as exc:
            again = None
            why = f"the list could not be read whole a second time ({exc})"
        order = {} if again is None else {sid: n for n, sid in enumerate(again.rows)}
        by_name = {} if again is None else _by_name(again)
        for name, mine, first, fingerprint, protected in yielding:
            if again is not None:
                copies = _copies(by_name, name, mine, self.existing)
                agreed = (
                    mine in order
                    and first in copies
                    and min(copies, key=order.__getitem__) == first
                    and order[first] < order[mine]
                )
                why = "the second read of the list does not show it first"
                if agreed:
                    try:
                        await self._give_way(name, mine, first, fingerprint, protected)
                    except ReconcilerError as exc:
                        self.report.failures.append(
                            f"{name!r}: giving way to task {first}, made first by another "
                            f"apply: {exc}; the journal keeps the delete of this run's copy "
                            f"{mine} for the next apply"
                        )
                    continue
            self.report.failures.append(
                f"{name!r}: task {first} of the same name was made by another apply at the "
                f"same moment, before this run's {mine}, but {why}: both are kept, and both "
                f"fire. {_keep_one(name, mine, first)}"
            )

    async def _first_of_copies(
        self, name: str, mine: str, fingerprint: str, copies: list[str]
    ) -> None:
        """This run's copy came first: the later copies' runs give way to it, if they hold
        the body this run sent; one with another body will not (a failure: both fire)."""
        other: list[str] = []
        for sid in copies:
            # None: gone, its run gave way already
            if await self._holds(sid, name, fingerprint) is False:
                other.append(sid)
        if other:
            self.report.failures.append(
                f"{name!r}: task(s) {', '.join(other)} of the same name, made while this apply "
                f"ran and after this run's {mine}, hold another body (another checkout at "
                "another revision of the manifest, or someone else's task): both are kept, "
                f"and both fire. {_keep_one(name, mine, other[0])}"
            )
            return
        self._awaited.append((name, mine, copies))

    async def _await_later_copies(self) -> None:
        """Wait, up to ``SETTLE_WAIT_SECONDS``, for the runs of the later copies of this run's
        tasks to give way, and say how it ended: a copy still live then fires too (its run may
        still be busy, or judged the order otherwise: a server whose list order differs from
        one client to the next)."""
        from reconciler.remote.listing import read_list

        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_WAIT_SECONDS
        left = {name: set(copies) for name, _, copies in self._awaited}
        while True:
            try:
                listed = await read_list(self.client, expect=len(self.writer.state.entries))
            except ReconcilerError:
                listed = None
            if listed is not None and listed.complete:
                live = set(listed.rows)
                left = {n: ids & live for n, ids in left.items() if ids & live}
            if not left or loop.time() >= deadline:
                break
            await asyncio.sleep(SETTLE_POLL_SECONDS)
        for name, mine, copies in self._awaited:
            if name in left:
                still = ", ".join(sorted(left[name]))
                self.report.failures.append(
                    f"{name!r}: task(s) {still} of the same name, made by another apply at the "
                    f"same moment and after this run's {mine}, with its body, are still live "
                    f"{SETTLE_WAIT_SECONDS:g} s later: that apply has not given way (it may "
                    "still be running, or the server showed it the copies in another order). "
                    + _keep_one(name, mine, sorted(left[name])[0])
                )
            else:
                self.report.notes.append(
                    f"{name!r}: another apply made the schedule at the same moment as this one "
                    f"({', '.join(copies)}), and gave way to this run's first copy {mine}"
                )

    async def _holds(self, sid: str, name: str, fingerprint: str) -> bool | None:
        """Whether task ``sid`` holds the body this run sent for ``name`` (its name compared as
        the planner compares names); None when it is gone."""
        try:
            detail = await self.client.get_schedule(sid)
        except NotFoundError:
            return None
        body = {k: v for k, v in detail.items() if k != "schedule_id"}
        return fingerprint_matches(fingerprint, {**body, "name": name})

    async def _give_way(
        self,
        name: str,
        mine: str,
        first: str,
        fingerprint: str,
        protected: bool,
    ) -> None:
        """Adopt ``first`` (made by another apply before ``mine``) and delete ``mine``, if
        ``first`` is the schedule this run sent; otherwise a failure naming both."""
        holds = await self._holds(first, name, fingerprint)
        if holds is None:
            return  # gone again (its own run gave way after all): nothing to settle
        if not holds:
            self.report.failures.append(
                f"{name!r}: task {first} of the same name, made while this apply ran and "
                f"before this run's {mine}, holds another body (another checkout at another "
                "revision of the manifest, or someone else's task): both are kept, and both "
                f"fire. Check it with `reconciler remote show {first}`. "
                + _keep_one(name, mine, first)
            )
            return
        # The debt first, with the adoption, in one write: from here a stop leaves the state
        # on the first task and the journal owing the delete of this run's (as a replace).
        self.writer.change(st.record_create, name, first, fingerprint, protected, self.now())
        self.writer.change(st.begin_pending, "delete", name, fingerprint, self.now(), mine)
        self.writer.flush()
        await self._delete(mine)
        self.writer.change(st.clear_pending, name)
        self.writer.flush()
        try:
            await self.client.get_schedule(first)
        except NotFoundError:
            # The other run deleted its copy too (it judged this one first): none is left.
            self.report.failures.append(
                f"{name!r}: this run gave way to task {first}, made by another apply at the "
                f"same moment, and deleted its own copy {mine}; {first} is gone too (the other "
                "run judged the copies the other way round), so no task of the schedule is "
                "live: the next apply creates it"
            )
            return
        self.report.done.append(
            f"gave way on {name!r}: another apply made it at the same moment ({first}), "
            f"first; this run's copy {mine} was deleted and {first} recorded"
        )

    def _leaving(self, name: str) -> None:
        """``name``'s POST is about to leave: from now on only healing may drop its entry."""
        self._unsent.discard(name)
        self._keep_stamps_fresh()

    def _local(self) -> datetime | None:
        return None if self.local is None else self.local()

    def _keep_stamps_fresh(self) -> None:
        """Stamp the journal's creates again before a POST if their stamp is older than
        ``_RESTAMP_AFTER``: healing waits ``LATE_COMMIT_GRACE`` from the stamp before it takes
        an unlisted create as never made, and a POST may leave long after its entry was
        journalled (paced behind the others, refused and retried, its own --timeout)."""
        now = self.now()
        if self._stamped is not None and now - self._stamped < _RESTAMP_AFTER:
            return
        self.writer.change(st.restamp_pending, now, local=self._local())
        self.writer.flush()
        self._stamped = now  # only once saved: a failed save is tried again by the next POST

    async def _resolve_ambiguous(self) -> None:
        """Look up creates whose answer was lost: adopt what exists, keep the rest journalled.

        A task not visible yet is NOT taken as "never created" here: the server may still
        commit a request it has not answered. It stays journalled; the next run decides.
        """
        # What is left journalled waits from now: its POST was sent before now, not before
        # the entry was first written (stamped before the lookup, which may fail).
        self.writer.change(
            st.restamp_pending, self.now(), [a.name for a in self._ambiguous], local=self._local()
        )
        try:
            inventory = await read_inventory(self.client, known_ids=journal_ids(self.writer.state))
        except ReconcilerError as exc:
            for a in self._ambiguous:
                self.report.failures.append(
                    f"{a.kind} {a.name!r}: outcome unknown and the lookup failed ({exc}); "
                    "it stays journalled, re-run apply to resolve it"
                )
            return
        claimed = {e.schedule_id for e in self.writer.state.entries.values()}
        for a in sorted(self._ambiguous, key=lambda x: x.name):
            old = a.old_schedule_id if isinstance(a, ReplaceAction | RecreateAction) else None
            found = find_created(inventory, a.name, a.fingerprint, claimed | {old or ""})
            if not found:
                self.report.failures.append(
                    f"{a.kind} {a.name!r}: the server's answer was lost and the task is not "
                    "visible yet; it stays journalled: an apply run 5 minutes after it (a "
                    "server may commit it late) adopts it if it appears, or creates it"
                )
                continue
            new_id = found[0]
            claimed.add(new_id)
            self.report.writes += 1  # the create whose answer was lost
            try:
                if isinstance(a, ReplaceAction):
                    await self._retire_old(a, new_id, self.writer.state.entries.get(a.name))
                else:
                    self._record_made(a, new_id)
                    self.report.done.append(f"{a.kind}d {a.name!r} ({new_id}; answer was lost)")
            except ReconcilerError as exc:
                self.report.failures.append(f"{a.kind} {a.name!r}: {exc}")
        self.writer.flush()


def _by_name(listed: RemoteList) -> dict[str, list[str]]:
    """The listed ids by ``name_key`` of their names, in the list's order (built once: a run of
    1000 creates looks up 1000 names)."""
    found: dict[str, list[str]] = {}
    for sid, row in listed.rows.items():
        found.setdefault(name_key(row.name), []).append(sid)
    return found


def _copies(
    by_name: Mapping[str, list[str]], name: str, mine: str, known: set[str] | frozenset[str]
) -> list[str]:
    """Ids of listed tasks named like ``name`` (as the planner compares names, ``_by_name``)
    that are neither ``mine`` nor ``known`` (tasks this run read before its plan, or this state
    holds)."""
    return [sid for sid in by_name.get(name_key(name), ()) if sid != mine and sid not in known]


def _keep_one(name: str, mine: str, other: str) -> str:
    """How to end two copies of one schedule, each managed by its own state file (two checkouts
    or environments): one state lets its copy go, deletes it, and takes the other."""
    return (
        "Run `reconciler plan` first: the other apply may still give way. If the schedule is "
        "still live twice, two state files manage it, each its own copy; keep one. "
        f"{keep_one_advice(name)} (here this run's copy is {mine}, the other {other})"
    )


def _phases(
    actions: Sequence[Action],
) -> tuple[
    list[DeleteAction], list[UpdateAction | ReplaceAction], list[CreateAction | RecreateAction]
]:
    """The remote writes of a plan by phase, in plan order: deletes, then changes, then creates
    (docs/design.md "Plan semantics": slots free up before new tasks need them)."""
    deletes: list[DeleteAction] = []
    changes: list[UpdateAction | ReplaceAction] = []
    creates: list[CreateAction | RecreateAction] = []
    for a in actions:
        match a:
            case DeleteAction():
                deletes.append(a)
            case UpdateAction() | ReplaceAction():
                changes.append(a)
            case CreateAction() | RecreateAction():
                creates.append(a)
            case (
                ExpiredAction()
                | RefreshAction()
                | ConflictAction()
                | UnmanagedAction()
                | SkipAction()
            ):
                pass  # no API call: state-only ones are booked first, reports left alone
            case _:
                assert_never(a)
    return deletes, changes, creates


def _restore_entry(state: State, name: str, entry: StateEntry) -> State:
    """``state`` with ``name`` pointing at ``entry`` again and no journal for it (replace undo)."""
    return st.clear_pending(
        state.model_copy(update={"entries": {**state.entries, name: entry}}), name
    )


async def run_plan(
    plan: Plan,
    client: EngageLabClient,
    writer: StateWriter,
    *,
    now: Callable[[], datetime],
    local: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
    existing: frozenset[str] = frozenset(),
    race_check: bool = True,
    foreign: Callable[[], Held] = Held,
) -> ApplyReport:
    """Execute ``plan``; the state in ``writer`` is saved as it goes and at the end.

    ``now``: the clock the journal is stamped by (the server's); ``local``: this machine's, for
    its second stamp (``edits.grace_left``); ``existing``: the ids the read showed (no create
    can be answered with one of them); ``race_check``: look for copies another apply made at the
    same moment (``Executor._settle_races``)."""
    executor = Executor(
        client,
        writer,
        now=now,
        local=local,
        progress=progress,
        existing=existing,
        race_check=race_check,
        foreign=foreign,
    )
    return await executor.run(plan)
