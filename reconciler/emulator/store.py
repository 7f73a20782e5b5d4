"""The emulator's data: tasks, message records and sent pushes, and their JSON file.

Holds no lock and knows no clock: ``Emulator`` owns both and calls in here. The file is written
atomically (temp file in the same directory, fsync, rename, fsync of the directory), so a crash
or a kill leaves either the old or the new version, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from reconciler.files import MAX_EMULATOR_DATA_BYTES, read_regular, reason

DATA_FILE_VERSION = 1
FIRST_MSG_ID = 1_000_001
MAX_PUSH_LOG = 10_000  # sent batch pushes kept for inspection

TaskStatus = Literal["active", "sent", "expired"]


@dataclass
class Task:
    """One scheduled task as the server keeps it.

    ``status`` is "sent" for a single/intelligent task that fired (then 404 everywhere except
    msg-ids) and "expired" for a periodical one past ``end`` (404 on read/delete, 28100 on update).
    ``processed_until`` is the time up to which its occurrences have been fired.
    """

    schedule_id: str
    seq: int
    body: dict[str, Any]
    created_at: datetime
    anchor: datetime
    processed_until: datetime
    status: TaskStatus = "active"
    msg_records: list[dict[str, Any]] = field(default_factory=list)
    next_due: datetime | None = None  # derived; not persisted

    @property
    def active(self) -> bool:
        return self.status == "active"

    def detail(self) -> dict[str, Any]:
        return {"schedule_id": self.schedule_id, **self.body}

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "seq": self.seq,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
            "anchor": self.anchor.isoformat(),
            "processed_until": self.processed_until.isoformat(),
            "status": self.status,
            "msg_records": self.msg_records,
        }

    @classmethod
    def from_json(cls, data: Any) -> Task:
        """A task from the file; ``ValueError`` naming the first field of the wrong shape."""
        data = _typed(data, dict, "a task")
        schedule_id = _typed(data.get("schedule_id"), str, "a task's schedule_id")
        where = f"task {schedule_id[:40]!r}"
        status = data.get("status")
        if status not in ("active", "sent", "expired"):
            raise ValueError(f"{where}: status {str(status)[:40]!r} is not active, sent or expired")
        records = _typed(data.get("msg_records", []), list, f"{where}: msg_records")
        for record in records:
            _typed(record, dict, f"{where}: a msg_records entry")
        return cls(
            schedule_id=schedule_id,
            seq=_whole(data.get("seq"), f"{where}: seq"),
            body=_typed(data.get("body"), dict, f"{where}: body"),
            created_at=_moment(data.get("created_at"), f"{where}: created_at"),
            anchor=_moment(data.get("anchor"), f"{where}: anchor"),
            processed_until=_moment(data.get("processed_until"), f"{where}: processed_until"),
            status=status,
            msg_records=records,
        )


@dataclass
class Store:
    """Everything the emulated app holds; ``tasks`` is in creation order."""

    tasks: dict[str, Task] = field(default_factory=dict)
    next_seq: int = 1
    next_msg_id: int = FIRST_MSG_ID
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def active(self) -> list[Task]:
        """Active tasks, oldest created first (docs/api.md section 3: list order)."""
        return [t for t in self.tasks.values() if t.active]

    def take_msg_id(self) -> int:
        msg_id = self.next_msg_id
        self.next_msg_id += 1
        return msg_id

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def record_push(self, record: dict[str, Any]) -> None:
        self.pushes.append(record)
        if len(self.pushes) > MAX_PUSH_LOG:
            del self.pushes[: len(self.pushes) - MAX_PUSH_LOG]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": DATA_FILE_VERSION,
            "next_seq": self.next_seq,
            "next_msg_id": self.next_msg_id,
            "tasks": [t.to_json() for t in self.tasks.values()],
            "pushes": self.pushes,
        }

    @classmethod
    def from_json(cls, data: Any) -> Store:
        """The store from the file's JSON; ``ValueError`` naming the first thing of the wrong
        shape (each would otherwise fail later, in the middle of a request)."""
        data = _typed(data, dict, "the top level")
        if data.get("version") != DATA_FILE_VERSION:
            raise ValueError(f"unsupported format version {str(data.get('version'))[:40]!r}")
        tasks = [Task.from_json(t) for t in _typed(data.get("tasks"), list, "tasks")]
        tasks.sort(key=lambda t: t.seq)
        by_id = {t.schedule_id: t for t in tasks}
        if len(by_id) != len(tasks):
            raise ValueError("two tasks have the same schedule_id")
        pushes = _typed(data.get("pushes", []), list, "pushes")
        for push in pushes:
            _typed(push, dict, "a pushes entry")
        return cls(
            tasks=by_id,
            next_seq=_whole(data.get("next_seq"), "next_seq"),
            next_msg_id=_whole(data.get("next_msg_id"), "next_msg_id"),
            pushes=pushes,
        )


_KINDS: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def _typed(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise ValueError(f"{what} is not {_KINDS[kind]}")
    return value


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not a whole number")
    return value


def _moment(value: Any, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(_typed(value, str, what))
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} has no time zone offset")
    return moment


def load(path: Path) -> Store | None:
    """The store saved at ``path``, None when there is no file; ValueError when unusable.

    Read as a bounded regular file: a FIFO in its place would block the open forever and a link
    to /dev/zero would fill the memory.
    """
    try:
        raw = read_regular(path, limit=MAX_EMULATOR_DATA_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the emulator data file: {reason(exc)}") from exc
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        return Store.from_json(data)
    except RecursionError:
        raise ValueError(f"{path}: not an emulator data file (nested too deeply)") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not an emulator data file ({exc})") from exc


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; the emulator never writes them.
    raise ValueError(f"{name} is not a JSON value")


def save(path: Path, store: Store) -> None:
    """Write ``store`` to ``path`` atomically (temp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(store.to_json(), ensure_ascii=False, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is; not every platform allows it.
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
