"""Creates and batch pushes are never retried blindly: unknown outcomes are their own errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    AmbiguousCreateError,
    AmbiguousPushError,
    AuthError,
    RequestRejectedError,
    UsageError,
)
from reconciler.planning import canonical
from tests.kit.clock import FakeClock

from .helpers import Script, client_for, error, reply, run, schedule_body

CREATED = {"schedule_id": "3f1c0d6e-0000-4000-8000-000000000001", "name": "weekly_digest"}


def test_create_returns_the_new_id_and_name() -> None:
    """A 200 answer gives a CreatedSchedule; the body was sent as JSON."""
    script = Script([reply(200, CREATED)])
    created = run(client_for(script).create_schedule(schedule_body()))
    assert created.schedule_id == CREATED["schedule_id"]
    assert created.name == "weekly_digest"
    request = script.requests[0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.url.path == "/v4/schedules"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset by peer"),
        httpx.WriteError("broken pipe"),
        error(500, 28200, "internal error"),
        error(503, 28203, "schedule server timeout"),
        httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>"),
    ],
    ids=["read-timeout", "dropped", "reset", "write-error", "500", "503", "502-html"],
)
def test_create_with_unknown_outcome_is_ambiguous_and_sent_once(
    failure: httpx.Response | Exception,
) -> None:
    """Timeout, dropped connection or 5xx after sending: AmbiguousCreateError, one request."""
    script = Script([failure, reply(200, CREATED)])
    client = client_for(script)
    body = schedule_body()
    with pytest.raises(AmbiguousCreateError) as info:
        run(client.create_schedule(body))
    assert script.methods == ["POST"]
    assert client.stats.retries == 0
    assert info.value.name == "weekly_digest"
    assert info.value.fingerprint == canonical.fingerprint(body)
    assert "may or may not exist" in info.value.message


def test_create_past_the_clients_deadline_is_ambiguous() -> None:
    """A create whose answer takes longer than --timeout is ambiguous, never re-sent."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(1)
        return reply(200, CREATED)

    with pytest.raises(AmbiguousCreateError, match=r"no answer within 0\.02 s"):
        run(client_for(handler, timeout=0.02).create_schedule(schedule_body()))
    assert calls == 1


def test_create_with_2xx_but_no_id_is_ambiguous() -> None:
    """A success answer without a schedule_id: it probably exists, but we cannot know its id."""
    script = Script([reply(200, {"name": "weekly_digest"})])
    with pytest.raises(AmbiguousCreateError, match="no usable id"):
        run(client_for(script).create_schedule(schedule_body()))


def test_create_rejected_with_4xx_is_a_clean_rejection_not_retried() -> None:
    """A 400 answer means the server refused: RequestRejectedError, not ambiguity, one request."""
    script = Script([error(400, 28103, "time parameter invalid"), reply(200, CREATED)])
    with pytest.raises(RequestRejectedError) as info:
        run(client_for(script).create_schedule(schedule_body()))
    assert not isinstance(info.value, AmbiguousCreateError)
    assert info.value.code == 28103
    assert script.methods == ["POST"]


def test_create_refused_for_credentials_is_an_auth_error() -> None:
    """401 / 28101 on a create is a clean AuthError (nothing was created)."""
    script = Script([error(401, 28101, "basic auth failed")])
    with pytest.raises(AuthError):
        run(client_for(script).create_schedule(schedule_body()))
    assert len(script.requests) == 1


def test_create_is_retried_when_the_connection_was_never_made() -> None:
    """A refused connection cannot have reached the server, so a retry cannot duplicate."""
    script = Script([httpx.ConnectError("connection refused"), reply(200, CREATED)])
    created = run(client_for(script).create_schedule(schedule_body()))
    assert created.name == "weekly_digest"
    assert script.methods == ["POST", "POST"]


def test_create_is_retried_after_429_honouring_retry_after() -> None:
    """429 means "not processed, slow down": retrying it after Retry-After cannot duplicate."""
    clock = FakeClock()
    script = Script([error(429, 0, "slow down", headers={"Retry-After": "2"}), reply(200, CREATED)])
    run(client_for(script, clock=clock).create_schedule(schedule_body()))
    assert script.methods == ["POST", "POST"]
    assert clock.sleeps == [2.0]


def _batch(*targets: str) -> list[dict[str, Any]]:
    return [{"target": t, "platform": "android", "notification": {"alert": "hi"}} for t in targets]


def test_batch_push_results_separate_sent_and_rate_limited_targets() -> None:
    """A partial 23008 answer lists exactly the targets the caller may retry (docs/api.md 6)."""
    answer = {
        "results": {
            "r1": {"target": "r1", "success": True, "msg_id": 1088009},
            "r2": {
                "target": "r2",
                "success": False,
                "error": {"code": 23008, "message": "rate limited"},
            },
        },
        "rate_limit_info": {"message": "qps exceeded", "rate_limit_occurred": True},
    }
    script = Script([reply(200, answer)])
    result = run(client_for(script).batch_push("regid", _batch("r1", "r2", "r3")))
    assert result.results["r1"].msg_id == "1088009"
    assert result.rate_limited_targets == ["r2"]
    assert result.rate_limit_occurred is True
    assert result.unanswered == ("r3",)
    assert script.requests[0].url.path == "/v4/batch/push/regid"


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("timed out"), error(500, 28200, "internal")],
    ids=["timeout", "500"],
)
def test_batch_push_with_unknown_outcome_is_ambiguous_and_not_resent(
    failure: httpx.Response | Exception,
) -> None:
    """Re-sending a batch could push twice: an unknown outcome raises AmbiguousPushError."""
    script = Script([failure, reply(200, {"results": {}})])
    with pytest.raises(AmbiguousPushError) as info:
        run(client_for(script).batch_push("alias", _batch("a1", "a2")))
    assert info.value.targets == ("a1", "a2")
    assert len(script.requests) == 1


def test_batch_push_global_failure_is_a_clean_rejection() -> None:
    """21003 (400, parameter error) aborts the whole batch: a rejection, not ambiguity."""
    script = Script([error(400, 21003, "parameter invalid")])
    with pytest.raises(RequestRejectedError):
        run(client_for(script).batch_push("regid", _batch("r1")))
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("by", "requests", "match"),
    [
        ("regid", [], "1 to 500"),
        ("regid", _batch(*(f"r{i}" for i in range(501))), "1 to 500"),
        ("regid", _batch("r1", "r1"), "unique"),
        ("tag", _batch("r1"), "'regid' or 'alias'"),
    ],
    ids=["empty", "501", "duplicate", "bad-kind"],
)
def test_batch_push_refuses_impossible_batches_before_sending(
    by: Any, requests: list[dict[str, Any]], match: str
) -> None:
    """Batch size 1..500, unique targets, regid/alias only (docs/api.md 6): checked locally."""
    script = Script([reply(200, {"results": {}})])
    with pytest.raises(UsageError, match=match):
        run(client_for(script).batch_push(by, requests))
    assert script.requests == []
