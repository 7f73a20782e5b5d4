"""Credentials never leave the process in a message, a traceback, a log line or a repr."""

from __future__ import annotations

import base64
import logging
import traceback

import httpx
import pytest

from reconciler.errors import AmbiguousCreateError, AuthError, ReconcilerError

from .helpers import CANARY_KEY, CANARY_SECRET, Script, client_for, error, reply, run, schedule_body

TOKEN = base64.b64encode(f"{CANARY_KEY}:{CANARY_SECRET}".encode()).decode()
CANARIES = (CANARY_KEY, CANARY_SECRET, TOKEN)


def _leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def _everything_about(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc)]
    if isinstance(exc, ReconcilerError):
        parts.append(str(exc.hint))
    return "\n".join(parts)


def test_requests_carry_basic_auth_built_from_the_credentials() -> None:
    """The canary credentials really are sent (so the leak tests below can fail)."""
    script = Script([reply(200, {"total_count": 0, "total_pages": 0, "schedules": []})])
    run(client_for(script).list_schedules(1))
    assert script.requests[0].headers["Authorization"] == f"Basic {TOKEN}"


def test_a_server_echoing_the_credentials_is_scrubbed_from_the_error() -> None:
    """An error message that quotes AppKey and secret reaches the user with both masked."""
    answer = error(401, 28101, f"appkey {CANARY_KEY} / secret {CANARY_SECRET} / {TOKEN} rejected")
    with pytest.raises(AuthError) as info:
        run(client_for(Script([answer])).list_schedules(1))
    assert _leaks(_everything_about(info.value)) == []
    assert "appkey *** / secret *** / *** rejected" in info.value.message


def test_a_non_json_page_echoing_the_credentials_is_scrubbed() -> None:
    """A proxy page echoing the Authorization header is quoted with the token masked."""
    answer = httpx.Response(502, text=f"bad gateway; Authorization: Basic {TOKEN}")
    with pytest.raises(ReconcilerError) as info:
        run(client_for(Script([answer]), max_retries=0).list_schedules(1))
    assert _leaks(_everything_about(info.value)) == []


def test_chained_transport_errors_do_not_carry_credentials_into_tracebacks() -> None:
    """The full traceback of an ambiguous create (with its httpx cause) holds no credentials."""
    script = Script([httpx.ReadTimeout("timed out")])
    with pytest.raises(AmbiguousCreateError) as info:
        run(client_for(script).create_schedule(schedule_body()))
    assert info.value.__cause__ is not None
    assert _leaks(_everything_about(info.value)) == []


def test_client_repr_shows_where_not_who() -> None:
    """repr(client) shows the base URL and limits, not the credentials."""
    client = client_for(Script([reply(200)]))
    text = repr(client) + repr(client.settings)
    assert "pushapi-sgp.engagelab.com" in text
    assert _leaks(text) == []


def test_debug_log_shows_the_traffic_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG logging (``--debug``) each request is logged, never the Authorization header."""
    caplog.set_level(logging.DEBUG)
    script = Script(
        [
            error(503, 28203, f"overloaded for {CANARY_KEY}"),
            reply(200, {"total_count": 0, "total_pages": 0, "schedules": []}),
        ]
    )
    run(client_for(script).list_schedules(1))
    text = caplog.text
    assert "GET https://pushapi-sgp.engagelab.com/v4/schedules?page=1 -> 503" in text
    assert "GET https://pushapi-sgp.engagelab.com/v4/schedules?page=1 -> 200" in text
    assert "retrying GET /v4/schedules?page=1" in text
    assert "Authorization" not in text
    assert "Basic " not in text
    assert _leaks(text) == []
