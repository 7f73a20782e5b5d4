"""The lock of a state file: an exclusive ``flock`` on ``<path>.lock`` that names its holder.

One command at a time changes a state file; a second one waits (up to its ``--lock-timeout``) or
is told who holds the lock. ``flock`` locks die with their process, so a crashed apply never
leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reconciler import stopping
from reconciler.errors import StateError, StateLockedError


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


class StateLock:
    """The lock file ``lock_path`` of the state file ``state_path``.

    ``sleep``, ``monotonic`` and ``now`` are injected so lock waits are testable without sleeping.
    The lock is not re-entrant: take it once per command, around load → writes → save.
    """

    def __init__(
        self,
        lock_path: Path,
        *,
        state_path: Path,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        now: Callable[[], datetime],
        poll_interval: float,
    ) -> None:
        self.lock_path = lock_path
        self.state_path = state_path
        self._sleep = sleep
        self._monotonic = monotonic
        self._now = now
        self._poll = poll_interval

    @contextmanager
    def hold(self, timeout: float, command: str) -> Iterator[LockHolder]:
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
                stopping.check()  # Ctrl-C or SIGTERM while waiting: stop now, not when it ends
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
            f"the state file {self.state_path} is locked by {who}{waited}",
            hint="let that command finish, or pass --lock-timeout SECONDS to wait for it (the "
            "lock is released automatically when its process ends)",
        )
