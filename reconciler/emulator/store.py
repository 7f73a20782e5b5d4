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

FORMAT_VERSION = 1
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
    def from_json(cls, data: dict[str, Any]) -> Task:
        return cls(
            schedule_id=data["schedule_id"],
            seq=int(data["seq"]),
            body=data["body"],
            created_at=datetime.fromisoformat(data["created_at"]),
            anchor=datetime.fromisoformat(data["anchor"]),
            processed_until=datetime.fromisoformat(data["processed_until"]),
            status=data["status"],
            msg_records=list(data.get("msg_records", [])),
        )


@dataclass
class Store:
    """Everything the emulated app holds; ``tasks`` is in creation order."""

    tasks: dict[str, Task] = field(default_factory=dict)
    next_seq: int = 1
    next_msg_id: int = FIRST_MSG_ID
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def active(self) -> list[Task]:
        """Active tasks, oldest created first (API.md section 3: list order)."""
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
            "version": FORMAT_VERSION,
            "next_seq": self.next_seq,
            "next_msg_id": self.next_msg_id,
            "tasks": [t.to_json() for t in self.tasks.values()],
            "pushes": self.pushes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Store:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported format version {data.get('version')!r}")
        tasks = [Task.from_json(t) for t in data["tasks"]]
        tasks.sort(key=lambda t: t.seq)
        return cls(
            tasks={t.schedule_id: t for t in tasks},
            next_seq=int(data["next_seq"]),
            next_msg_id=int(data["next_msg_id"]),
            pushes=list(data.get("pushes", [])),
        )


def load(path: Path) -> Store | None:
    """The store saved at ``path``, None when there is no file; ValueError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("the top level is not an object")
        return Store.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not an emulator data file ({exc})") from exc


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
