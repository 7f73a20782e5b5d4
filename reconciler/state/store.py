"""The state file: the name -> schedule_id mapping, kept on disk safely.

Schedules created through the API are invisible in the vendor console, so this file is the only
handle on them (docs/design.md "The state file"). Everything here serves one goal: never lose it
and never use it against the wrong app.

- ``State`` / ``StateEntry`` / ``PendingEntry``: the schema (planner and apply code against them).
- ``StateStore``: load (strict, with errors that point at the ``.backup``), atomic save (temp file,
  fsync, previous version kept as ``<path>.backup``, rename, fsync of the directory) and an
  exclusive ``flock`` on ``<path>.lock`` that names its holder.
- ``invariant_problems``: what makes a parsed state unusable although it matches the schema
  (two names on one schedule_id, a name twice, a journal entry at odds with the entries), each
  with the ``reconciler state rm`` command that repairs it; ``load`` refuses such a state.
- ``binding_for`` / ``check_binding``: a state file is bound to one endpoint + AppKey (by hash; the
  AppKey itself is never written).
- ``get_entry``, ``record_create``, ``record_update``, ``forget``, ``rename``, ``begin_pending``,
  ``clear_pending``: pure helpers returning a new ``State`` (the input is never modified), so apply
  can hand the result to ``StateStore.save`` after each remote write.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from reconciler import files
from reconciler.errors import (
    StateBindingError,
    StateCorruptError,
    StateError,
    StateInvariantError,
    StateLockedError,
)
from reconciler.remote.responses import is_safe_id, quoted

STATE_VERSION = 1

_V = TypeVar("_V")


class StateEntry(BaseModel):
    """One managed schedule."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    fingerprint: str  # canonical.fingerprint of the body last applied
    protected: bool = False  # lifecycle.prevent_destroy, remembered after the manifest is gone
    created_at: datetime
    updated_at: datetime


class PendingEntry(BaseModel):
    """A remote write that was started and not yet recorded (crash journal)."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["create", "replace", "update", "delete"]
    name: str
    fingerprint: str  # of the body being written
    old_schedule_id: str | None = None  # for replace / update / delete
    started_at: datetime


class ForgottenEntry(BaseModel):
    """A task the state stopped managing because it fired for good (or vanished while disabled).

    Kept so that ``history NAME`` can still answer "did it go out?" after the entry is gone.
    """

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    forgotten_at: datetime
    reason: str


# Forgotten tasks kept per name (newest last) and names kept in all (the most recently
# forgotten): enough to answer for recent campaigns without growing the file for ever.
FORGOTTEN_PER_NAME = 5
FORGOTTEN_NAMES = 1000


class State(BaseModel):
    """The whole state file of one environment."""

    model_config = ConfigDict(extra="forbid")

    # Strict and bounded: a hand edit or a bad merge that writes ``serial: true`` or ``-5``, or an
    # empty lineage, would defeat the checks that compare them (a newer serial, another lineage).
    version: StrictInt = STATE_VERSION
    lineage: str = Field(
        default_factory=lambda: str(uuid.uuid4()), pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
    )
    serial: StrictInt = Field(default=0, ge=0)
    # hash of endpoint + AppKey; None until first bound
    binding: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    entries: dict[str, StateEntry] = Field(default_factory=dict)  # by manifest name
    pending: dict[str, PendingEntry] = Field(default_factory=dict)  # by manifest name
    # by manifest name, oldest first; written only when not empty
    forgotten: dict[str, list[ForgottenEntry]] = Field(default_factory=dict)


# --------------------------------------------------------------------------- binding


def binding_for(endpoint: str, app_key: str) -> str:
    """The binding of a state file to one app on one endpoint: ``sha256:<hex>``.

    A one-way hash, so the AppKey never appears in the file; the prefix separates this use of
    the hash from any other.
    """
    material = f"engagelab-reconciler/binding/v1\n{endpoint.strip().rstrip('/')}\n{app_key}"
    return "sha256:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def check_binding(state: State, binding: str, *, path: Path | None = None) -> State:
    """``state`` bound to ``binding``: binds an unbound state, refuses one bound elsewhere.

    Returns the (possibly newly bound) state; the caller saves it with its next write.
    """
    if state.binding is None:
        return state.model_copy(update={"binding": binding})
    if state.binding == binding:
        return state
    where = f"the state file {path}" if path is not None else "this state file"
    raise StateBindingError(
        f"{where} belongs to another app or endpoint (its binding {state.binding[:19]}… does not "
        "match this AppKey and endpoint); refusing to use it, since its schedule ids mean "
        "nothing on this app",
        hint="select the matching environment with --env, or check the AppKey variable and "
        "--endpoint / --data-center; to manage this app from scratch, point `state:` in "
        "reconciler.yaml at a new file and adopt existing tasks with `reconciler import`",
    )


# --------------------------------------------------------------------------- pure helpers


def record_create(
    state: State,
    name: str,
    schedule_id: str,
    fingerprint: str,
    protected: bool,
    now: datetime,
) -> State:
    """``state`` with ``name`` recorded as a new task (also used by replace and import).

    Clears the name's pending entry in the same write, so "created" and "journal resolved" can
    never be saved apart.
    """
    entry = StateEntry(
        schedule_id=schedule_id,
        fingerprint=fingerprint,
        protected=protected,
        created_at=now,
        updated_at=now,
    )
    pending = _without(state.pending, name)
    return state.model_copy(update={"entries": {**state.entries, name: entry}, "pending": pending})


def record_update(
    state: State, name: str, fingerprint: str, protected: bool, now: datetime
) -> State:
    """``state`` with the existing entry ``name`` updated to a newly applied body."""
    old = get_entry(state, name)
    entry = old.model_copy(
        update={"fingerprint": fingerprint, "protected": protected, "updated_at": now}
    )
    pending = _without(state.pending, name)
    return state.model_copy(update={"entries": {**state.entries, name: entry}, "pending": pending})


def forget(state: State, name: str) -> State:
    """``state`` without ``name`` (entry and pending journal); the remote task is not touched."""
    if name not in state.entries and name not in state.pending:
        get_entry(state, name)  # raises with a did-you-mean
    return state.model_copy(
        update={"entries": _without(state.entries, name), "pending": _without(state.pending, name)}
    )


def forget_fired(state: State, name: str, now: datetime, reason: str) -> State:
    """``forget``, remembering the task's id and when and why it was forgotten (bounded)."""
    entry = state.entries.get(name)
    out = forget(state, name)
    if entry is None:
        return out
    kept = [
        *state.forgotten.get(name, ()),
        ForgottenEntry(schedule_id=entry.schedule_id, forgotten_at=now, reason=reason),
    ][-FORGOTTEN_PER_NAME:]
    forgotten = {**_without(state.forgotten, name), name: kept}  # most recent name last
    if len(forgotten) > FORGOTTEN_NAMES:
        forgotten = dict(list(forgotten.items())[-FORGOTTEN_NAMES:])
    return out.model_copy(update={"forgotten": forgotten})


def rename(state: State, old: str, new: str) -> State:
    """``state`` with entry ``old`` now known as ``new`` (after renaming a manifest)."""
    get_entry(state, old)  # raises with a did-you-mean
    if new == old:
        raise StateError(f"cannot rename {old!r} to itself", hint="give a different new name")
    if new in state.entries or new in state.pending:
        raise StateError(
            f"cannot rename {old!r} to {new!r}: the state already has an entry named {new!r}",
            hint=f"remove it first with `reconciler state rm {shlex.quote(new)}` if it is stale",
        )
    if old in state.pending:
        raise StateError(
            f"cannot rename {old!r}: an interrupted {state.pending[old].op} of it is still "
            "journalled as pending",
            hint="run `reconciler apply` to resolve the pending write first",
        )
    entries = {(new if k == old else k): v for k, v in state.entries.items()}
    return state.model_copy(update={"entries": entries})


def begin_pending(
    state: State,
    op: Literal["create", "replace", "update", "delete"],
    name: str,
    fingerprint: str,
    now: datetime,
    old_schedule_id: str | None = None,
) -> State:
    """``state`` with a journal entry for a remote write about to start (save it first)."""
    entry = PendingEntry(
        op=op, name=name, fingerprint=fingerprint, old_schedule_id=old_schedule_id, started_at=now
    )
    return state.model_copy(update={"pending": {**state.pending, name: entry}})


def clear_pending(state: State, name: str) -> State:
    """``state`` without the journal entry of ``name`` (a no-op when there is none)."""
    if name not in state.pending:
        return state
    return state.model_copy(update={"pending": _without(state.pending, name)})


def _without(items: dict[str, _V], name: str) -> dict[str, _V]:
    """A copy of ``items`` without ``name``, in order.

    A C-level copy: apply calls these helpers once per remote write, and a comprehension over
    1000 entries each time added up.
    """
    out = dict(items)
    out.pop(name, None)
    return out


def get_entry(state: State, name: str, *, path: Path | None = None) -> StateEntry:
    """The entry ``name``; a ``StateError`` with the closest known name when there is none."""
    try:
        return state.entries[name]
    except KeyError:
        close = get_close_matches(name, list(state.entries), n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        where = f"the state file {path}" if path is not None else "the state"
        raise StateError(
            f"{where} has no entry named {name!r}{guess}",
            hint="list the managed names with `reconciler state list`",
        ) from None


# --------------------------------------------------------------------------- invariants


@dataclass(frozen=True)
class Violation:
    """A broken invariant of a state file and the command that repairs it."""

    message: str
    repair: str


_ADOPT = "reconciler import --all-matching"
_ID_RULE = "letters, digits, '-' and '_'"  # what responses.SAFE_ID admits


# A name with a control character (an edited file) is printed as a line break or an escape
# sequence: "b\n::error::..." starts a line GitHub Actions runs as a workflow command.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shell_word(name: str) -> str:
    """``name`` as one word of a shell command line, printed without a control character
    (bash's ``$'...'`` quoting then spells them ``\\xNN``)."""
    if not _CONTROL.search(name):
        return shlex.quote(name)
    spelled = "".join(
        "\\" + c if c in "\\'"
        else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if _CONTROL.match(c)
        else c
        for c in name
    )
    return f"$'{spelled}'"


def shown_name(name: str) -> str:
    """``name`` for a listing: as it is, or as :func:`shell_word` spells it when it holds a
    control character."""
    return shell_word(name) if _CONTROL.search(name) else name


def _rm(name: str, *, pending: bool = False, force: bool = False) -> str:
    flags = (" --pending" if pending else "") + (" --force" if force else "")
    return f"reconciler state rm{flags} {shell_word(name)}"


def debt_of(state: State, name: str, *, keep_entries: bool) -> str | None:
    """The old task the journal entry of ``name`` still has to delete, if nobody else holds it.

    A journalled delete, or a replace, owes the deletion of its ``old_schedule_id``; dropping
    that entry leaves the old task firing with nobody to delete it, unless a remaining entry
    manages that id (then there is no debt, the journal was wrong) or another journal entry
    owes the same deletion. ``keep_entries``: whether the state entries stay (``rm --pending``)
    or the name's entry goes too (``rm``).
    """
    p = state.pending.get(name)
    if p is None or p.op not in ("delete", "replace") or not p.old_schedule_id:
        return None
    old = p.old_schedule_id
    for other, entry in state.entries.items():
        if entry.schedule_id == old and (keep_entries or other != name):
            return None
    for other, q in state.pending.items():
        if other != name and q.old_schedule_id == old:
            return None
    return old


def invariant_problems(
    state: State, duplicates: Mapping[str, Sequence[str]] | None = None
) -> list[Violation]:
    """Every invariant ``state`` breaks, each with its repair; empty when the state is usable.

    The invariants: one name per schedule_id (two names on one id make two applies delete and
    recreate one task and leave another unmanaged), one entry per name (``duplicates``: names
    a JSON object held twice, as a bad merge of the file leaves them; only the last survives
    parsing), and every journal entry consistent with the entries (it never owes the deletion
    of a task an entry manages, and a replace journals the task its entry still holds).
    """
    out: list[Violation] = []
    dups = duplicates or {}
    for name in sorted(set(dups.get("entries", ()))):
        sid = state.entries[name].schedule_id if name in state.entries else "?"
        out.append(
            Violation(
                f"the name {name!r} appears more than once under `entries` (two versions of the "
                f"file merged?); only the last one (schedule_id {sid}) was read",
                f"`{_rm(name)}`, then `{_ADOPT}` adopts the task named {name!r} again (if "
                "there are two, `reconciler plan` lists both: import the right one with "
                f"`reconciler import {shlex.quote(name + '=SCHEDULE_ID')}`)",
            )
        )
    for name in sorted(set(dups.get("pending", ()))):
        force = debt_of(state, name, keep_entries=True) is not None
        out.append(
            Violation(
                f"the name {name!r} appears more than once under `pending` (two versions of the "
                "file merged?); only the last journal entry was read",
                f"`{_rm(name, pending=True, force=force)}` and then `reconciler plan`",
            )
        )
    for name in sorted(state.entries):
        sid = state.entries[name].schedule_id
        if not is_safe_id(sid):
            # Caught here, before any request: the client refuses such an id only when it
            # builds a URL, after the list (and other tasks' details) were read.
            out.append(
                Violation(
                    f"the entry {name!r} has schedule_id {quoted(sid)}, which is not a schedule "
                    f"id ({_ID_RULE}; edited by hand?)",
                    f"`{_rm(name)}` (the task is untouched), then `{_ADOPT}` adopts the task "
                    f"named {name!r} again",
                )
            )
    for name in sorted(n for n in {*state.entries, *state.pending} if _CONTROL.search(n)):
        # No manifest has such a name (models.name_error); printed by plan, drift and state
        # list, it would put a line of its own into a CI log.
        debt = name not in state.entries and debt_of(state, name, keep_entries=True) is not None
        repair = _rm(name) if name in state.entries else _rm(name, pending=True, force=debt)
        out.append(
            Violation(
                f"the name {name!r} holds a control character (edited by hand?); no schedule "
                "name does",
                f"`{repair}` (the task is untouched), then `{_ADOPT}` adopts it under its "
                "manifest's name",
            )
        )
    by_id: dict[str, list[str]] = {}
    for name in sorted(state.entries):
        by_id.setdefault(state.entries[name].schedule_id, []).append(name)
    for sid, names in sorted(by_id.items()):
        if len(names) < 2:
            continue
        listed = " and ".join(repr(n) for n in names)
        forget_all = "reconciler state rm " + " ".join(shlex.quote(n) for n in names)
        out.append(
            Violation(
                f"the names {listed} {'both' if len(names) == 2 else 'all'} point at "
                f"schedule_id {sid}; one task can back only one "
                "name (two versions of the file merged?)",
                # Which name the task belongs to is known only to the server (its name there):
                # forget them all and let import match each name to its own task.
                f"`{forget_all}` (the tasks are untouched), then `{_ADOPT}` adopts each "
                "name's own task again",
            )
        )
    old_ids: dict[str, str] = {}
    for key in sorted(state.pending):
        p = state.pending[key]
        force = debt_of(state, key, keep_entries=True) is not None
        repair = f"`{_rm(key, pending=True, force=force)}` and then `reconciler plan`"
        entry = state.entries.get(key)
        if p.name != key:
            out.append(
                Violation(f"the journal entry under {key!r} is about {p.name!r}", repair)
            )
            continue
        old = p.old_schedule_id
        if old and not is_safe_id(old):
            out.append(
                Violation(
                    f"the journalled {p.op} of {key!r} names old schedule_id {quoted(old)}, "
                    f"which is not a schedule id ({_ID_RULE}; edited by hand?)",
                    repair,
                )
            )
            continue
        if p.op in ("delete", "replace") and not old:
            out.append(
                Violation(f"the journalled {p.op} of {key!r} names no old schedule_id", repair)
            )
            continue
        if old is None:
            continue
        owners = [n for n, e in state.entries.items() if e.schedule_id == old and n != key]
        if owners:
            out.append(
                Violation(
                    f"the journalled {p.op} of {key!r} is about schedule_id {old}, which the "
                    f"entry {owners[0]!r} manages: finishing it could delete that task",
                    repair,
                )
            )
        elif p.op == "delete" and entry is not None and entry.schedule_id == old:
            out.append(
                Violation(
                    f"the journalled delete of {key!r} is about schedule_id {old}, the task its "
                    "own entry manages: finishing it would delete that task",
                    repair,
                )
            )
        elif p.op == "replace" and (entry is None or entry.schedule_id != old):
            holds = f"its entry holds {entry.schedule_id}" if entry else "it has no entry"
            out.append(
                Violation(
                    f"the journalled replace of {key!r} retires schedule_id {old}, but {holds}",
                    repair,
                )
            )
        elif old in old_ids and p.op in ("delete", "replace"):
            out.append(
                Violation(
                    f"the journal entries {old_ids[old]!r} and {key!r} both retire schedule_id "
                    f"{old}",
                    repair,
                )
            )
        if p.op in ("delete", "replace"):
            old_ids.setdefault(old, key)
    return out


def require_invariants(
    state: State, *, path: Path, duplicates: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Raise ``StateInvariantError`` listing every broken invariant with its repair."""
    problems = invariant_problems(state, duplicates)
    if problems:
        raise StateInvariantError(path, [(v.message, v.repair) for v in problems])


# --------------------------------------------------------------------------- lock holder


@dataclass(frozen=True)
class LockHolder:
    """Who holds the state lock, as written into ``<path>.lock``."""

    pid: int
    host: str
    started: str  # ISO 8601
    command: str

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, since {self.started})"


def _read_holder(fd: int) -> LockHolder | None:
    try:
        raw = os.pread(fd, 64 * 1024, 0)
        data = json.loads(raw)
        return LockHolder(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=str(data["started"]),
            command=str(data["command"]),
        )
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None  # being written right now, or written by something else


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- the store


class StateStore:
    """Load, save and lock one state file.

    ``sleep``, ``monotonic`` and ``now`` are injected so lock waits are testable without sleeping.
    The lock is not re-entrant: take it once per command, around load → writes → save.
    """

    def __init__(
        self,
        path: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        poll_interval: float = 0.2,
    ) -> None:
        self.given = Path(path)
        # A state file shared between checkouts through a symbolic link is worked on where it
        # lives: lock, backup and temporary file beside the target, and saves replace the target,
        # not the link (a lock beside the link would lock nothing the other checkout sees).
        # Resolved once, so every later step agrees on one file.
        resolved = os.path.realpath(self.given)
        self.path = self.given if resolved == os.path.abspath(self.given) else Path(resolved)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._sleep = sleep
        self._monotonic = monotonic
        self._now = now
        self._poll = poll_interval

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"

    def own_files(self) -> list[Path]:
        """The files this store keeps (state, backup, lock, and the link it was named by).

        An output of any command (``plan --out``, ``drift --report``) must never be one of
        them; the journal of interrupted writes lives inside the state file itself.
        """
        return list(dict.fromkeys([self.path, self.backup_path, self.lock_path, self.given]))

    # ---- load

    def load(self, *, check: bool = True) -> State:
        """The state on disk; a fresh ``State`` when there is no file yet.

        ``check`` (the default) refuses a state that breaks an invariant
        (``invariant_problems``); only the repair commands read one without.
        """
        state, duplicates = self.load_raw()
        if check:
            require_invariants(state, path=self.path, duplicates=duplicates)
        return state

    def load_raw(self) -> tuple[State, dict[str, list[str]]]:
        """The state on disk (unchecked) and the names its JSON objects held twice."""
        try:
            raw = files.read_regular(self.path, limit=files.MAX_STATE_BYTES)
        except FileNotFoundError:
            if self.backup_path.exists():
                # save() never leaves a backup without the file: someone removed it.
                raise StateCorruptError(
                    f"the state file {self.path} is missing, but its backup "
                    f"{self.backup_path} exists",
                    hint=self._restore_hint(),
                ) from None
            return State(), {}
        except OSError as exc:
            raise StateError(
                f"cannot read the state file {self.path}: {files.reason(exc)}",
                hint="check that the path is a readable regular file",
            ) from exc
        duplicates: dict[str, list[str]] = {}
        state = parse_state(raw, path=self.path, hint=self._restore_hint, duplicates=duplicates)
        return state, duplicates

    def _restore_hint(self) -> str:
        target, backup = shlex.quote(str(self.path)), shlex.quote(str(self.backup_path))
        try:
            previous = parse_state(
                files.read_regular(self.backup_path, limit=files.MAX_STATE_BYTES),
                path=self.backup_path,
            )
        except FileNotFoundError:
            return (
                f"there is no backup at {self.backup_path}; rebuild the state by adopting the "
                "existing tasks with `reconciler import`"
            )
        except (OSError, StateError):
            return (
                f"the backup {self.backup_path} is unreadable too; rebuild the state by adopting "
                "the existing tasks with `reconciler import`"
            )
        return (
            f"the previous version (serial {previous.serial}) is in {self.backup_path}: check "
            f"it, restore it with `cp {backup} {target}`, then run `reconciler plan` (a task "
            "written in the last step may show as a conflict; adopt it with `reconciler import`)"
        )

    # ---- save

    def save(self, state: State) -> State:
        """Write ``state`` with serial + 1, atomically; return what was written.

        The old file survives as ``<path>.backup``. A crash at any point leaves either the old or
        the new file in place, never a mix.
        """
        new = state.model_copy(update={"serial": state.serial + 1})
        ordered = new.model_copy(
            update={  # sorted by name so the file diffs well if kept in git
                "entries": dict(sorted(new.entries.items())),
                "pending": dict(sorted(new.pending.items())),
            }
        )
        # Without forgotten tasks the file keeps the layout it always had.
        exclude = None if ordered.forgotten else {"forgotten"}
        data = ordered.model_dump_json(indent=2, exclude=exclude).encode("utf-8") + b"\n"
        try:
            self._write_atomic(data)
        except OSError as exc:
            raise StateError(
                f"could not write the state file {self.path}: {exc.strerror or exc}",
                hint="check free space and permissions; the previous state file is unchanged",
            ) from exc
        return new

    def _write_atomic(self, data: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            exists = True
        except FileNotFoundError:
            mode, exists = 0o644, False
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(mode)
            if exists:
                self._keep_backup()
            os.replace(tmp, self.path)
        except BaseException:
            with suppress(FileNotFoundError):
                tmp.unlink()
            raise
        _fsync_directory(directory)

    def _keep_backup(self) -> None:
        """Make the current file the backup without ever leaving the path empty."""
        staging = self.backup_path.with_name(f".{self.backup_path.name}.{uuid.uuid4().hex}.tmp")
        try:
            # A hard link is instant whatever the size; the old inode lives on as the backup.
            os.link(self.path, staging)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            shutil.copy2(self.path, staging)  # filesystems without hard links
        try:
            os.replace(staging, self.backup_path)
        except BaseException:
            with suppress(FileNotFoundError):
                staging.unlink()
            raise

    # ---- binding

    def check_binding(self, state: State, binding: str) -> State:
        """``check_binding`` with this file named in the error."""
        return check_binding(state, binding, path=self.path)

    # ---- lock

    @contextmanager
    def lock(self, timeout: float, command: str) -> Iterator[LockHolder]:
        """Hold the exclusive lock on ``<path>.lock`` for the ``with`` block.

        Waits up to ``timeout`` seconds (0: fail at once) for another holder. ``flock`` locks die
        with their process, so a crashed apply never leaves a stale lock behind.
        """
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open_lock()
        try:
            self._acquire(fd, max(0.0, timeout))
            holder = LockHolder(
                pid=os.getpid(),
                host=socket.gethostname(),
                started=self._now().isoformat(timespec="seconds"),
                command=command,
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder.__dict__).encode("utf-8"), 0)
            try:
                yield holder
            finally:
                with suppress(OSError):
                    os.ftruncate(fd, 0)  # no stale holder info for the next reader
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _open_lock(self) -> int:
        """Open ``<path>.lock`` without following a link and make sure it is ours to truncate.

        The holder's details are written into the lock file (truncating it first): a lock file
        that is a symbolic link, a hard link or anything but a regular file would make that
        write land on another file, so it is refused instead (``O_NOFOLLOW``; ``O_NONBLOCK``
        so that a FIFO in its place cannot block the open).
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
        hint = (
            f"remove {self.lock_path} (the reconciler creates it again; it holds only the "
            "name of the command holding the lock) and check who created it"
        )
        try:
            fd = os.open(self.lock_path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StateError(
                    f"the lock file {self.lock_path} is a symbolic link; refusing to follow it "
                    "(writing the lock holder through it would overwrite its target)",
                    hint=hint,
                ) from exc
            raise StateError(
                f"cannot open the lock file {self.lock_path}: {exc.strerror}",
                hint="check that its directory is writable and that it is a regular file",
            ) from exc
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            what = "not a regular file" if not stat.S_ISREG(info.st_mode) else "hard-linked"
            raise StateError(
                f"the lock file {self.lock_path} is {what}; refusing to write the lock holder "
                "into it",
                hint=hint,
            )
        return fd

    def _acquire(self, fd: int, timeout: float) -> None:
        deadline = self._monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    break
                self._sleep(min(self._poll, remaining))
            except OSError as exc:
                raise StateError(
                    f"cannot lock {self.lock_path}: {exc.strerror}",
                    hint="keep the state on a local file system (flock does not work on all "
                    "network file systems)",
                ) from exc
        holder = _read_holder(fd)
        who = holder.describe() if holder else "another process"
        waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
        raise StateLockedError(
            f"the state file {self.path} is locked by {who}{waited}",
            hint="let that command finish, or pass --lock-timeout SECONDS to wait for it (the "
            "lock is released automatically when its process ends)",
        )


def parse_state(
    raw: bytes,
    *,
    path: Path,
    hint: str | Callable[[], str] | None = None,
    duplicates: dict[str, list[str]] | None = None,
) -> State:
    """Validate the bytes of a state file; every failure names ``path``.

    ``duplicates``, when given, receives the names found twice under ``entries`` / ``pending``
    (JSON allows repeated keys and keeps the last; a merge of two versions produces them).
    """

    def corrupt(what: str) -> StateCorruptError:
        text = hint() if callable(hint) else hint
        return StateCorruptError(f"the state file {path} {what}", hint=text)

    if not raw.strip():
        raise corrupt("is empty (a write was probably interrupted)")
    repeated: list[tuple[str, int]] = []  # (key, id of the object that held it twice)

    def pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    repeated.append((key, id(out)))
                seen.add(key)
        return out

    try:
        data = json.loads(raw, object_pairs_hook=pairs_hook)
    except UnicodeDecodeError:
        raise corrupt("is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise corrupt(
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); it may be "
            "truncated"
        ) from None
    except RecursionError:
        raise corrupt("is not a reconciler state file (its JSON is nested too deeply)") from None
    except ValueError:  # json's only other ValueError: an int over sys.get_int_max_str_digits
        raise corrupt(
            "is not a reconciler state file (it holds a number too long to read)"
        ) from None
    if not isinstance(data, dict):
        raise corrupt("is not a reconciler state file (expected a JSON object)")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise corrupt("has no integer `version`; it is not a reconciler state file")
    if version != STATE_VERSION:
        newer = version > STATE_VERSION
        raise StateError(
            f"the state file {path} has state version {version}; this reconciler reads "
            f"version {STATE_VERSION}"
            + (" (the file was written by a newer reconciler)" if newer else ""),
            hint="upgrade the reconciler (pip install -U engagelab-reconciler) before using it"
            if newer
            else "this is not a version any reconciler wrote; restore it from git or the backup",
        )
    if duplicates is not None and repeated:
        for section in ("entries", "pending"):
            holder = data.get(section)
            found = [key for key, owner in repeated if owner == id(holder)]
            if found:
                duplicates[section] = sorted(set(found))
    try:
        return State.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise corrupt(f"does not match the state schema: {reasons}{more}") from None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
