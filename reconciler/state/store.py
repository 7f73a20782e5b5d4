"""The state file on disk: strict load, atomic save with a backup, and its lock.

Schedules created through the API are invisible in the vendor console, so this file is the only
handle on them (docs/design.md "The state file"). Everything here serves one goal: never lose it
and never use it against the wrong app.

``StateStore`` loads (strict, with errors that point at the ``.backup``; a state that breaks an
invariant is refused, ``reconciler.state.invariants``), saves atomically (temp file, fsync,
previous version kept as ``<path>.backup``, rename, fsync of the directory) and hands out the
lock of the file (``reconciler.state.lock``). The model is in ``reconciler.state.schema``, the
pure edits that apply saves one by one in ``reconciler.state.edits``.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.errors import StateCorruptError, StateError
from reconciler.state.binding import check_binding
from reconciler.state.invariants import require_invariants
from reconciler.state.lock import LockHolder, StateLock
from reconciler.state.schema import State, parse_state


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """Load, save and lock one state file.

    ``sleep``, ``monotonic``, ``now`` and ``poll_interval`` are the lock's (``StateLock``),
    injected so lock waits are testable without sleeping.
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
        self._lock = StateLock(
            self.lock_path,
            state_path=self.path,
            sleep=sleep,
            monotonic=monotonic,
            now=now,
            poll_interval=poll_interval,
        )

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
                "existing tasks with `reconciler import --all-matching`"
            )
        except (OSError, StateError):
            return (
                f"the backup {self.backup_path} is unreadable too; rebuild the state by adopting "
                "the existing tasks with `reconciler import --all-matching`"
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
        # Without forgotten tasks, or a journal entry's second stamp, the file keeps the layout
        # it always had: a reconciler from before either reads it (rolled back after a crash,
        # or an older runner in the same pipeline).
        exclude: dict[str, Any] = {} if ordered.forgotten else {"forgotten": True}
        unstamped = {
            n: {"started_locally"} for n, p in ordered.pending.items() if not p.started_locally
        }
        if unstamped:
            exclude["pending"] = unstamped
        data = ordered.model_dump_json(indent=2, exclude=exclude or None).encode("utf-8") + b"\n"
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
        except BaseException as exc:
            with suppress(FileNotFoundError):
                staging.unlink()
            if isinstance(exc, OSError):
                # The state file itself is fine: the message names the path in the way.
                raise self._backup_error(files.reason(exc)) from exc
            raise

    def _backup_error(self, reason: str) -> StateError:
        return StateError(
            f"could not keep the previous state file as its backup {self.backup_path}: {reason}",
            hint=f"remove or move {self.backup_path} (every save of the state file keeps the "
            f"previous version there); the state file {self.path} is unchanged",
        )

    def check_backup_path(self) -> None:
        """Raise StateError when the backup cannot be kept: a directory stands at its path.

        Every save replaces ``<path>.backup`` and cannot replace a directory; checked before a
        command that writes the state sends its first request, not at its first save.
        """
        if self.backup_path.is_dir() and not self.backup_path.is_symlink():
            raise self._backup_error("it is a directory")

    # ---- binding

    def check_binding(self, state: State, binding: str) -> State:
        """``check_binding`` with this file named in the error."""
        return check_binding(state, binding, path=self.path)

    # ---- lock

    def lock(self, timeout: float, command: str) -> AbstractContextManager[LockHolder]:
        """Hold the exclusive lock on ``<path>.lock`` for the ``with`` block
        (:meth:`StateLock.hold`: waits up to ``timeout`` seconds, 0: fail at once).

        Only the commands that write the state take it: a backup path that a save could not
        replace (:meth:`check_backup_path`) is refused here, before anything else is done."""
        self.check_backup_path()
        return self._lock.hold(timeout, command)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
