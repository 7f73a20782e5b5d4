"""Retries of idempotent calls: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reconciler.errors import (
    ConnectionFailedError,
    NotFoundError,
    RateLimitError,
    RemoteError,
    RequestRejectedError,
    ServerError,
    ServerStormError,
)
from reconciler.remote.responses import CreatedSchedule
from reconciler.remote.retries import STORM_GIVE_UPS
from tests.kit.clock import FakeClock

from .helpers import Script, UpperRng, client_for, error, reply, run, schedule_body

PAGE = {"total_count": 0, "total_pages": 0, "page": 1, "schedules": []}
DETAIL = [{"schedule_id": "s1", **schedule_body()}]


def test_get_is_retried_after_a_503_and_the_retry_is_counted() -> None:
    """503/28203 ("retry later", docs/api.md section 4) is retried; stats count one retry."""
    script = Script([error(503, 28203, "schedule server timeout"), reply(200, PAGE)])
    client = client_for(script)
    page = run(client.list_schedules(1))
    assert page.total_count == 0
    assert len(script.requests) == 2
    assert client.stats.retries == 1
    assert client.stats.requests == 2


@pytest.mark.parametrize(
    "first",
    [
        error(500, 28200, "internal error"),
        error(429, 0, "too many requests"),
        error(400, 28100, "rate exceeded"),
        httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>"),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=["500-28200", "429", "400-28100-rate", "502-html", "connect", "read-timeout", "dropped"],
)
def test_transient_failures_of_a_read_are_retried(first: httpx.Response | Exception) -> None:
    """Connection errors, timeouts, 429, 5xx and "rate exceeded" get another attempt."""
    script = Script([first, reply(200, DETAIL)])
    body = run(client_for(script).get_schedule("s1"))
    assert body["name"] == "weekly_digest"
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("answer", "exc"),
    [
        (error(400, 28102, "push parameter invalid"), RequestRejectedError),
        (error(400, 28103, "time parameter invalid"), RequestRejectedError),
        (error(404, 28104, "schedule does not exist"), NotFoundError),
    ],
    ids=["28102", "28103", "404"],
)
def test_validation_errors_and_404_are_never_retried(answer: httpx.Response, exc: type) -> None:
    """A 4xx that is not about the rate means the request is wrong: one attempt only."""
    script = Script([answer, reply(200, DETAIL)])
    client = client_for(script)
    with pytest.raises(exc):
        run(client.update_schedule("s1", schedule_body()))
    assert len(script.requests) == 1
    assert client.stats.retries == 0


def test_backoff_doubles_up_to_its_cap_with_full_jitter_bounds() -> None:
    """Waits are drawn from [0, base * 2**(n-1)], capped at backoff_max (full jitter)."""
    clock = FakeClock()
    script = Script([error(500, 28200, "boom")] * 6 + [reply(200, PAGE)])
    client = client_for(
        script, clock=clock, rng=UpperRng(), max_retries=6, backoff_base=0.5, backoff_max=5.0
    )
    run(client.list_schedules(1))
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_comes_from_the_injected_rng() -> None:
    """Each wait is rng.uniform(0, cap): same seed, same waits, each within its cap."""
    clock = FakeClock()
    script = Script([error(503, 28203, "later")] * 3 + [reply(200, PAGE)])
    client = client_for(script, clock=clock, rng=random.Random(42), backoff_base=1.0)
    run(client.list_schedules(1))
    expected_rng = random.Random(42)
    expected = [expected_rng.uniform(0, cap) for cap in (1.0, 2.0, 4.0)]
    assert clock.sleeps == expected
    assert all(0 <= wait <= cap for wait, cap in zip(clock.sleeps, (1, 2, 4), strict=True))


def test_retry_after_in_seconds_is_a_floor_for_the_wait() -> None:
    """A 429 with Retry-After: 7 waits at least 7 s, whatever the jitter drew."""
    clock = FakeClock()
    script = Script([error(429, 0, "slow down", headers={"Retry-After": "7"}), reply(200, PAGE)])
    run(client_for(script, clock=clock).list_schedules(1))
    assert clock.sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    """Retry-After may be an HTTP date (RFC 9110); the wait reaches that moment."""
    clock = FakeClock()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script = Script([error(503, 28203, "later", headers={"Retry-After": when}), reply(200, PAGE)])
    run(client_for(script, clock=clock).list_schedules(1))
    assert 25 <= clock.sleeps[0] <= 31


@pytest.mark.parametrize(
    "value",
    ["1 Jan 99999999999 00:00:00", "Sun, 06 Nov 99999 08:49:37 GMT", "nan", "garbage", ""],
)
def test_a_retry_after_that_cannot_be_read_is_ignored(value: str) -> None:
    """A date past what the calendar holds (OverflowError in the date parser), or anything
    else unreadable, is no Retry-After: the ordinary backoff applies, no traceback."""
    clock = FakeClock()
    script = Script([error(429, 0, "slow down", headers={"Retry-After": value}), reply(200, PAGE)])
    run(client_for(script, clock=clock, rng=UpperRng(), backoff_base=0.5).list_schedules(1))
    assert clock.sleeps == [0.5]


@pytest.mark.parametrize(
    "headers",
    [[("Retry-After", "7"), ("Retry-After", "30")], [("Retry-After", "30, 7")]],
    ids=["two headers", "merged by a proxy"],
)
def test_retry_after_sent_twice_honours_the_longer_wait(headers: list[tuple[str, str]]) -> None:
    """Two Retry-After headers (two hops) are two values, not one "7, 30" that reads as none;
    nor is one header that a proxy merged them into."""
    clock = FakeClock()
    refusal = httpx.Response(
        429, json={"error": {"code": 0, "message": "slow down"}}, headers=headers
    )
    script = Script([refusal, reply(200, PAGE)])
    run(client_for(script, clock=clock).list_schedules(1))
    assert clock.sleeps == [30.0]


def test_retry_after_longer_than_allowed_gives_up_at_once_and_says_why() -> None:
    """A server asking for an hour's pause is not waited for: the error says how long it asked."""
    clock = FakeClock()
    script = Script([error(429, 0, "slow down", headers={"Retry-After": "3600"})])
    client = client_for(script, clock=clock, max_retry_after=60)
    with pytest.raises(RateLimitError) as info:
        run(client.list_schedules(1))
    assert clock.sleeps == []
    assert info.value.hint is not None
    assert "3600" in info.value.hint


def test_retries_stop_after_max_retries_with_the_last_error() -> None:
    """5 retries means 6 attempts; then the ServerError surfaces, saying it gave up."""
    script = Script([error(500, 28200, "boom")])
    client = client_for(script, max_retries=5)
    with pytest.raises(ServerError) as info:
        run(client.get_schedule("s1"))
    assert len(script.requests) == 6
    assert info.value.code == 28200
    assert info.value.hint is not None
    assert "gave up after 6 attempts" in info.value.hint


def test_connection_errors_surface_as_connection_failed_after_the_budget() -> None:
    """No answer at all, every time: ConnectionFailedError naming the host, not an httpx trace."""
    script = Script([httpx.ConnectError("connection refused")])
    with pytest.raises(ConnectionFailedError) as info:
        run(client_for(script, max_retries=2).list_schedules(1))
    assert "pushapi-sgp.engagelab.com" in info.value.message
    assert "ConnectError" in info.value.message
    assert len(script.requests) == 3


def test_the_client_wide_retry_budget_bounds_retries_across_requests() -> None:
    """With a budget of 2 + 0 per request, the third retry anywhere is refused."""
    script = Script([error(500, 28200, "boom")])
    client = client_for(script, max_retries=5, retry_budget_min=2, retry_budget_ratio=0.0)
    with pytest.raises(ServerError):
        run(client.get_schedule("s1"))
    assert client.stats.retries == 2
    assert len(script.requests) == 3


def test_a_server_refusing_everything_is_sent_no_more_requests_once_the_budget_is_spent() -> None:
    """Requests that give up in a row with the budget spent (STORM_GIVE_UPS of them) stop the
    client from sending more: the next request fails at once, saying why and that nothing was
    sent, instead of every remaining write being refused once at the pace's floor."""
    script = Script([error(429, 28100, "rate limit exceeded", headers={"Retry-After": "0"})])
    client = client_for(
        script, clock=FakeClock(), max_retries=5, retry_budget_min=2, retry_budget_ratio=0.0
    )

    async def go() -> list[BaseException]:
        failures: list[BaseException] = []
        async with client:
            for n in range(STORM_GIVE_UPS + 2):
                try:
                    await client.update_schedule(f"s{n}", schedule_body())
                except RemoteError as exc:
                    failures.append(exc)
        return failures

    failures = run(go())
    # 3 attempts of the first request (2 retries: the budget), then one each
    assert len(script.requests) == 3 + (STORM_GIVE_UPS - 1)
    assert [type(f) for f in failures] == [RateLimitError] * STORM_GIVE_UPS + [ServerStormError] * 2
    storm = failures[-1]
    assert isinstance(storm, ServerStormError)
    assert "PUT /v4/schedules/s4: not sent: the server refused or failed 3 requests in a row" in (
        str(storm)
    )
    assert storm.hint is not None
    assert "nothing was sent" in storm.hint


def test_an_answer_between_give_ups_keeps_the_client_sending() -> None:
    """Give-ups that are not in a row (an answer between them) never stop the client."""
    refusal = error(429, 28100, "rate limit exceeded", headers={"Retry-After": "0"})
    answers = ([refusal] * (STORM_GIVE_UPS - 1) + [reply(200, PAGE)]) * 4
    count = len(answers)
    script = Script(list(answers))
    client = client_for(
        script, clock=FakeClock(), max_retries=0, retry_budget_min=0, retry_budget_ratio=0.0
    )

    async def go() -> list[str]:
        outcomes: list[str] = []
        async with client:
            for _ in range(count):
                try:
                    await client.list_schedules(1)
                    outcomes.append("ok")
                except RateLimitError:
                    outcomes.append("refused")
        return outcomes

    assert run(go()) == (["refused"] * (STORM_GIVE_UPS - 1) + ["ok"]) * 4
    assert len(script.requests) == count


def test_delete_404_after_an_unknown_outcome_counts_as_deleted() -> None:
    """A DELETE that timed out may have worked: a 404 on its retry means it did."""
    script = Script([httpx.ReadTimeout("timed out"), error(404, 28104, "no such schedule")])
    run(client_for(script).delete_schedule("s1"))
    assert script.methods == ["DELETE", "DELETE"]


def test_delete_404_on_the_first_attempt_is_not_found() -> None:
    """Without an earlier unknown outcome, a 404 on delete is a NotFoundError for the caller."""
    script = Script([error(404, 28104, "no such schedule")])
    with pytest.raises(NotFoundError):
        run(client_for(script).delete_schedule("s1"))


def test_a_slow_answer_hits_the_clients_own_deadline_and_is_retried() -> None:
    """A server that does not answer within --timeout counts as a lost attempt (then retried)."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(1)
        return reply(200, PAGE)

    client = client_for(handler, timeout=0.02)
    run(client.list_schedules(1))
    assert calls == 2
    assert client.stats.transport_errors == 1


def test_before_send_runs_right_before_every_attempt_of_a_create() -> None:
    """The executor's hook (it stamps the journal again) runs once per attempt that leaves, after
    the wait for a refused one: a create refused once is stamped twice."""
    created = {"schedule_id": "new1", "name": "weekly_digest"}
    script = Script(
        [
            error(429, 28100, "rate limit exceeded", headers={"Retry-After": "3"}),
            reply(200, created),
        ]
    )
    clock = FakeClock()
    calls: list[tuple[float, int]] = []
    client = client_for(script, clock=clock)
    run(
        client.create_schedule(
            schedule_body(), before_send=lambda: calls.append((clock.now, len(script.requests)))
        )
    )
    assert calls == [(1000.0, 0), (1003.0, 1)]


def test_the_breaker_holds_back_requests_already_waiting_for_their_slot() -> None:
    """An apply starts all the creates of a phase at once: they all pass the start of their
    request before any refusal comes back. The breaker is checked again when each attempt gets
    its slot, so against a server refusing everything most of them are not sent."""
    sent: list[httpx.Request] = []

    async def refusing(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        await asyncio.sleep(0)  # an answer takes a turn of the loop: every task starts first
        return error(429, 28100, "rate limit exceeded", headers={"Retry-After": "0"})

    client = client_for(
        refusing,
        clock=FakeClock(),
        concurrency=4,
        max_retries=5,
        retry_budget_min=2,
        retry_budget_ratio=0.0,
    )

    async def go() -> list[BaseException | CreatedSchedule]:
        async with client:
            return await asyncio.gather(
                *(client.create_schedule(schedule_body(f"n{i}")) for i in range(60)),
                return_exceptions=True,
            )

    outcomes = run(go())
    held = [o for o in outcomes if isinstance(o, ServerStormError)]
    assert len(held) >= 50
    assert len(sent) <= 2 + STORM_GIVE_UPS + 4  # the budget, the give-ups, in flight


@pytest.mark.parametrize("between", [error(404, 28104, "no such"), error(400, 28102, "bad")])
def test_an_answer_that_is_not_a_refusal_breaks_the_run_of_give_ups(
    between: httpx.Response,
) -> None:
    """A 404 or a 400 between give-ups is an answer: the count starts again."""
    refusal = error(429, 28100, "rate limit exceeded", headers={"Retry-After": "0"})
    answers = [refusal, between] * 3 + [refusal, reply(200, PAGE)]
    script = Script(list(answers))
    client = client_for(
        script, clock=FakeClock(), max_retries=0, retry_budget_min=0, retry_budget_ratio=0.0
    )

    async def go() -> int:
        held = 0
        async with client:
            for _ in answers:
                try:
                    await client.get_schedule("s1")
                except ServerStormError:
                    held += 1
                except RemoteError:
                    pass
        return held

    assert run(go()) == 0
    assert len(script.requests) == len(answers)
