"""The state operations: the state file read, and repaired by hand (``reconciler state``).

One job: the edits a person makes to the local mapping (forget an entry or a journal entry,
rename an entry), each under the state lock, with the checks that keep a schedule from being
lost. None calls the API: the remote tasks stay exactly as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import StateError, UsageError
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.state.edits import clear_pending, forget, get_entry, grace_left, rename
from reconciler.state.invariants import Violation, debt_of, invariant_problems
from reconciler.state.schema import PendingEntry, State, StateEntry
from reconciler.state.store import StateStore

if TYPE_CHECKING:
    from reconciler.config.environments import Environment


@dataclass(frozen=True)
class StateView:
    """The state file as it is on disk, broken or not, and what is wrong with it."""

    path: Path
    exists: bool
    state: State
    problems: tuple[Violation, ...]  # broken invariants, each with its repair


@dataclass(frozen=True)
class EntryView:
    """One name of the state: its entry (None for a journal entry alone) and its journal."""

    name: str
    entry: StateEntry | None
    pending: PendingEntry | None


@dataclass(frozen=True)
class Removed:
    """One name forgotten by ``state rm``: the entry dropped, the journal entry dropped, and
    the old task it still had to delete (which keeps firing)."""

    name: str
    entry: StateEntry | None
    journal: PendingEntry | None
    debt: str | None


@dataclass(frozen=True)
class RemoveRequest:
    """What ``reconciler state rm`` was asked."""

    names: tuple[str, ...]
    pending_only: bool = False  # the journal entries only; the state entries stay
    force: bool = False  # also drop journalled deletes of old tasks, and recent creates
    lock_timeout: float = 0.0
    holder: str = "reconciler state rm"  # what the lock file says is holding it
    now: datetime | None = None  # the clock recent creates are judged by (None: this machine's)


@dataclass(frozen=True)
class RemoveResult:
    """The names forgotten, the state written, and what is still wrong with it."""

    path: Path
    backup_path: Path
    removed: tuple[Removed, ...]
    serial: int
    problems: tuple[Violation, ...]


@dataclass(frozen=True)
class MoveRequest:
    """What ``reconciler state mv`` was asked."""

    old: str
    new: str
    lock_timeout: float = 0.0
    holder: str = "reconciler state mv"


@dataclass(frozen=True)
class MoveResult:
    """The entry renamed, the state written, and the valid manifests' names (no API call)."""

    path: Path
    backup_path: Path
    entry: StateEntry
    serial: int
    manifests: Path
    carried: frozenset[str]  # the names the environment's valid manifests carry
    manifest_errors: int  # errors in the manifests (which may hide a name)


def read(env: Environment) -> StateView:
    """The state file unchecked: a broken state is shown, with what is wrong."""
    store = StateStore(env.state)
    current, duplicates = store.load_raw()
    problems = invariant_problems(current, duplicates)
    return StateView(store.path, store.path.exists(), current, tuple(problems))


def entry(env: Environment, name: str) -> EntryView:
    """The entry of ``name`` (also in a broken state: looking at it is how it gets repaired);
    a StateError naming the closest name when there is neither an entry nor a journal entry."""
    store = StateStore(env.state)
    current, _ = store.load_raw()
    found = None
    if name in current.entries or name not in current.pending:
        found = get_entry(current, name, path=store.path)
    return EntryView(name, found, current.pending.get(name))


def remove(env: Environment, request: RemoveRequest) -> RemoveResult:
    """Forget names (or only their journal entries) under the lock; every name is checked
    before anything changes, and a journalled delete of an old task is kept unless forced."""
    store = StateStore(env.state)
    with store.lock(request.lock_timeout, request.holder):
        # Unchecked: this command repairs the states that a checked load refuses.
        current, _ = store.load_raw()
        unique = list(dict.fromkeys(request.names))
        for name in unique:  # check every name before changing anything
            if request.pending_only:
                if name not in current.pending:
                    raise StateError(
                        f"the state file {store.path} has no journal entry named {name!r}",
                        hint="list the journal with `reconciler state list`",
                    )
            elif name not in current.pending:
                get_entry(current, name, path=store.path)
        debts = {
            name: old
            for name in unique
            if (old := debt_of(current, name, keep_entries=request.pending_only)) is not None
        }
        now = request.now or datetime.now(UTC)
        recent = {
            # A stamp ahead of the clock by more than the grace is waited for from now by the
            # next apply (healing), not until the stamp: possibly the end of the calendar.
            name: now + (left if left <= LATE_COMMIT_GRACE * 2 else LATE_COMMIT_GRACE)
            for name in unique
            if (p := current.pending.get(name)) is not None
            and p.op in ("create", "replace")
            and (left := grace_left(p, now, now)) > timedelta(0)  # one clock: this machine's
        }
        if recent and not request.force:
            until = max(recent.values())
            raise StateError(
                "refusing to drop a create whose answer may still come: "
                + ", ".join(repr(n) for n in sorted(recent))
                + " was journalled less than 5 minutes ago, and a server may still commit it; "
                "without its journal entry the next apply would create the schedule again",
                hint=f"run `reconciler apply` after {until:%Y-%m-%d %H:%M:%S %Z} (it adopts the "
                "task if it appeared, or creates it); or add --force to drop it anyway",
            )
        replaces = sorted(
            name
            for name in unique
            if request.pending_only
            and (p := current.pending.get(name)) is not None
            and p.op == "replace"
            and name not in debts
        )
        if replaces and not request.force:
            raise StateError(
                "refusing to drop the journal entry of an interrupted replace: "
                + ", ".join(repr(n) for n in replaces)
                + "; its new task may have been made. Without the entry the name points at "
                "the old task again, and a new task that was made is left live beside it "
                "(the schedule fires twice until one is deleted)",
                hint="run `reconciler apply`: it adopts the new task if it was made (and "
                "deletes the old one), or forgets the entry; or add --force to drop it anyway",
            )
        if debts and not request.force:
            raise StateError(
                "refusing to drop journalled work that is not finished: "
                + "; ".join(
                    f"{name!r} still has to delete its old task {old} (an interrupted "
                    f"{current.pending[name].op}), which keeps firing until then"
                    for name, old in sorted(debts.items())
                ),
                hint="run `reconciler apply` to finish it (it deletes the old task before "
                "anything else); or add --force to drop the journal entry anyway and delete "
                "the old task yourself",
            )
        removed: list[Removed] = []
        updated = current
        for name in unique:
            dropped = None if request.pending_only else updated.entries.get(name)
            journal = updated.pending.get(name)
            removed.append(Removed(name, dropped, journal, debts.get(name)))
            if request.pending_only:
                updated = clear_pending(updated, name)
            else:
                # Entry and journal alike: a debt left in the journal is dropped only by
                # --force (refused above), and ``forget`` alone keeps it.
                updated = clear_pending(forget(updated, name), name)
        saved = store.save(updated)
    return RemoveResult(
        store.path,
        store.backup_path,
        tuple(removed),
        saved.serial,
        tuple(invariant_problems(updated)),
    )


def move(env: Environment, request: MoveRequest) -> MoveResult:
    """Rename the entry ``old`` to ``new`` under the lock (the remote task keeps its id)."""
    from reconciler.manifests.load import load_manifests
    from reconciler.manifests.models import name_error

    old, new = request.old, request.new
    problem = name_error(new)
    if problem is not None:
        raise UsageError(
            f"cannot rename {old!r} to {new!r}: the new name {problem}",
            hint="use the name the renamed manifest carries in its `name:` field",
        )
    store = StateStore(env.state)
    with store.lock(request.lock_timeout, request.holder):
        current = store.load()
        found = get_entry(current, old, path=store.path)
        saved = store.save(rename(current, old, new))
    loaded = load_manifests([env.manifests], now=datetime.now(UTC), tz=env.tz)
    return MoveResult(
        store.path,
        store.backup_path,
        found,
        saved.serial,
        env.manifests,
        frozenset(m.name for m in loaded.manifests),
        len(loaded.errors),
    )
