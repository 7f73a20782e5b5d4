"""Error bodies map to the error tree; wrongly shaped answers are clear errors, not tracebacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.errors import (
    ApiError,
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
)
from tests.kit.clock import FakeClock

from .helpers import Script, client_for, error, reply, run, schedule_body


@pytest.mark.parametrize(
    ("answer", "cls", "code"),
    [
        (error(401, 28101, "basic auth failed"), AuthError, 28101),
        (error(401, 21004, "auth failed"), AuthError, 21004),
        (error(404, 28104, "schedule does not exist"), NotFoundError, 28104),
        (error(404, 28404, "not found"), NotFoundError, 28404),
        (error(404, 28105, "no push target"), RequestRejectedError, 28105),
        (error(400, 28100, "invalid parameter"), RequestRejectedError, 28100),
        (error(400, 28100, "Rate exceeded"), RateLimitError, 28100),
        (error(400, 28102, "push parameter missing"), RequestRejectedError, 28102),
        (error(400, 28103, "time parameter invalid"), RequestRejectedError, 28103),
        (reply(403, {"code": 21038, "message": "no push permission"}), RequestRejectedError, 21038),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else None,
)
def test_error_bodies_map_to_the_error_tree(answer: httpx.Response, cls: type, code: int) -> None:
    """Status and vendor code choose the class; status, code and message are kept."""
    with pytest.raises(ApiError) as info:
        run(client_for(Script([answer]), max_retries=0).get_schedule("s1"))
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.status == answer.status_code
    assert info.value.method == "GET"
    assert info.value.path == "/v4/schedules/s1"


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("rate limit exceeded", RateLimitError),
        ("API-Rate-Limit überschritten", RateLimitError),
        ("request exceeded the rate", RateLimitError),
        ("Too many requests", RateLimitError),
        ("big_push_duration exceeds the limit for the current send rate", RequestRejectedError),
        ("the rate of sending is invalid; limit it to 1 to 1000", RequestRejectedError),
        ("The schedule-task is invalid: separate sections are invalid", RequestRejectedError),
        ("generate failed: time_unit is invalid", RequestRejectedError),
    ],
)
def test_28100_is_a_rate_refusal_only_when_its_message_says_rate_limit(
    message: str, cls: type
) -> None:
    """400/28100 is both "invalid parameter" and "rate limit exceeded": the message tells them
    apart by "rate" next to "limit" or "exceed" (or "too many requests"), not by the letters
    r-a-t-e anywhere, nor by "rate" and "limit" far apart in a message about a parameter."""
    with pytest.raises(ApiError) as info:
        run(client_for(Script([error(400, 28100, message)]), max_retries=0).get_schedule("s1"))
    assert type(info.value) is cls


def test_a_400_28100_rate_refusal_is_backed_off_and_retried_not_a_bad_request() -> None:
    """The documented 400/28100 "rate limit exceeded" gets another attempt, after a wait, and
    slows the client; the create it refused is retried (nothing was created)."""
    created = reply(200, {"schedule_id": "n", "name": "weekly_digest"})
    script = Script([error(400, 28100, "rate limit exceeded"), created])
    clock = FakeClock()

    async def go() -> float:
        async with client_for(script, clock=clock, rate_limit=500.0) as client:
            await client.create_schedule(schedule_body())
            return client.rate

    rate = run(go())
    assert len(script.requests) == 2
    assert rate < 500.0
    assert max(clock.sleeps) > 0  # a backoff wait before the second attempt


def test_api_error_message_says_what_where_and_the_vendor_text() -> None:
    """One line: method, path, HTTP status, vendor code, vendor message."""
    script = Script([error(400, 28103, "time parameter invalid")])
    with pytest.raises(RequestRejectedError) as info:
        run(client_for(script).update_schedule("s1", schedule_body()))
    assert str(info.value) == "PUT /v4/schedules/s1: HTTP 400, code 28103: time parameter invalid"


def test_server_errors_after_the_budget_keep_status_and_code() -> None:
    """A 500/28200 that never clears is a ServerError with status 500 and code 28200."""
    with pytest.raises(ServerError) as info:
        run(client_for(Script([error(500, 28200, "internal")]), max_retries=1).list_schedules(1))
    assert (info.value.status, info.value.code) == (500, 28200)


def test_html_502_page_is_a_server_error_quoting_the_page_title() -> None:
    """A proxy's HTML error page becomes a readable ServerError, not a JSON traceback."""
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000
    answer = httpx.Response(502, text=page, headers={"Content-Type": "text/html"})
    with pytest.raises(ServerError) as info:
        run(client_for(Script([answer]), max_retries=0).list_schedules(1))
    message = info.value.message
    assert "HTTP 502" in message
    assert "text/html" in message
    assert "'502 Bad Gateway'" in message
    assert len(message) < 300
    assert info.value.code is None


def test_error_answer_without_the_documented_shape_is_still_a_clear_api_error() -> None:
    """An error body without {"error": {...}} keeps the status and quotes the body."""
    answer = reply(400, ["unexpected"])
    with pytest.raises(RequestRejectedError, match=r"unexpected error answer: \[\"unexpected\"\]"):
        run(client_for(Script([answer])).list_schedules(1))


def test_success_answer_that_is_not_json_is_malformed() -> None:
    """A 200 with a non-JSON body (a captive portal, a wrong endpoint) is MalformedResponseError."""
    answer = httpx.Response(200, text="success", headers={"Content-Type": "text/plain"})
    with pytest.raises(MalformedResponseError) as info:
        run(client_for(Script([answer])).list_schedules(1))
    assert "not JSON" in info.value.message
    assert "GET /v4/schedules?page=1" in info.value.message
    assert info.value.hint is not None


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"total_pages": 1, "page": 1, "schedules": []}, "'total_count' is missing"),
        ({"total_count": "3", "total_pages": 1, "schedules": []}, "'total_count' is a string"),
        ({"total_count": 1, "total_pages": 1, "schedules": {}}, "'schedules' is an object"),
        (
            {"total_count": 1, "total_pages": 1, "schedules": [{"schedule_id": "a", "name": "n"}]},
            "schedules[0]: malformed answer: 'enabled'",
        ),
    ],
    ids=["no-total", "string-total", "dict-rows", "row-without-enabled"],
)
def test_list_page_of_the_wrong_shape_names_the_field(body: dict[str, Any], what: str) -> None:
    """Each shape problem of a list page names the place and the field."""
    with pytest.raises(MalformedResponseError) as info:
        run(client_for(Script([reply(200, body)])).list_schedules(1))
    assert what in info.value.message


def test_detail_as_a_one_element_list_is_accepted() -> None:
    """The API answers a detail GET with a list holding one schedule (docs/api.md section 3)."""
    body = {"schedule_id": "s1", **schedule_body()}
    assert run(client_for(Script([reply(200, [body])])).get_schedule("s1")) == body


def test_detail_as_a_bare_object_is_accepted() -> None:
    """Some answers are a bare object; the client accepts both (docs/api.md section 3, decision)."""
    body = {"schedule_id": "s1", **schedule_body()}
    assert run(client_for(Script([reply(200, body)])).get_schedule("s1")) == body


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        ("just text", "expected a schedule (list or object)"),
        (42, "expected a schedule (list or object)"),
        ([], "a list of 0 schedules"),
        ([{"name": "a"}, {"name": "b"}], "a list of 2 schedules"),
        ([{"schedule_id": "other", "name": "a"}], "asked for schedule 's1', got 'other'"),
        ([{"schedule_id": "s1"}], "'name' is missing"),
    ],
    ids=["string", "number", "empty-list", "two", "wrong-id", "no-name"],
)
def test_detail_that_is_neither_list_nor_object_is_malformed(answer: Any, what: str) -> None:
    """A detail that is not one schedule (as list or object) is a clear MalformedResponseError."""
    with pytest.raises(MalformedResponseError) as info:
        run(client_for(Script([reply(200, answer)])).get_schedule("s1"))
    assert what in info.value.message


def test_msg_ids_are_decoded_into_typed_records() -> None:
    """Each MsgIds item is a JSON string; ts (epoch ms) becomes an aware UTC datetime."""
    items = [
        json.dumps(
            {
                "msg_id": "1088009",
                "error": {"code": 0, "message": ""},
                "needRetry": False,
                "ts": 1707278411611,
            }
        ),
        json.dumps(
            {
                "msg_id": 1088010,
                "error": {"code": 1011, "message": "Cannot find sending target"},
                "needRetry": True,
                "ts": 1707364811000,
            }
        ),
    ]
    # "count": 1 with two items, as in the vendor example: the list length wins (docs/api.md 3).
    answer = reply(200, {"count": 1, "MsgIds": items})
    records = run(client_for(Script([answer])).get_msg_ids("s1"))
    assert [r.msg_id for r in records] == ["1088009", "1088010"]
    assert records[0].executed_at == datetime(2024, 2, 7, 4, 0, 11, 611000, tzinfo=UTC)
    assert records[0].ok
    assert not records[1].ok
    assert (records[1].error_code, records[1].error_message) == (1011, "Cannot find sending target")
    assert records[1].need_retry


@pytest.mark.parametrize(
    ("item", "what"),
    [
        ("{not json", "MsgIds[0]: malformed answer: the item is not JSON"),
        (json.dumps({"msg_id": "1"}), "'ts' is missing or null"),
        (json.dumps({"msg_id": "1", "ts": 10**20}), "is not a usable time"),
        (json.dumps({"ts": 1707278411611}), "'msg_id' is missing or null"),
    ],
    ids=["not-json", "no-ts", "absurd-ts", "no-msg-id"],
)
def test_broken_msg_id_items_are_malformed(item: str, what: str) -> None:
    """A MsgIds item that does not decode to a firing record names the item and the field."""
    answer = reply(200, {"count": 1, "MsgIds": [item]})
    with pytest.raises(MalformedResponseError) as info:
        run(client_for(Script([answer])).get_msg_ids("s1"))
    assert what in info.value.message


def test_update_returns_the_stored_schedule() -> None:
    """PUT answers with the stored schedule; the full body went out as JSON."""
    stored = {"schedule_id": "s1", **schedule_body()}
    script = Script([reply(200, stored)])
    assert run(client_for(script).update_schedule("s1", schedule_body())) == stored
    assert json.loads(script.requests[0].content) == schedule_body()


def test_delete_accepts_an_empty_200() -> None:
    """DELETE answers 200 with an empty body (docs/api.md section 3)."""
    script = Script([reply(200)])
    run(client_for(script).delete_schedule("s1"))
    assert script.methods == ["DELETE"]
