"""The late-commit grace of the journal: a create whose answer was lost is taken as never made
only once ``LATE_COMMIT_GRACE`` has passed since it was stamped, whatever the stamp says.

A server may commit a request after the client gave up on its answer; a re-run that took the
create as never made too soon sent it again: two tasks of one schedule. The stamp must be no
older than the POST (the executor stamps again before it), readable (aware, in range), and a
stamp ahead of the clock (a rehearsal's ``--now``) must not block every command for a month.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.executor import _RESTAMP_AFTER, Executor
from reconciler.apply.healing import heal_journal, require_healed
from reconciler.apply.writer import StateWriter
from reconciler.errors import (
    AmbiguousCreateError,
    InventoryError,
    ServerError,
    StateCorruptError,
    StateError,
)
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning import canonical
from reconciler.planning.inputs import Desired
from reconciler.remote.responses import CreatedSchedule
from reconciler.state import edits as st
from reconciler.state.schema import State
from reconciler.state.store import StateStore
from tests.plan.builders import NOW, body, inventory, plan, state


def _journalled(at: datetime) -> State:
    return st.begin_pending(state(), "create", "alpha", canonical.fingerprint(body("alpha")), at)


@pytest.mark.parametrize(
    ("age", "waits"),
    [
        (timedelta(0), True),
        (LATE_COMMIT_GRACE - timedelta(seconds=1), True),
        (LATE_COMMIT_GRACE, False),
        (timedelta(days=400), False),
    ],
)
def test_an_unlisted_create_waits_out_the_grace(age: timedelta, waits: bool) -> None:
    healing = heal_journal(_journalled(NOW - age), inventory(), NOW)
    if waits:
        assert healing.waiting == [("alpha", NOW - age + LATE_COMMIT_GRACE)]
        assert "alpha" in healing.state.pending
        with pytest.raises(InventoryError, match="not sent again before"):
            require_healed(healing)
    else:
        assert healing.waiting == []
        assert healing.state.pending == {}
        require_healed(healing)


@pytest.mark.parametrize(
    "stamp",
    [
        NOW + LATE_COMMIT_GRACE * 2,
        NOW + timedelta(days=30),
        datetime.max.replace(tzinfo=NOW.tzinfo),
    ],
    ids=["ahead", "a-month-ahead", "end-of-calendar"],
)
def test_a_stamp_ahead_of_the_clock_is_waited_for_from_now(stamp: datetime) -> None:
    """Journalled by a clock ahead of this one (a rehearsal with --now, a server's Date): the
    wait is counted from now and the new stamp kept, not until the stamp (a month), and the
    end of the calendar is no OverflowError."""
    healing = heal_journal(_journalled(stamp), inventory(), NOW)
    assert healing.waiting == [("alpha", NOW + LATE_COMMIT_GRACE)]
    assert healing.state.pending["alpha"].started_at == NOW
    assert any("after now by this command's clock" in n for n in healing.notes)
    assert healing.changed  # so that apply saves the new stamp


@pytest.mark.parametrize("stamp", ["2026-01-01T00:00:00", "2026-01-01 00:00"])
def test_a_stamp_without_a_time_zone_is_a_corrupt_state_not_a_traceback(
    tmp_path: Path, stamp: str
) -> None:
    path = tmp_path / "state.json"
    StateStore(path).save(_journalled(NOW))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["pending"]["alpha"]["started_at"] = stamp
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StateCorruptError, match=r"pending\.alpha\.started_at"):
        StateStore(path).load()


class _SlowServer:
    """A client whose create_schedule lets ``minutes`` pass inside it (the pacing's wait,
    refusals and their retries) before the POST leaves, then records how old the journal's
    stamp of that name is on disk at that moment."""

    def __init__(self, store: StateStore, clock: list[datetime], minutes: int) -> None:
        self.store = store
        self.clock = clock
        self.minutes = minutes
        self.ages: list[timedelta] = []

    async def create_schedule(
        self, data: dict[str, Any], *, before_send: Callable[[], None] | None = None
    ) -> CreatedSchedule:
        self.clock[0] += timedelta(minutes=self.minutes)
        if before_send is not None:
            before_send()
        stamp = self.store.load().pending[data["name"]].started_at
        self.ages.append(self.clock[0] - stamp)
        return CreatedSchedule(schedule_id=f"id-{data['name']}", name=data["name"])


def test_a_post_leaves_with_a_fresh_stamp_however_late_it_leaves(tmp_path: Path) -> None:
    """Five creates journalled at once, each POST leaving two minutes after the one before
    (paced, refused and retried): when each leaves, its entry on disk was stamped within
    ``_RESTAMP_AFTER``, not ten minutes before (a lost answer would then be given up at once)."""
    store = StateStore(tmp_path / "state.json")
    names = [f"n{i}" for i in range(5)]
    desired = [Desired(n, body(n), False, f"schedules/{n}.yaml:1") for n in names]
    made = plan(desired, inventory(), State())
    clock = [NOW]
    server = _SlowServer(store, clock, minutes=2)
    writer = StateWriter(store, State())
    # No list read after the creates: this client only takes them (race_check is another test's).
    executor = Executor(server, writer, now=lambda: clock[0], race_check=False)  # type: ignore[arg-type]
    report = asyncio.run(executor.run(made))
    assert report.failures == []
    assert len(server.ages) == 5
    assert max(server.ages) <= _RESTAMP_AFTER


class _FullDisk(StateStore):
    """A state store whose next ``fails`` saves fail, as on a full disk."""

    fails = 0

    def save(self, state: State) -> State:
        if self.fails:
            self.fails -= 1
            raise StateError("cannot write the state file: No space left on device")
        return super().save(state)


class _Waits(_SlowServer):
    """Like ``_SlowServer``, with its own wait before each POST, and the store made to fail
    the save of the first re-stamp."""

    def __init__(self, store: _FullDisk, clock: list[datetime], waits: list[timedelta]) -> None:
        super().__init__(store, clock, minutes=0)
        self.full = store
        self.waits = waits

    async def create_schedule(
        self, data: dict[str, Any], *, before_send: Callable[[], None] | None = None
    ) -> CreatedSchedule:
        self.clock[0] += self.waits.pop(0)
        if data["name"] == "n0":
            self.full.fails = 1
        return await super().create_schedule(data, before_send=before_send)


def test_a_restamp_that_could_not_be_saved_is_tried_again_by_the_next_post(
    tmp_path: Path,
) -> None:
    """The first POST leaves two minutes after its entry; its re-stamp cannot be saved (it
    fails, unsent, its entry cleared). The next POSTs, ten seconds apart, must not take the
    failed re-stamp as done: each leaves with its stamp on disk within ``_RESTAMP_AFTER``."""
    store = _FullDisk(tmp_path / "state.json")
    names = [f"n{i}" for i in range(4)]
    desired = [Desired(n, body(n), False, f"schedules/{n}.yaml:1") for n in names]
    made = plan(desired, inventory(), State())
    clock = [NOW]
    server = _Waits(store, clock, [timedelta(minutes=2)] + [timedelta(seconds=10)] * 3)
    writer = StateWriter(store, State())
    executor = Executor(server, writer, now=lambda: clock[0], race_check=False)  # type: ignore[arg-type]
    report = asyncio.run(executor.run(made))
    assert len(report.failures) == 1
    assert "n0" in report.failures[0]
    assert "No space left on device" in report.failures[0]
    assert len(server.ages) == 3  # n1, n2, n3 left
    assert max(server.ages) <= _RESTAMP_AFTER
    assert "n0" not in store.load().pending


class _LostAnswers:
    """A client whose creates leave three minutes late and whose answers never come."""

    def __init__(self, clock: list[datetime]) -> None:
        self.clock = clock
        self.given_up: list[datetime] = []

    async def create_schedule(
        self, data: dict[str, Any], *, before_send: Callable[[], None] | None = None
    ) -> CreatedSchedule:
        self.clock[0] += timedelta(minutes=3)
        if before_send is not None:
            before_send()
        self.clock[0] += timedelta(minutes=2)  # its --timeout: the answer never comes
        self.given_up.append(self.clock[0])
        raise AmbiguousCreateError(
            "no answer", name=data["name"], fingerprint=canonical.fingerprint(data)
        )


def test_an_entry_left_journalled_by_a_failed_lookup_waits_from_the_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost answer, then the lookup after the phase fails: the entry stays journalled with a
    stamp no older than the moment the answer was given up (the POST may have been committed
    any time until then), so a late commit is waited for from then."""

    async def unreadable(*args: object, **kwargs: object) -> None:
        raise ServerError("the list cannot be read", status=503, code=28203)

    monkeypatch.setattr("reconciler.apply.executor.read_inventory", unreadable)
    store = StateStore(tmp_path / "state.json")
    made = plan([Desired("alpha", body("alpha"), False, "schedules/alpha.yaml:1")])
    clock = [NOW]
    client = _LostAnswers(clock)
    report = asyncio.run(
        Executor(client, StateWriter(store, State()), now=lambda: clock[0]).run(made)  # type: ignore[arg-type]
    )
    assert any("the lookup failed" in f for f in report.failures), report.failures
    stamp = store.load().pending["alpha"].started_at
    assert stamp >= client.given_up[0]


def _stamped(server: datetime, local: datetime) -> State:
    return st.begin_pending(
        state(), "create", "alpha", canonical.fingerprint(body("alpha")), server, local=local
    )


LOCAL = NOW + timedelta(hours=3)  # this machine's clock, three hours off the server's


@pytest.mark.parametrize(
    ("server_age", "local_age", "left"),
    [
        (timedelta(minutes=6), timedelta(seconds=3), LATE_COMMIT_GRACE - timedelta(seconds=3)),
        (timedelta(seconds=3), timedelta(minutes=6), LATE_COMMIT_GRACE - timedelta(seconds=3)),
        (timedelta(minutes=4), timedelta(minutes=2), LATE_COMMIT_GRACE - timedelta(minutes=2)),
        (LATE_COMMIT_GRACE, LATE_COMMIT_GRACE, None),
        (timedelta(days=400), timedelta(minutes=6), None),
    ],
    ids=["server-stepped", "machine-stepped", "both-short", "both-passed", "long-ago"],
)
def test_the_grace_runs_until_it_has_passed_by_both_clocks(
    server_age: timedelta, local_age: timedelta, left: timedelta | None
) -> None:
    """Each stamp is compared with its own clock: a clock that stepped forward (a server's
    node, an NTP step) does not end the wait alone; the later of the two ends it."""
    journalled = _stamped(NOW - server_age, LOCAL - local_age)
    healing = heal_journal(journalled, inventory(), NOW, LOCAL)
    if left is None:
        assert healing.waiting == []
        assert healing.state.pending == {}
    else:
        assert healing.waiting == [("alpha", NOW + left)]
        assert healing.state.pending == journalled.pending


def test_a_machine_stamp_ahead_is_waited_for_from_now_by_both_clocks() -> None:
    """Stamped on a runner whose clock was a day ahead of this one: waited for from now, and
    both stamps renewed (not a day's wait, and not ended by the server's clock alone)."""
    healing = heal_journal(
        _stamped(NOW - timedelta(minutes=6), LOCAL + timedelta(days=1)), inventory(), NOW, LOCAL
    )
    assert healing.waiting == [("alpha", NOW + LATE_COMMIT_GRACE)]
    renewed = healing.state.pending["alpha"]
    assert (renewed.started_at, renewed.started_locally) == (NOW, LOCAL)
    assert healing.changed


def test_the_executor_stamps_the_journal_by_both_clocks(tmp_path: Path) -> None:
    """A create whose answer is lost stays journalled with the moment it was given up by the
    command's clock and by this machine's."""
    store = StateStore(tmp_path / "state.json")
    made = plan([Desired("alpha", body("alpha"), False, "schedules/alpha.yaml:1")])
    clock = [NOW]
    client = _LostAnswers(clock)

    async def no_task(*args: object, **kwargs: object) -> object:
        return inventory()

    executor = Executor(
        client,  # type: ignore[arg-type]
        StateWriter(store, State()),
        now=lambda: clock[0],
        local=lambda: clock[0] + timedelta(hours=3),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("reconciler.apply.executor.read_inventory", no_task)
        asyncio.run(executor.run(made))
    entry = store.load().pending["alpha"]
    assert entry.started_at == client.given_up[0]
    assert entry.started_locally == client.given_up[0] + timedelta(hours=3)


def test_an_entry_with_the_servers_stamp_only_gets_this_machines_while_it_waits() -> None:
    """Journalled before the second stamp existed, and still within the grace by the server's
    clock: it is stamped by this machine's clock now (and saved: the healing changed), so a
    server clock stepping forward before the next run does not end its wait alone."""
    healing = heal_journal(_journalled(NOW - timedelta(minutes=1)), inventory(), NOW, LOCAL)
    entry = healing.state.pending["alpha"]
    assert (entry.started_at, entry.started_locally) == (NOW - timedelta(minutes=1), LOCAL)
    assert healing.changed
    later = heal_journal(healing.state, inventory(), NOW + timedelta(minutes=6), LOCAL)
    assert later.waiting == [("alpha", NOW + timedelta(minutes=6) + LATE_COMMIT_GRACE)]


def test_without_this_machines_clock_the_servers_stamp_alone_decides() -> None:
    """A caller with one clock (the Python API): the machine's stamp is not compared with the
    server's time, another clock."""
    journalled = _stamped(NOW - LATE_COMMIT_GRACE, NOW + timedelta(days=3))
    healing = heal_journal(journalled, inventory(), NOW)
    assert healing.waiting == []
    assert healing.state.pending == {}


def test_a_lost_create_is_healed_with_the_oldest_of_two_alike_copies() -> None:
    """Two tasks with the journalled name and body (a racing apply made one): healing took the
    smaller id, which may be the copy the other run is about to delete as the later one. It
    takes the first in the list (oldest first), the copy racing runs keep."""
    from reconciler.apply.healing import find_created
    from tests.plan.builders import remote

    b = body("promo")
    older, newer = remote("zz-older", b), remote("aa-newer", b)
    found = find_created(inventory(older, newer), "promo", canonical.fingerprint(b), set())
    assert found == ["zz-older", "aa-newer"]
    healed = heal_journal(
        st.begin_creates(state({}), [("promo", canonical.fingerprint(b), None)], NOW),
        inventory(older, newer),
        NOW,
    )
    assert healed.state.entries["promo"].schedule_id == "zz-older"
