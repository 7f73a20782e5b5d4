"""The emulated EngageLab app: the rules of docs/api.md sections 2-4 and 6 applied to the store.

``Emulator`` owns the clock, the lock, the store and the fault dice. Its ``api_*`` methods are
what the HTTP layer (``app.py``) calls: each takes already-authenticated raw input and returns a
``Reply`` or raises a ``WireError``. Its public methods are the Python-side test API.

Firing is lazy: whenever the clock is consulted (every API call, ``advance``, ``set_time``,
``schedules``...) every occurrence between the last processed time and now is fired.

Over 400 lines because it is one object with one invariant: the clock, the API methods and the
Python-side test API all work under the same lock on the same store, each after firing up to
now; the rules it applies live elsewhere (``validation``, ``firing``, ``outbox``, ``store``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.emulator import firing, outbox, store, wire
from reconciler.emulator.auth import AuthResult, check_basic_auth
from reconciler.emulator.batch_validation import batch_envelope_error, validate_batch
from reconciler.emulator.decoding import decode_json
from reconciler.emulator.demo import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.emulator.faults import FaultDice, Faults
from reconciler.emulator.validation import check_replaceable, validate_schedule
from reconciler.emulator.wire import WireError, invalid, not_found

CHURN_PREFIX = "churn_"  # outbox.churn_body names its tasks so
REQUEST_LOG_LIMIT = 100_000
_TICK = timedelta(microseconds=1)
# The clock's range: tasks reach a year past now and are read in any time zone, so the clock
# keeps well inside what ``datetime`` can hold (year 1..9999).
CLOCK_MIN = datetime(1971, 1, 1, tzinfo=UTC)
CLOCK_MAX = datetime(9990, 1, 1, tzinfo=UTC)
_CLOCK_SPAN = (CLOCK_MAX - CLOCK_MIN).total_seconds()
_PAGE_RE = re.compile(r"[0-9]{1,9}")  # ASCII digits; more pages than 10^9 cannot exist


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the emulator answered it (control-plane calls are not logged).

    ``status`` is what the application produced; ``fault`` names an injected fault, if any
    ("latency" is not one: it only delays). For "drop" the client never saw ``status``.
    """

    method: str
    path: str
    status: int
    query: str = ""
    fault: str | None = None


@dataclass(frozen=True)
class Reply:
    """A successful answer: status, JSON body (None = empty body) and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def _real_clock() -> datetime:
    return datetime.now(UTC)


class Emulator:
    """An in-memory EngageLab app with an injectable clock, optional persistence and faults."""

    def __init__(
        self,
        *,
        app_key: str = DEMO_APP_KEY,
        master_secret: str = DEMO_MASTER_SECRET,
        timezone: str = "UTC",
        clock: Callable[[], datetime] | None = None,
        data_path: Path | None = None,
        faults: Faults | None = None,
        max_active: int = 1000,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._app_key = app_key
        self._master_secret = master_secret
        self.tz = ZoneInfo(timezone)
        self.max_active = max_active
        self.seed = seed
        self.data_path = Path(data_path) if data_path is not None else None
        self.sleep: Callable[[float], Awaitable[None]] = sleep or asyncio.sleep
        self._clock = clock or _real_clock
        self._monotonic = monotonic or time.monotonic
        self._offset = timedelta(0)
        self._lock = threading.RLock()
        self._log: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._dice = FaultDice(faults or Faults(), self._monotonic)
        self._store = store.Store()
        self._next_due: datetime | None = None
        self._churn_count = 0
        if self.data_path is not None:
            loaded = store.load(self.data_path)
            if loaded is not None:
                self._store = loaded
                try:
                    self._reschedule_all()
                except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                    # The file's shape was checked, the bodies only by the requests that
                    # created them: an edited body whose trigger is not one fails here.
                    raise ValueError(
                        f"{self.data_path}: not an emulator data file (a task's trigger cannot "
                        f"be read: {type(exc).__name__}: {str(exc)[:200]})"
                    ) from exc
                self._resume_clock()

    def __repr__(self) -> str:  # never show credentials
        return f"Emulator(timezone={self.tz.key!r}, tasks={len(self._store.tasks)})"

    # ------------------------------------------------------------------ clock

    def now(self) -> datetime:
        """The emulator's current time, aware, in its time zone."""
        base = self._clock()
        if base.tzinfo is None:
            raise ValueError("the emulator clock must return aware datetimes")
        return (base + self._offset).astimezone(self.tz)

    def _resume_clock(self) -> None:
        """Never start before the latest moment the loaded data has seen.

        Time does not run backwards for a server: a process that ran ahead (``--now``, a clock
        advanced through the control plane) recorded firings up to then. Starting the next
        process at an earlier time would answer, and date its answers, as if they had not
        happened yet, and a client would create the sent campaigns again.
        """
        latest = max(
            (max(t.created_at, t.processed_until) for t in self._store.tasks.values()),
            default=None,
        )
        if latest is not None and latest > self.now():
            self._offset = latest - self._clock()

    def set_time(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware) and fire everything due by then.

        ``ValueError`` when ``moment`` is outside ``CLOCK_MIN``..``CLOCK_MAX``; the clock is
        then left where it was.
        """
        if moment.tzinfo is None:
            raise ValueError("set_time needs an aware datetime")
        check_clock(moment)
        with self._lock:
            self._offset = moment - self._clock()
            self._tick()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, if negative) and fire everything due.

        ``ValueError`` for a non-finite amount or one that leaves the clock's range.
        """
        if not math.isfinite(seconds) or abs(seconds) > _CLOCK_SPAN:
            raise ValueError(f"cannot move the clock by {seconds!r} s: out of range")
        with self._lock:
            step = timedelta(seconds=seconds)
            check_clock(self.now() + step)
            self._offset += step
            self._tick()

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> Faults:
        return self._dice.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._dice = FaultDice(faults, self._monotonic)

    @property
    def dice(self) -> FaultDice:
        """The live fault decisions (used by the HTTP layer)."""
        return self._dice

    # ------------------------------------------------------------------ Python-side test API

    def schedules(self) -> list[dict[str, Any]]:
        """Full bodies (with ``schedule_id``) of the active tasks, oldest first."""
        with self._lock:
            self._tick()
            return [copy.deepcopy(t.detail()) for t in self._store.active()]

    def msg_records(self, schedule_id: str) -> list[dict[str, Any]]:
        """The decoded msg-id records of a task (any status but deleted); KeyError if unknown."""
        with self._lock:
            self._tick()
            return copy.deepcopy(self._store.tasks[schedule_id].msg_records)

    def pushes(self) -> list[dict[str, Any]]:
        """Batch pushes accepted so far: ``{by, target, msg_id, platform, request, ts}``."""
        with self._lock:
            return copy.deepcopy(self._store.pushes)

    def add_schedule(self, body: Mapping[str, Any]) -> str:
        """Create a task directly (same rules as the API); ValueError with the vendor message."""
        try:
            return str(self.api_create(json.dumps(body).encode()).body["schedule_id"])
        except WireError as exc:
            raise ValueError(f"{exc.code}: {exc.message}") from exc

    @property
    def request_log(self) -> list[RequestRecord]:
        """A copy of the API requests answered so far (oldest first, last 100 000 kept)."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def log_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def reset(self) -> None:
        """Forget every task, record, push and logged request; clock and faults stay."""
        with self._lock:
            self._store = store.Store()
            self._next_due = None
            self._churn_count = 0
            self._log.clear()
            self._dice = FaultDice(self._dice.faults, self._monotonic)
            self._persist()

    def holds_data(self) -> bool:
        """Whether any task (in any status) or sent push exists."""
        with self._lock:
            return bool(self._store.tasks or self._store.pushes)

    def save(self) -> None:
        """Write the data file now (every mutation already does; this is for shutdown)."""
        with self._lock:
            self._persist()

    def state(self) -> dict[str, Any]:
        """Everything, as JSON (``GET /_emulator/state``)."""
        with self._lock:
            self._tick()
            active = self._store.active()
            # A deep copy: the answer is serialised after the lock is released.
            return copy.deepcopy(
                {
                    "now": self.now().isoformat(),
                    "timezone": self.tz.key,
                    "active_count": len(active),
                    "max_active": self.max_active,
                    "schedules": [t.detail() for t in active],
                    "finished": [
                        {"schedule_id": t.schedule_id, "name": t.body["name"], "status": t.status}
                        for t in self._store.tasks.values()
                        if not t.active
                    ],
                    "msg_records": {
                        t.schedule_id: t.msg_records
                        for t in self._store.tasks.values()
                        if t.msg_records
                    },
                    "pushes": self._store.pushes,
                    "faults": self.faults.to_dict(),
                    "data_path": str(self.data_path) if self.data_path else None,
                }
            )

    # ------------------------------------------------------------------ auth

    def authenticate(self, header: str | None) -> AuthResult:
        """Check an ``Authorization`` header against this app's credentials."""
        return check_basic_auth(header, self._app_key, self._master_secret)

    # ------------------------------------------------------------------ schedule API

    def api_create(self, raw: bytes) -> Reply:
        """``POST /v4/schedules``."""
        payload = decode_json(raw)
        with self._lock:
            now = self._tick()
            body = self._stored_name(validate_schedule(payload, now=now, tz=self.tz))
            if not body["enabled"]:
                # docs/api.md section 2: enabled must be true on create.
                raise invalid("enabled must be true when a task is created")
            self._no_target_fault()
            if len(self._store.active()) >= self.max_active:
                raise invalid(
                    f"too many scheduled tasks: at most {self.max_active} active tasks per app"
                )
            task = self._insert(body, now)
            self._persist()
            return Reply(200, {"schedule_id": task.schedule_id, "name": body["name"]})

    def api_list(self, page_param: str | None) -> Reply:
        """``GET /v4/schedules?page=N``: 50 per page, oldest first, active only."""
        page = 1
        if page_param:
            if not _PAGE_RE.fullmatch(page_param) or int(page_param) < 1:
                raise invalid(f"page must be an integer >= 1, got {page_param[:40]!r}")
            page = int(page_param)
        with self._lock:
            self._tick()
            active = self._store.active()
            chunk = active[(page - 1) * wire.PAGE_SIZE : page * wire.PAGE_SIZE]
            reply = Reply(
                200,
                {
                    "total_count": len(active),
                    "total_pages": math.ceil(len(active) / wire.PAGE_SIZE),
                    "page": page,
                    "schedules": [
                        {
                            "schedule_id": t.schedule_id,
                            "name": t.body["name"],
                            "enabled": t.body["enabled"],
                        }
                        for t in chunk
                    ],
                },
            )
            self._churn()
            return reply

    def api_get(self, schedule_id: str) -> Reply:
        """``GET /v4/schedules/{id}``: a one-element list (docs/api.md section 3 decision)."""
        with self._lock:
            self._tick()
            return Reply(200, [copy.deepcopy(self._active_task(schedule_id).detail())])

    def api_msg_ids(self, schedule_id: str) -> Reply:
        """``GET /v4/schedules/{id}/msg-ids``; readable after the task fired or expired."""
        with self._lock:
            self._tick()
            task = self._store.tasks.get(schedule_id)
            if task is None:
                raise not_found(schedule_id)
            items = [json.dumps(r, separators=(",", ":")) for r in task.msg_records]
            return Reply(200, {"count": len(items), "MsgIds": items})

    def _stored_name(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` as stored: the ``strip_names`` fault strips the name's surrounding space."""
        if self._dice.faults.strip_names:
            body["name"] = body["name"].strip()
        return body

    def api_update(self, schedule_id: str, raw: bytes) -> Reply:
        """``PUT /v4/schedules/{id}``: full body; same kind and zone_type; not expired."""
        with self._lock:
            now = self._tick()
            task = self._store.tasks.get(schedule_id)
            if task is None or task.status == "sent":
                raise not_found(schedule_id)
            if task.status == "expired":
                raise invalid(f"update target task: {schedule_id} has expired and cannot change")
            body = self._stored_name(validate_schedule(decode_json(raw), now=now, tz=self.tz))
            check_replaceable(task.body["trigger"], body["trigger"])
            self._no_target_fault()
            task.body = body
            task.anchor = now
            task.processed_until = max(task.processed_until, now - _TICK)
            self._reschedule(task)
            self._persist()
            return Reply(200, copy.deepcopy(task.detail()))

    def api_delete(self, schedule_id: str) -> Reply:
        """``DELETE /v4/schedules/{id}``: 200 with an empty body."""
        with self._lock:
            self._tick()
            self._active_task(schedule_id)
            del self._store.tasks[schedule_id]
            self._persist()
            return Reply(200, None)

    # ------------------------------------------------------------------ batch push API

    def api_batch(self, by: str, raw: bytes) -> Reply:
        """``POST /v4/batch/push/{regid|alias}`` (docs/api.md section 6)."""
        code = self._dice.batch_error()
        if code is not None:
            # A global error: the whole call refused before anything is read or sent.
            raise WireError(400, code, wire.BATCH_FAULT_MESSAGES[code], fault="batch_error")
        payload = decode_json(raw, batch_envelope_error, wire.MAX_BATCH_BODY_BYTES)
        requests = validate_batch(payload)
        with self._lock:
            now = self._tick()
            body = outbox.send_batch(self._store, self._dice, by, requests, now)
            self._persist()
        return Reply(200, body)

    # ------------------------------------------------------------------ internals

    def _no_target_fault(self) -> None:
        """The ``no_target_rate`` fault: 404 / 28105 for a valid write, nothing applied."""
        if self._dice.no_target():
            raise WireError(404, wire.SCHEDULE_NO_TARGET, wire.NO_TARGET_MESSAGE, fault="no_target")

    def _active_task(self, schedule_id: str) -> store.Task:
        task = self._store.tasks.get(schedule_id)
        if task is None or not task.active:
            raise not_found(schedule_id)
        return task

    def _insert(self, body: dict[str, Any], now: datetime) -> store.Task:
        task = store.Task(
            schedule_id=str(uuid.uuid4()),
            seq=self._store.take_seq(),
            body=body,
            created_at=now,
            anchor=now,
            processed_until=now - _TICK,  # an occurrence at exactly "now" still fires
        )
        self._store.tasks[task.schedule_id] = task
        self._reschedule(task)
        return task

    def _reschedule(self, task: store.Task) -> None:
        """Recompute when ``task`` next needs attention (a firing or its expiry)."""
        if not task.active:
            task.next_due = None
            return
        trigger = task.body["trigger"]
        nxt = firing.next_occurrence(trigger, self.tz, task.anchor, after=task.processed_until)
        task.next_due = nxt or firing.expiry(trigger, self.tz, task.anchor)
        if self._next_due is None or task.next_due < self._next_due:
            self._next_due = task.next_due

    def _reschedule_all(self) -> None:
        self._next_due = None
        for task in self._store.tasks.values():
            self._reschedule(task)

    def _tick(self) -> datetime:
        """Fire every occurrence up to now; return now. Caller holds the lock."""
        now = self.now()
        if self._next_due is None or now < self._next_due:
            return now
        self._next_due = None  # rebuilt below: _reschedule keeps the minimum
        for task in self._store.tasks.values():
            if task.active and task.next_due is not None and task.next_due <= now:
                self._fire(task, now)
            elif task.next_due is not None and (
                self._next_due is None or task.next_due < self._next_due
            ):
                self._next_due = task.next_due
        self._persist()
        return now

    def _fire(self, task: store.Task, now: datetime) -> None:
        trigger = task.body["trigger"]
        for moment in firing.occurrences(
            trigger, self.tz, task.anchor, after=task.processed_until, until=now
        ):
            if task.body["enabled"]:  # a disabled task lets its occurrences pass silently
                task.msg_records.append(outbox.msg_record(self._store, self._dice, moment))
        task.processed_until = max(task.processed_until, now)
        if now >= firing.expiry(trigger, self.tz, task.anchor):
            kind = firing.trigger_kind(trigger)
            task.status = "expired" if kind == "periodical" else "sent"
        self._reschedule(task)

    def _churn(self) -> None:
        """List churn fault: create or delete unmanaged ``churn_*`` tasks between page reads."""
        for _ in range(self._dice.faults.churn_per_page):
            churned = [t for t in self._store.active() if t.body["name"].startswith(CHURN_PREFIX)]
            full = len(self._store.active()) >= self.max_active
            if churned and (full or self._dice.coin()):
                victim = churned[self._dice.choice(len(churned))]
                del self._store.tasks[victim.schedule_id]
            elif not full:
                self._churn_count += 1
                self._insert(outbox.churn_body(self._churn_count, self.now()), self.now())
        if self._dice.faults.churn_per_page:
            self._persist()

    def _persist(self) -> None:
        if self.data_path is not None:
            store.save(self.data_path, self._store)


def check_clock(moment: datetime) -> None:
    """``ValueError`` unless ``moment`` is within the clock's range (CLOCK_MIN..CLOCK_MAX)."""
    if not CLOCK_MIN <= moment <= CLOCK_MAX:
        raise ValueError(
            f"{moment.isoformat()} is outside the emulator's clock range "
            f"({CLOCK_MIN.date()} to {CLOCK_MAX.date()})"
        )
