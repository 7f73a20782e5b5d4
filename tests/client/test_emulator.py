"""The client and the inventory against the emulator with faults on (issue 4, "Done when").

In-process through ``httpx.ASGITransport`` unless a test needs a real socket (dropped
connections, over uvicorn). Latencies are a few milliseconds, and the client's backoff sleeps
are injected, so faults cost no real waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults, create_app
from reconciler.errors import AmbiguousCreateError, AuthError, InventoryError, NotFoundError
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import Inventory, read_inventory
from reconciler.testing import serve_emulator
from tests.kit.clock import FakeClock

from .helpers import run, schedule_body

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CREDS = Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET)


def _emulator(count: int = 0, *, prefix: str = "task", **kw: Any) -> tuple[Emulator, list[str]]:
    em = Emulator(clock=lambda: NOW, **kw)
    ids = [em.add_schedule(schedule_body(f"{prefix}_{i:04d}")) for i in range(count)]
    return em, ids


def _settings(base_url: str = "http://emulator", **kw: Any) -> ClientSettings:
    values: dict[str, Any] = {"base_url": base_url, "credentials": CREDS, "rate_limit": 1e6}
    values.update(kw)
    return ClientSettings(**values)


def _client(
    target: Emulator | httpx.AsyncBaseTransport, *, sleep: Any = None, **kw: Any
) -> EngageLabClient:
    transport = httpx.ASGITransport(create_app(target)) if isinstance(target, Emulator) else target
    return EngageLabClient(
        _settings(**kw), transport=transport, sleep=sleep or FakeClock().sleep, rng=random.Random(1)
    )


def _inventory(client: EngageLabClient, **kw: Any) -> Inventory:
    async def go() -> Inventory:
        async with client:
            return await read_inventory(client, **kw)

    return run(go())


def _writes(em: Emulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in em.request_log if r.method in ("POST", "PUT", "DELETE")]


class Mangle(httpx.AsyncBaseTransport):
    """Forwards to the emulator, then replaces answers chosen by ``rule`` (a broken proxy)."""

    def __init__(
        self, em: Emulator, rule: Callable[[httpx.Request, int], httpx.Response | None]
    ) -> None:
        self.inner = httpx.ASGITransport(create_app(em))
        self.rule = rule
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        response = await self.inner.handle_async_request(request)
        replaced = self.rule(request, self.calls)
        if replaced is None:
            return response
        await response.aread()
        return replaced


# -- 20 % server errors plus latency -----------------------------------------------------------


def test_read_completes_under_20_percent_server_errors_with_every_retry_counted() -> None:
    """20 % 500/503 plus latency: complete, nothing missing, one retry per injected error."""
    em, ids = _emulator(160, faults=Faults(error_rate=0.2, latency_ms=1, jitter_ms=2, seed=7))
    em.clear_log()
    # 10 retries: at 20 % errors, 5 leave a ~1 % chance that one of ~165 requests fails 6 times.
    client = _client(em, max_retries=10)
    inv = _inventory(client)
    injected = sum(1 for r in em.request_log if r.fault == "error")
    assert inv.complete
    assert set(inv.schedules) == set(ids)
    assert injected > 10
    assert client.stats.retries == injected
    assert client.stats.requests == len(em.request_log)


def test_inventory_bodies_match_the_server_exactly() -> None:
    """Each RemoteSchedule body is the server's detail minus schedule_id."""
    em, ids = _emulator(3)
    inv = _inventory(_client(em))
    expected = {s["schedule_id"]: s for s in em.schedules()}
    for sid in ids:
        body = dict(expected[sid])
        del body["schedule_id"]
        assert inv.schedules[sid].body == body
        assert inv.schedules[sid].name == body["name"]


def test_429_from_the_server_is_waited_out_as_its_retry_after_says() -> None:
    """Emulator rate limit 20/s: the client waits Retry-After (fake time) and finishes."""
    time = FakeClock()
    em, _ = _emulator(60, faults=Faults(rate_limit=20), monotonic=time.monotonic)
    em.clear_log()
    client = _client(em, sleep=time.sleep, max_retries=10, retry_budget_min=200)
    inv = _inventory(client)
    throttled = sum(1 for r in em.request_log if r.status == 429)
    assert inv.complete
    assert len(inv.schedules) == 60
    assert throttled > 0
    assert client.stats.retries == throttled
    # The emulator asks for whole seconds; the shorter sleeps are the limiter's pacing.
    assert client.stats.retry_wait_seconds >= throttled * 1.0


# -- churn while paging -------------------------------------------------------------------------


def _churny(count: int, churn: int) -> tuple[Emulator, list[str]]:
    """Unmanaged churn_* tasks first (their deletion shifts every later offset), then ours."""
    em = Emulator(clock=lambda: NOW, faults=Faults(churn_per_page=churn, seed=3))
    for i in range(80):
        em.add_schedule(schedule_body(f"churn_pre_{i:03d}"))
    ids = [em.add_schedule(schedule_body(f"managed_{i:04d}")) for i in range(count)]
    return em, ids


def test_endless_churn_is_detected_and_no_managed_task_is_missed() -> None:
    """Churn on every page read: incomplete after the re-reads, yet every managed id is there."""
    em, ids = _churny(200, churn=4)
    inv = _inventory(_client(em), known_ids=ids, max_attempts=3)
    assert not inv.complete
    assert any("changed" in p for p in inv.problems)
    assert "after 3 read(s)" in inv.problems[-1]
    assert set(ids) <= set(inv.schedules)
    assert inv.gone == frozenset()
    pages_1 = [r for r in em.request_log if r.path == "/v4/schedules" and r.query == "page=1"]
    assert len(pages_1) == 3 + _rechecked(em)


def _rechecked(em: Emulator) -> int:
    """1 when a listed task vanished before its detail was read: one more list pass checks
    that the list no longer shows it (a list and a detail that disagree are not trusted)."""
    return int(any(r.status == 404 and r.path.startswith("/v4/schedules/") for r in em.request_log))


def test_churn_can_make_the_list_skip_a_task() -> None:
    """Why known ids are looked up: under churn the bare list misses managed tasks."""
    em, ids = _churny(200, churn=4)
    inv = _inventory(_client(em), max_attempts=1)
    assert not inv.complete
    assert not set(ids) <= set(inv.schedules)


def test_churn_that_settles_gives_a_complete_read_on_the_next_attempt() -> None:
    """Churn during the first pass only: the re-read adds up and the inventory is complete."""
    em, ids = _churny(200, churn=4)
    pages = 0

    def stop_churn_after_first_pass(request: httpx.Request, calls: int) -> None:
        nonlocal pages
        if request.url.path == "/v4/schedules":
            pages += 1
            if pages == 6:  # the first pass reads 6 pages (280+ tasks)
                em.faults = Faults()
        return None

    inv = _inventory(_client(Mangle(em, stop_churn_after_first_pass)), known_ids=ids)
    reads = [r for r in em.request_log if r.path == "/v4/schedules" and r.query == "page=1"]
    assert len(reads) == 2 + _rechecked(em)  # the first pass did not add up; the second did
    assert inv.complete
    assert inv.problems == ()
    assert set(ids) <= set(inv.schedules)
    active = {s["schedule_id"] for s in em.schedules()}
    assert set(inv.schedules) == active


# -- commit then timeout on create ---------------------------------------------------------------


def _create_once(client: EngageLabClient, body: dict[str, Any]) -> None:
    async def go() -> None:
        async with client:
            await client.create_schedule(body)

    run(go())


def test_create_that_commits_then_hangs_is_ambiguous_sent_once_no_duplicate() -> None:
    """Write applied, answer held past --timeout: AmbiguousCreateError, one POST, one task."""
    em, _ = _emulator(faults=Faults(commit_then_timeout_rate=1.0, hang_seconds=5))
    with pytest.raises(AmbiguousCreateError) as info:
        _create_once(_client(em, timeout=0.05), schedule_body("launch_day"))
    assert info.value.name == "launch_day"
    assert _writes(em) == ["POST /v4/schedules"]
    assert [s["name"] for s in em.schedules()] == ["launch_day"]


def test_create_whose_connection_drops_after_commit_is_ambiguous_in_process() -> None:
    """Commit then dropped connection (ASGI): ambiguous, one POST, exactly one task."""
    em, _ = _emulator(faults=Faults(commit_then_timeout_rate=1.0, hang_seconds=0))
    with pytest.raises(AmbiguousCreateError):
        _create_once(_client(em), schedule_body("launch_day"))
    assert _writes(em) == ["POST /v4/schedules"]
    assert len(em.schedules()) == 1


def test_create_whose_connection_drops_after_commit_is_ambiguous_over_http() -> None:
    """The same over uvicorn: a real half-sent answer is ambiguous, never re-sent."""
    em, _ = _emulator(faults=Faults(commit_then_timeout_rate=1.0, hang_seconds=0))
    with serve_emulator(em) as url:
        client = EngageLabClient(_settings(url, timeout=5), sleep=FakeClock().sleep)
        with pytest.raises(AmbiguousCreateError):
            _create_once(client, schedule_body("launch_day"))
    assert _writes(em) == ["POST /v4/schedules"]
    assert len(em.schedules()) == 1


def test_an_ambiguous_create_can_be_resolved_by_name_from_the_inventory() -> None:
    """After an ambiguous create, the inventory shows the one task of that name to adopt."""
    em, _ = _emulator(faults=Faults(commit_then_timeout_rate=1.0, hang_seconds=5))
    with pytest.raises(AmbiguousCreateError) as info:
        _create_once(_client(em, timeout=0.05), schedule_body("launch_day"))
    em.faults = Faults()
    inv = _inventory(_client(em))
    assert [s.name for s in inv.by_name()[info.value.name]] == ["launch_day"]


# -- credentials, 404, malformed answers ---------------------------------------------------------


def test_wrong_credentials_give_one_clear_message() -> None:
    """A wrong secret: one AuthError on the first request, one line, a hint, no retry."""
    em, _ = _emulator(3)
    em.clear_log()
    client = EngageLabClient(
        _settings(credentials=Credentials(DEMO_APP_KEY, "not-the-secret")),
        transport=httpx.ASGITransport(create_app(em)),
        sleep=FakeClock().sleep,
    )
    with pytest.raises(AuthError) as info:
        _inventory(client)
    assert len(em.request_log) == 1
    assert "\n" not in info.value.message
    assert "HTTP 401" in info.value.message
    assert info.value.hint is not None
    assert "ENGAGELAB_MASTER_SECRET" in info.value.hint
    assert "not-the-secret" not in f"{info.value.message} {info.value.hint}"


def test_unknown_ids_are_404_for_get_update_and_delete() -> None:
    """GET, PUT and DELETE of an id the server does not know raise NotFoundError, unretried."""
    em, _ = _emulator()

    async def go() -> list[type]:
        raised = []
        async with _client(em) as client:
            for call in (
                client.get_schedule("nope"),
                client.update_schedule("nope", schedule_body()),
                client.delete_schedule("nope"),
            ):
                with pytest.raises(NotFoundError) as info:
                    await call
                raised.append(type(info.value))
        return raised

    assert run(go()) == [NotFoundError] * 3
    assert len(em.request_log) == 3


def test_known_ids_deleted_out_of_band_are_gone() -> None:
    """Ids from the state whose tasks were deleted behind our back are confirmed gone (404)."""
    em, ids = _emulator(5)

    async def delete_two() -> None:
        async with _client(em) as client:
            await client.delete_schedule(ids[1])
            await client.delete_schedule(ids[3])

    run(delete_two())
    inv = _inventory(_client(em), known_ids=ids)
    assert inv.complete
    assert inv.gone == frozenset({ids[1], ids[3]})
    assert set(inv.schedules) == {ids[0], ids[2], ids[4]}


def test_a_proxys_html_502_on_a_detail_is_retried_and_the_read_completes() -> None:
    """An HTML gateway page in the middle of the read is a retryable server error."""
    em, _ = _emulator(10)

    def html_once(request: httpx.Request, calls: int) -> httpx.Response | None:
        if calls == 4:
            return httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")
        return None

    client = _client(Mangle(em, html_once))
    inv = _inventory(client)
    assert inv.complete
    assert len(inv.schedules) == 10
    assert client.stats.retries == 1


def test_a_detail_that_is_neither_list_nor_object_fails_the_read_clearly() -> None:
    """A detail answered with a bare string: InventoryError naming the task and the shape."""
    em, ids = _emulator(4)

    def bad_detail(request: httpx.Request, calls: int) -> httpx.Response | None:
        if request.url.path == f"/v4/schedules/{ids[2]}":
            return httpx.Response(200, json="not a schedule")
        return None

    with pytest.raises(InventoryError) as info:
        _inventory(_client(Mangle(em, bad_detail)))
    assert ids[2] in info.value.message
    assert "expected a schedule (list or object)" in info.value.message


def test_msg_ids_from_the_emulator_decode_to_records() -> None:
    """After a single task fires, its msg-ids decode to one record at the firing time (UTC)."""
    em = Emulator(clock=FakeClock(NOW).wall)
    body = schedule_body("one_shot")
    body["trigger"] = {"single": {"time": "2026-12-01 09:00:00", "zone_type": 1}}
    sid = em.add_schedule(body)
    em.advance(2 * 3600)

    async def go() -> Any:
        async with _client(em) as client:
            return await client.get_msg_ids(sid)

    records = run(go())
    assert len(records) == 1
    assert records[0].executed_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert records[0].ok


def test_batch_push_reports_targets_over_the_push_quota() -> None:
    """Emulator push QPS of 2 targets/s: two sent, the third failed with 23008 for the caller."""
    time = FakeClock()
    em = Emulator(clock=lambda: NOW, faults=Faults(batch_qps=2), monotonic=time.monotonic)
    requests = [
        {"target": f"reg{i}", "platform": "android", "notification": {"alert": "hi"}}
        for i in range(3)
    ]

    async def go() -> Any:
        async with _client(em) as client:
            return await client.batch_push("regid", requests)

    result = run(go())
    assert [r.target for r in result.results.values() if r.success] == ["reg0", "reg1"]
    assert result.rate_limited_targets == ["reg2"]
    assert result.rate_limit_occurred
    assert len(em.pushes()) == 2


def test_inventory_over_real_http_stays_within_the_concurrency() -> None:
    """Over uvicorn, with several connection pools, the read completes and never has more
    requests in flight than --concurrency."""
    em, ids = _emulator(120, faults=Faults(latency_ms=2))
    with serve_emulator(em) as url:
        client = EngageLabClient(_settings(url, concurrency=12), sleep=FakeClock().sleep)
        inv = _inventory(client)
    assert inv.complete
    assert set(inv.schedules) == set(ids)
    assert 1 < client.max_in_flight <= 12
