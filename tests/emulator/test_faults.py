"""Fault injection: latency, server errors, rate limits, commit-then-timeout, list churn.

Sleeps are injected (``clock`` records them), and the rate buckets read ``clock.monotonic``, so no
test here waits for real except the one hang over real HTTP (a client timeout of 50 ms).
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator import ConnectionDropped, Emulator, Faults
from reconciler.testing import serve_emulator
from tests.emulator.helpers import AUTH, START, create, error_code, single
from tests.kit.clock import FakeClock


def test_faults_are_off_by_default(api: httpx.Client, emulator: Emulator, clock: FakeClock) -> None:
    """A default emulator neither sleeps nor fails."""
    for _ in range(20):
        assert api.get("/v4/schedules").status_code == 200
    assert clock.sleeps == []
    assert all(r.fault is None for r in emulator.request_log)


def test_latency_delays_every_api_request(
    api: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """latency_ms 30 sleeps 0.03 s before each API answer."""
    emulator.faults = Faults(latency_ms=30)
    api.get("/v4/schedules")
    api.post("/v4/schedules", json=single())
    assert clock.sleeps == [0.03, 0.03]


def test_jitter_stays_within_its_bound(
    api: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """latency 10 + jitter 20 sleeps between 10 and 30 ms, and not always the same."""
    emulator.faults = Faults(latency_ms=10, jitter_ms=20, seed=1)
    for _ in range(20):
        api.get("/v4/schedules")
    assert all(0.010 <= s <= 0.030 for s in clock.sleeps)
    assert len(set(clock.sleeps)) > 1


def test_control_plane_is_never_delayed(
    anon: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """Faults apply to the vendor API only, not to /_emulator/."""
    emulator.faults = Faults(latency_ms=30, error_rate=1.0)
    assert anon.get("/_emulator/clock").status_code == 200
    assert clock.sleeps == []


def test_error_rate_one_answers_500_or_503(api: httpx.Client, emulator: Emulator) -> None:
    """error_rate 1: every API request is 500/28200 or 503/28203, and both occur."""
    emulator.faults = Faults(error_rate=1.0, seed=4)
    seen = set()
    for _ in range(30):
        response = api.get("/v4/schedules")
        seen.add((response.status_code, error_code(response)))
    assert seen == {(500, 28200), (503, 28203)}


def test_server_error_applies_nothing(api: httpx.Client, emulator: Emulator) -> None:
    """An injected server error happens before the handler: a create creates nothing."""
    emulator.faults = Faults(error_rate=1.0)
    api.post("/v4/schedules", json=single())
    assert emulator.schedules() == []
    assert emulator.request_log[-1].fault == "error"


def test_error_rate_is_a_fraction(api: httpx.Client, emulator: Emulator) -> None:
    """error_rate 0.3 fails roughly 30 % of 400 requests (seeded, so exactly reproducible)."""
    emulator.faults = Faults(error_rate=0.3, seed=11)
    failures = sum(api.get("/v4/schedules").status_code >= 500 for _ in range(400))
    assert 80 <= failures <= 160


def test_rate_limit_answers_429_with_retry_after(api: httpx.Client, emulator: Emulator) -> None:
    """rate_limit 5: the 6th request within the same instant is 429 with Retry-After."""
    emulator.faults = Faults(rate_limit=5)
    statuses = [api.get("/v4/schedules").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = api.get("/v4/schedules")
    assert int(response.headers["retry-after"]) >= 1
    assert "error" in response.json()


def test_rate_limited_write_is_not_applied(api: httpx.Client, emulator: Emulator) -> None:
    """A create answered 429 creates nothing."""
    emulator.faults = Faults(rate_limit=1)
    create(api, single("first"))
    assert api.post("/v4/schedules", json=single("second")).status_code == 429
    assert [s["name"] for s in emulator.schedules()] == ["first"]


def test_rate_limit_refills_over_time(
    api: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """After 1/rate seconds a token is back and the next request passes."""
    emulator.faults = Faults(rate_limit=4)
    for _ in range(4):
        api.get("/v4/schedules")
    assert api.get("/v4/schedules").status_code == 429
    clock.now += 0.25
    assert api.get("/v4/schedules").status_code == 200


def test_rate_limit_does_not_apply_to_batch(api: httpx.Client, emulator: Emulator) -> None:
    """Batch push is limited per target (batch_qps), not by the schedule request rate."""
    emulator.faults = Faults(rate_limit=1)
    body = {"requests": [{"target": "t", "platform": "ios", "message": {"msg_content": "x"}}]}
    for _ in range(3):
        assert api.post("/v4/batch/push/regid", json=body).status_code == 200


# ----------------------------------------------------------------------------- commit then time out


def test_dropped_answer_is_a_transport_error_after_commit(
    api: httpx.Client, emulator: Emulator, transport_kind: str
) -> None:
    """hang_seconds 0 drops the answer: the client sees a transport error; the write happened."""
    emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=0)
    expected = ConnectionDropped if transport_kind == "asgi" else httpx.TransportError
    with pytest.raises(expected):
        api.post("/v4/schedules", json=single("committed"))
    assert [s["name"] for s in emulator.schedules()] == ["committed"]
    assert emulator.request_log[-1].fault == "drop"
    assert emulator.request_log[-1].status == 200


def test_hang_delays_the_answer_of_a_committed_write(
    api: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """hang_seconds 45: the delete is applied, then the answer waits 45 s (injected sleep)."""
    sid = create(api, single())
    emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=45)
    response = api.delete(f"/v4/schedules/{sid}")
    assert response.status_code == 200
    assert clock.sleeps == [45]
    assert emulator.schedules() == []


def test_commit_fault_spares_reads_and_failed_writes(api: httpx.Client, emulator: Emulator) -> None:
    """Reads and rejected writes are answered normally even at commit_then_timeout_rate 1."""
    emulator.faults = Faults(commit_then_timeout_rate=1.0, hang_seconds=0)
    assert api.get("/v4/schedules").status_code == 200
    assert api.post("/v4/schedules", json={"name": "x"}).status_code == 400


def test_hang_over_real_http_times_the_client_out() -> None:
    """Over uvicorn, a hang longer than the client's timeout is a ReadTimeout, and committed."""
    em = Emulator(
        clock=FakeClock(START).wall,
        faults=Faults(commit_then_timeout_rate=1.0, hang_seconds=0.3),
    )
    with serve_emulator(em) as url, httpx.Client(base_url=url, auth=AUTH, timeout=0.05) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.post("/v4/schedules", json=single("late"))
        assert [s["name"] for s in em.schedules()] == ["late"]


# ----------------------------------------------------------------------------- churn


def test_churn_changes_the_list_between_pages(api: httpx.Client, emulator: Emulator) -> None:
    """churn_per_page 3: after a page read, churn_* tasks were created or deleted."""
    for i in range(60):
        emulator.add_schedule(single(f"mine_{i:02d}"))
    emulator.faults = Faults(churn_per_page=3, seed=2)
    first = api.get("/v4/schedules", params={"page": 1}).json()
    second = api.get("/v4/schedules", params={"page": 1}).json()
    assert first["total_count"] == 60
    assert second["total_count"] != 60
    assert any(s["name"].startswith("churn_") for s in emulator.schedules())


def test_churn_never_touches_other_tasks(api: httpx.Client, emulator: Emulator) -> None:
    """Churn creates and deletes only its own ``churn_*`` tasks."""
    mine = {emulator.add_schedule(single(f"mine_{i:02d}")) for i in range(10)}
    emulator.faults = Faults(churn_per_page=5, seed=9)
    for _ in range(20):
        api.get("/v4/schedules")
    remaining = {s["schedule_id"] for s in emulator.schedules() if s["name"].startswith("mine_")}
    assert remaining == mine


def test_churn_respects_the_active_limit(api: httpx.Client, emulator: Emulator) -> None:
    """At the limit churn only deletes, so the count never exceeds max_active."""
    emulator.max_active = 5
    for i in range(5):
        emulator.add_schedule(single(f"mine_{i}"))
    emulator.faults = Faults(churn_per_page=4, seed=1)
    for _ in range(10):
        assert api.get("/v4/schedules").json()["total_count"] <= 5


# ----------------------------------------------------------------------------- Faults values


def test_faults_reject_impossible_values() -> None:
    """Rates outside 0..1, negative latencies and zero limits are refused at construction."""
    for bad in ({"error_rate": 1.5}, {"latency_ms": -1}, {"rate_limit": 0}, {"churn_per_page": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Faults(**bad)  # type: ignore[arg-type]


def test_faults_round_trip_through_json() -> None:
    """``Faults.from_dict(f.to_dict()) == f``."""
    faults = Faults(latency_ms=5, error_rate=0.1, rate_limit=20, batch_qps=None, churn_per_page=2)
    assert Faults.from_dict(faults.to_dict()) == faults


def test_same_seed_same_faults() -> None:
    """Two emulators with the same fault seed make the same choices."""

    def outcomes() -> list[bool]:
        clock = FakeClock(START)
        em = Emulator(faults=Faults(error_rate=0.5, seed=42), sleep=clock.sleep, clock=clock.wall)
        return [em.dice.server_error() for _ in range(50)]

    assert outcomes() == outcomes()
