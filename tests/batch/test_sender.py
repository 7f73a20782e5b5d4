"""The batch sender against the emulator in-process: 23008 retries, bounded attempts, stops.

The emulator's target quota refills on a fake monotonic clock that the injected sleep moves, so
rate limiting and its backoff run without real waiting.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.emulator import Emulator, Faults
from reconciler.errors import (
    AmbiguousPushError,
    AuthError,
    RateLimitError,
    RequestRejectedError,
)
from reconciler.remote.client import EngageLabClient
from reconciler.testsend.build import build_batches, prepare
from reconciler.testsend.send import RetryPolicy, SendReport, send_batches
from tests.batch.helpers import NOW, batch_calls, client_for
from tests.kit.clock import FakeClock

PUSH = {"to": "all", "body": {"platform": "android", "notification": {"alert": "Hi"}}}


def batches_for(count: int) -> list[list[dict[str, Any]]]:
    return build_batches(prepare(PUSH, name="n"), [f"r{i:04d}" for i in range(count)])


def send(
    client: EngageLabClient,
    batches: list[list[dict[str, Any]]],
    clock: FakeClock | None = None,
    policy: RetryPolicy | None = None,
) -> SendReport:
    async def run() -> SendReport:
        async with client:
            return await send_batches(
                client,
                "regid",
                batches,
                policy=policy,
                sleep=(clock or FakeClock()).sleep,
            )

    return asyncio.run(run())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limited_emulator(clock: FakeClock, qps: float) -> Emulator:
    return Emulator(clock=lambda: NOW, monotonic=clock.monotonic, faults=Faults(batch_qps=qps))


def test_rate_limited_targets_are_retried_until_delivered(clock: FakeClock) -> None:
    """With a quota of 100 targets/s, 250 targets all arrive; only the 23008 ones are re-sent."""
    emulator = limited_emulator(clock, 100)
    report = send(client_for(emulator), batches_for(250), clock)
    assert report.all_delivered
    assert len({o.msg_id for o in report.outcomes}) == 250
    pushed = [p["target"] for p in emulator.pushes()]
    assert sorted(pushed) == sorted(f"r{i:04d}" for i in range(250))  # each exactly once
    assert report.calls == len(batch_calls(emulator)) > 1
    assert clock.sleeps  # it backed off rather than hammering


def test_backoff_doubles_up_to_its_cap() -> None:
    """Waits before retries grow 1, 2, 4, ... seconds and stop growing at max_delay."""
    policy = RetryPolicy(max_attempts=7, base_delay=1.0, max_delay=8.0)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_retries_stop_after_max_attempts(clock: FakeClock) -> None:
    """When the quota never refills, a target is sent max_attempts times, then reported."""
    emulator = limited_emulator(clock, 1)
    waits = FakeClock()  # waits that the emulator never sees
    report = send(client_for(emulator), batches_for(3), waits, RetryPolicy(max_attempts=3))
    assert not report.all_delivered
    assert report.calls == 3
    assert waits.sleeps == [1.0, 2.0]
    last = report.outcomes[-1]
    assert (last.status, last.error_code, last.attempts) == ("rate_limited", 23008, 3)
    assert "after 3 attempt(s)" in last.describe()


def test_wrong_credentials_stop_before_anything_is_sent() -> None:
    """A 21004 on batch 1 of 3 stops the run: one error, no later batch, nothing pushed."""
    emulator = Emulator(clock=lambda: NOW)
    client = client_for(emulator, secret="wrong-secret")
    report = send(client, batches_for(1200))
    assert isinstance(report.stopped, AuthError)
    assert report.stopped.code == 21004
    assert "batch 1 of 3" in report.stopped.message
    assert "nothing was sent" in report.stopped.message
    assert len(batch_calls(emulator)) == 1
    assert emulator.pushes() == []
    assert {o.status for o in report.outcomes} == {"not_sent"}


def scripted(*answers: httpx.Response) -> EngageLabClient:
    """A client whose server answers each call with the next of ``answers`` (the last repeats)."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    settings = ClientSettings(
        base_url="https://pushapi-sgp.engagelab.com",
        credentials=Credentials(app_key="x" * 24, master_secret="s"),
        rate_limit=1e6,
    )
    return EngageLabClient(
        settings, transport=httpx.MockTransport(handler), sleep=FakeClock().sleep
    )


def ok(*targets: str) -> httpx.Response:
    results = {t: {"target": t, "success": True, "msg_id": 7000 + i} for i, t in enumerate(targets)}
    return httpx.Response(200, json={"results": results})


def test_a_global_error_in_a_later_batch_keeps_earlier_deliveries() -> None:
    """23009 on batch 2 stops the run; batch 1's msg_ids stay reported, batch 3 is not sent."""
    denied = httpx.Response(400, json={"error": {"code": 23009, "message": "IP not allow-listed"}})
    batches = batches_for(1200)
    first = [str(r["target"]) for r in batches[0]]
    report = send(scripted(ok(*first), denied), batches)
    assert isinstance(report.stopped, RequestRejectedError)
    assert "allow-list" in report.stopped.message
    assert "500 target(s) of earlier batches were delivered" in report.stopped.message
    assert "allow-list" in str(report.stopped.hint)
    assert report.calls == 2
    assert report.delivered == 500
    assert report.outcomes[600].status == "not_sent"


def test_other_per_target_failures_are_reported_not_retried() -> None:
    """Only 23008 means "try again"; any other per-target error is final."""
    answer = httpx.Response(
        200,
        json={
            "results": {
                "r0000": {"target": "r0000", "success": True, "msg_id": 1},
                "r0001": {
                    "target": "r0001",
                    "success": False,
                    "error": {"code": 1011, "message": "Cannot find sending target"},
                },
            }
        },
    )
    report = send(scripted(answer), batches_for(2))
    assert report.calls == 1
    assert [o.status for o in report.outcomes] == ["delivered", "failed"]
    assert report.outcomes[1].describe() == "1011 Cannot find sending target"


def test_a_lost_answer_stops_and_marks_the_batch_unknown() -> None:
    """A 500 after sending may mean delivered: no re-send, the targets are marked unknown."""
    report = send(scripted(httpx.Response(500, text="oops")), batches_for(2))
    assert isinstance(report.stopped, AmbiguousPushError)
    assert report.calls == 1
    assert {o.status for o in report.outcomes} == {"unknown"}


def test_targets_missing_from_the_answer_are_unknown_not_resent() -> None:
    """A target the answer says nothing about may have been sent: never sent again."""
    report = send(scripted(ok("r0000")), batches_for(2))
    assert report.calls == 1
    assert report.outcomes[1].status == "unknown"


def test_a_whole_call_rate_limit_that_outlasts_the_client_stops_the_run() -> None:
    """HTTP 429 on every attempt: the client's own retries run out and the run stops, unsent."""
    report = send(scripted(httpx.Response(429, json={})), batches_for(2))
    assert isinstance(report.stopped, RateLimitError)
    assert "the server answered HTTP 429" in report.stopped.message
    assert "nothing was sent" in report.stopped.message
    assert {o.status for o in report.outcomes} == {"not_sent"}
