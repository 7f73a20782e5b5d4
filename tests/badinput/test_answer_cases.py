"""Malformed server answers: a message naming the request, and no write call after them.

A scripted server on 127.0.0.1 (``--endpoint``) answers like a healthy one-task app except for
one answer: an HTML error page, truncated JSON, a wrong shape, a missing field, a detail that is
neither a list nor an object, a page whose ``total_count`` is not a whole number... ``apply``
and, by turns, one more read command (plan, drift, import; all of them with
``RECONCILER_CAMPAIGN=full``), or ``history`` for msg-ids answers, must exit 1 with an
``error:`` message naming the request or the task, without a traceback, and the server must see
no POST, PUT or DELETE.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.remote.retries import RetryingTransport

from .answers import app_with, healthy_detail, healthy_page
from .conftest import FULL, commands_for, subprocess_cases
from .helpers import (
    STATE_PATH,
    Outcome,
    assert_clean_failure,
    assert_no_traceback,
    describe,
    invoke,
    run_module,
    valid_state_bytes,
)
from .server import TASK_ID, Answer, ScriptedServer, task_body
from .tally import tally

APPLY = ("apply", "--auto-approve")
OTHER_READS: tuple[tuple[str, ...], ...] = (("plan",), ("drift",), ("import", "--all-matching"))


def read_commands(case: str) -> list[tuple[str, ...]]:
    """``apply`` (the one that would write) and, by turns, one more read command per case;
    every read command for every case in the full campaign. The commands share one read path
    (``engine.observe``), and each run costs a client start-up."""
    return commands_for(case, [APPLY], OTHER_READS)


DEEP = b"[" * 100_000 + b"]" * 100_000


def _raw(body: bytes, status: int = 200, content_type: str = "application/json") -> Answer:
    return Answer(status, body, content_type)


def _page(**changes: object) -> Answer:
    data = healthy_page("remote_task")
    data.update(changes)
    return Answer.json(data)


def _row(**changes: object) -> Answer:
    data = healthy_page("remote_task")
    data["schedules"][0].update(changes)
    return Answer.json(data)


def _detail(wrap: bool = True, drop: str | None = None, **changes: object) -> Answer:
    body = task_body("remote_task")
    body.update(changes)
    if drop is not None:
        del body[drop]
    return Answer.json([body] if wrap else body)


HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

PAGE_CASES: dict[str, Answer] = {
    "html-page-200": _raw(HTML_PAGE, 200, "text/html"),
    "html-page-403": _raw(b"<html><title>Forbidden</title></html>", 403, "text/html"),
    "plain-text-401": _raw(b"Unauthorized", 401, "text/plain"),
    "empty-body-200": _raw(b""),
    "truncated-json": _raw(json.dumps(healthy_page("remote_task")).encode()[:40]),
    "invalid-utf8": _raw(b'{"total_count": "\xff\xfe"}'),
    "deep-nesting": _raw(DEEP),
    "huge-integer": _raw(b'{"total_count": ' + b"9" * 5000 + b', "total_pages": 1}'),
    "json-list": Answer.json([]),
    "json-null": Answer.json(None),
    "json-string": Answer.json("ok"),
    "total-count-string": _page(total_count="1"),
    "total-count-float": _page(total_count=1.0),
    "total-count-bool": _page(total_count=True),
    "total-count-null": _page(total_count=None),
    "total-count-negative": _page(total_count=-1),
    "total-count-absurd": _page(total_count=10**30),
    "total-pages-missing": Answer.json({"total_count": 1, "schedules": []}),
    "schedules-object": _page(schedules={"a": 1}),
    "schedules-string": _page(schedules="none"),
    "row-not-object": _page(schedules=["remote_task"]),
    "row-without-id": _row(schedule_id=None),
    "row-id-number": _row(schedule_id=5),
    "row-id-empty": _row(schedule_id=""),
    "row-id-path": _row(schedule_id="../../v4/schedules"),
    "row-name-number": _row(name=7),
    "row-enabled-string": _row(enabled="yes"),
    "row-name-lone-surrogate": _row(name="remote_task\ud800"),  # half a character
    "row-name-surrogate-bytes": _raw(
        json.dumps(healthy_page("remote_task"))
        .encode()
        .replace(b"remote_task", b"r\xed\xa0\x80", 1)
    ),
    "redirect-302": _raw(b"moved", 302, "text/html"),
    "status-299": _raw(b"", 299),
    "error-body-deep-400": _raw(DEEP, 400),
    "error-body-huge-integer-400": _raw(b'{"error": {"code": ' + b"9" * 5000 + b"}}", 400),
    "error-body-list-400": Answer.json(["error"], 400),
    "error-code-string-400": Answer.json({"error": {"code": "28100", "message": 5}}, 400),
}

DETAIL_CASES: dict[str, Answer] = {
    "html-page-200": _raw(HTML_PAGE, 200, "text/html"),
    "truncated-json": _raw(json.dumps(healthy_detail("remote_task")).encode()[:-10]),
    "deep-nesting": _raw(DEEP),
    "huge-integer": _raw(b'[{"name": "remote_task", "enabled": ' + b"9" * 5000 + b"}]"),
    "a-string": Answer.json("remote_task"),
    "a-number": Answer.json(42),
    "null": Answer.json(None),
    "true": Answer.json(True),
    "empty-list": Answer.json([]),
    "two-schedules": Answer.json(healthy_detail("remote_task") * 2),
    "list-of-string": Answer.json(["remote_task"]),
    "without-name": _detail(drop="name"),
    "name-number": _detail(name=7),
    "without-enabled": _detail(drop="enabled"),
    "enabled-string": _detail(enabled="true"),
    "other-schedule-id": _detail(schedule_id="00000000-0000-4000-8000-00000000ffff"),
    "without-trigger": _detail(drop="trigger"),
    "alert-lone-surrogate": _detail(
        push={"to": "all", "body": {"platform": "all", "notification": {"alert": "\udc00"}}}
    ),
    "trigger-string": _detail(trigger="tomorrow"),
    "trigger-two-kinds": _detail(
        trigger={"single": {"time": "2027-03-01 10:00:00", "zone_type": 1}, "intelligent": {}}
    ),
    "trigger-unknown-kind": _detail(trigger={"sometimes": {"when": "soon"}}),
    "trigger-single-list": _detail(trigger={"single": ["2027-03-01 10:00:00"]}),
    "without-push": _detail(drop="push"),
    "push-list": _detail(push=["all"]),
    "body-nested-600-deep": _detail(
        push={"to": "all", "body": {"extras": json.loads("[" * 600 + "]" * 600)}}
    ),
    "bare-object-without-trigger": _detail(wrap=False, drop="trigger"),
}

MSG_ID_CASES: dict[str, Answer] = {
    "html-page-200": _raw(HTML_PAGE, 200, "text/html"),
    "deep-nesting": _raw(DEEP),
    "a-list": Answer.json([]),
    "msg-ids-object": Answer.json({"count": 1, "MsgIds": {"a": 1}}),
    "item-not-json": Answer.json({"count": 1, "MsgIds": ["{not json"]}),
    "item-deep-json": Answer.json({"count": 1, "MsgIds": ["[" * 100_000 + "]" * 100_000]}),
    "item-huge-number": Answer.json({"count": 1, "MsgIds": ['{"ts": ' + "9" * 5000 + "}"]}),
    "item-without-ts": Answer.json({"count": 1, "MsgIds": ['{"msg_id": "1"}']}),
    "item-ts-string": Answer.json({"count": 1, "MsgIds": ['{"msg_id": "1", "ts": "now"}']}),
    "item-ts-absurd": Answer.json({"count": 1, "MsgIds": ['{"msg_id": "1", "ts": 1e300}']}),
    "item-error-string": Answer.json(
        {"count": 1, "MsgIds": ['{"msg_id": "1", "ts": 1707278411611, "error": "bad"}']}
    ),
    "item-without-msg-id": Answer.json({"count": 1, "MsgIds": ['{"ts": 1707278411611}']}),
}

# Answers to a test send's batch push (docs/api.md 6). The push itself is the write the command is
# for; what must not happen is a second one: an unusable answer leaves the outcome unknown and
# a re-send could push twice to real devices.
BATCH_CASES: dict[str, Answer] = {
    "html-page-200": _raw(HTML_PAGE, 200, "text/html"),
    "html-page-400": _raw(b"<html><title>Bad Request</title></html>", 400, "text/html"),
    "truncated-json": _raw(b'{"results": {"device-1": {"tar'),
    "deep-nesting": _raw(DEEP),
    "huge-integer": _raw(b'{"results": {"device-1": {"msg_id": ' + b"9" * 5000 + b"}}}"),
    "a-list": Answer.json([]),
    "results-list": Answer.json({"results": []}),
    "result-string": Answer.json({"results": {"device-1": "ok"}}),
    "success-string": Answer.json(
        {"results": {"device-1": {"target": "device-1", "success": "yes"}}}
    ),
    "success-without-msg-id": Answer.json(
        {"results": {"device-1": {"target": "device-1", "success": True}}}
    ),
    "failure-error-number": Answer.json(
        {"results": {"device-1": {"target": "device-1", "success": False, "error": 5}}}
    ),
    "no-results": Answer.json({}),
    "result-for-another-target": Answer.json(
        {"results": {"device-9": {"target": "device-9", "success": True, "msg_id": 1}}}
    ),
}

SLOW_CASES: dict[str, Answer] = {  # retried with backoff before failing: full campaign only
    "html-page-502": _raw(HTML_PAGE, 502, "text/html"),
    "html-page-503": _raw(b"<html><title>Service Unavailable</title></html>", 503, "text/html"),
}


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_malformed_list_page_stops_every_command(
    project: Path, scripted: tuple[ScriptedServer, str], case: str
) -> None:
    """A bad ``GET /v4/schedules`` answer: exit 1 naming the request, no write call."""
    app, url = scripted
    app.reset(app_with(page=PAGE_CASES[case]))
    for command in read_commands(case):
        outcome = invoke(["--endpoint", url, *command])
        assert_clean_failure(outcome, where=["GET /v4/schedules", "schedule id"])
    assert app.writes() == []
    tally("answer")


# Shapes the planner itself would trip over when the task is managed (compared, replaced,
# fire-guarded); the other cases fail in the client, whoever manages the task.
PLANNER_SHAPES = (
    "without-trigger",
    "trigger-string",
    "trigger-two-kinds",
    "trigger-unknown-kind",
    "trigger-single-list",
    "without-push",
    "push-list",
    "body-nested-600-deep",
)
DETAIL_PARAMS = [
    *(pytest.param(case, False, id=f"{case}-unmanaged") for case in sorted(DETAIL_CASES)),
    *(pytest.param(case, True, id=f"{case}-managed") for case in PLANNER_SHAPES),
]


@pytest.mark.parametrize(("case", "managed"), DETAIL_PARAMS)
def test_malformed_detail_stops_every_command(
    project: Path, scripted: tuple[ScriptedServer, str], case: str, managed: bool
) -> None:
    """A bad detail answer (for a managed or an unmanaged task): exit 1 naming the task."""
    app, url = scripted
    answer = DETAIL_CASES[case]
    if managed:
        (project / STATE_PATH).parent.mkdir(parents=True, exist_ok=True)
        (project / STATE_PATH).write_bytes(valid_state_bytes(url))
        answer = Answer(
            answer.status,
            answer.body.replace(b'"remote_task"', b'"weekly_digest"'),
            answer.content_type,
        )
    app.reset(app_with(detail=answer, managed=managed))
    for command in read_commands(case):
        outcome = invoke(["--endpoint", url, *command])
        assert_clean_failure(outcome, where=TASK_ID)
    assert app.writes() == []
    tally("answer")


@pytest.mark.parametrize("case", sorted(MSG_ID_CASES))
def test_malformed_msg_ids_stop_history(
    project: Path, scripted: tuple[ScriptedServer, str], case: str
) -> None:
    """``history`` on a bad msg-ids answer: exit 1 naming the request, no write call."""
    app, url = scripted
    app.reset(app_with(msg_ids=MSG_ID_CASES[case]))
    for fmt in ("text", "json") if FULL else ("text",):
        outcome = invoke(["--endpoint", url, "history", "--id", TASK_ID, "--format", fmt])
        assert_clean_failure(outcome, where=f"GET /v4/schedules/{TASK_ID}/msg-ids")
    assert app.writes() == []
    tally("answer")


@pytest.mark.parametrize("case", sorted(BATCH_CASES))
def test_malformed_batch_answer_stops_test_send_without_resending(
    project: Path, scripted: tuple[ScriptedServer, str], case: str
) -> None:
    """``test-send`` on a bad batch-push answer: exit 1 with a message, the batch sent once."""
    app, url = scripted
    healthy = app_with()
    answer = BATCH_CASES[case]

    def route(method: str, path: str, query: str) -> Answer:
        return answer if path.startswith("/v4/batch/") else healthy(method, path, query)

    app.reset(route)
    outcome = invoke(["--endpoint", url, "test-send", "weekly_digest", "--regid", "device-1"])
    assert_clean_failure(outcome, where=["batch", "not delivered"])
    if "may have been sent" in outcome.text:  # which targets are in doubt must be shown
        assert "device-1" in outcome.stdout, describe(outcome)
    assert [w.path for w in app.writes()] == ["/v4/batch/push/regid"], "re-sent a test push"
    tally("answer")


@pytest.mark.parametrize("case", sorted(SLOW_CASES))
def test_retried_error_pages_end_in_a_message(
    project: Path, scripted: tuple[ScriptedServer, str], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway's HTML 5xx page on every attempt: retried, then exit 1 naming the request.

    The back-offs are cut to a hundredth (they are not what is checked here, and waited out
    in full they took 15 s of the suite's budget)."""
    chosen = RetryingTransport._retry_delay

    def brief(self: RetryingTransport, attempt: int, retry_after: float | None) -> float | None:
        delay = chosen(self, attempt, retry_after)
        return None if delay is None else delay / 100

    monkeypatch.setattr(RetryingTransport, "_retry_delay", brief)
    app, url = scripted
    app.reset(app_with(page=SLOW_CASES[case]))
    outcome = invoke(["--endpoint", url, "apply", "--auto-approve"])
    assert_clean_failure(outcome, where="GET /v4/schedules")
    assert app.writes() == []
    assert len(app.seen) > 2, app.seen  # page 1 was tried again before the message
    tally("answer")


def test_the_healthy_app_is_planned_and_applied(
    project: Path, scripted: tuple[ScriptedServer, str]
) -> None:
    """Control: the unchanged scripted app plans fine and apply does write (so cases can fail)."""
    app, url = scripted
    app.reset(app_with())
    assert invoke(["--endpoint", url, "plan"]).exit_code == 0
    assert invoke(["--endpoint", url, "history", "--id", TASK_ID]).exit_code == 0
    outcome = invoke(["--endpoint", url, "apply", "--auto-approve"])
    assert outcome.exit_code == 0, outcome.text
    assert [w.method for w in app.writes()] == ["POST"]


@pytest.mark.parametrize(
    ("part", "case"),
    subprocess_cases(
        [("page", "deep-nesting"), ("detail", "without-trigger"), ("page", "html-page-200")]
    ),
)
def test_malformed_answer_as_a_subprocess(
    project: Path, scripted: tuple[ScriptedServer, str], part: str, case: str
) -> None:
    """``python -m reconciler apply`` fails cleanly on the same answers (real stderr)."""
    app, url = scripted
    if part == "page":
        app.reset(app_with(page=PAGE_CASES[case]))
    else:
        app.reset(app_with(detail=DETAIL_CASES[case]))
    outcome = run_module(["--endpoint", url, "apply", "--auto-approve"], cwd=project)
    assert_clean_failure(outcome, where=["GET /v4/schedules", TASK_ID])
    assert app.writes() == []
    tally("answer")


# Server text that test-send and history print: a target's error message, a msg_id, the
# message of an error answer, a gateway's page. Escape sequences and line breaks in it are
# printed harmless (whitespace as a space, other controls as \xNN): an OSC rewrites the
# terminal's title (or clipboard), a line "::error::..." is a GitHub Actions workflow command.
EVIL = "x\x1b]0;pwned\x07\n::error::forged"
SHOWN = "x\\x1b]0;pwned\\x07 ::error::forged"


def _result(**fields: object) -> Answer:
    return Answer.json({"results": {"device-1": {"target": "device-1", **fields}}})


# case -> (the batch push's answer, exit code)
ECHO_CASES: dict[str, tuple[Answer, int]] = {
    "failed-target-message": (
        _result(success=False, error={"code": 1011, "message": EVIL}),
        1,
    ),
    "delivered-msg-id": (_result(success=True, msg_id=EVIL), 0),
    "global-error-message": (Answer.json({"error": {"code": 21003, "message": EVIL}}, 400), 1),
    "error-page-400": (_raw(f"<html>{EVIL}</html>".encode(), 400, "text/html"), 1),
}


def _assert_printed_harmless(outcome: Outcome) -> None:
    assert_no_traceback(outcome)
    for raw in ("\x1b", "\x07"):
        assert raw not in outcome.text, describe(outcome)
    lines = outcome.text.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("::")], describe(outcome)
    assert SHOWN in outcome.text, describe(outcome)


@pytest.mark.parametrize("case", sorted(ECHO_CASES))
def test_server_text_in_a_test_send_is_printed_harmless(
    project: Path, scripted: tuple[ScriptedServer, str], case: str
) -> None:
    """``test-send`` prints what the batch answer says of each target, and the error that
    stopped it, with the server's control characters made harmless; the batch is sent once."""
    app, url = scripted
    healthy = app_with()
    answer, code = ECHO_CASES[case]

    def route(method: str, path: str, query: str) -> Answer:
        return answer if path.startswith("/v4/batch/") else healthy(method, path, query)

    app.reset(route)
    outcome = invoke(["--endpoint", url, "test-send", "weekly_digest", "--regid", "device-1"])
    assert outcome.exit_code == code, describe(outcome)
    _assert_printed_harmless(outcome)
    assert [w.path for w in app.writes()] == ["/v4/batch/push/regid"]


def test_server_text_in_history_is_printed_harmless(
    project: Path, scripted: tuple[ScriptedServer, str]
) -> None:
    """``history`` prints each execution's msg_id and error message harmless too."""
    app, url = scripted
    item = {"msg_id": EVIL, "ts": 1707278411611, "error": {"code": 1011, "message": EVIL}}
    app.reset(app_with(msg_ids=Answer.json({"count": 1, "MsgIds": [json.dumps(item)]})))
    outcome = invoke(["--endpoint", url, "history", "--id", TASK_ID])
    assert outcome.exit_code == 0, describe(outcome)
    _assert_printed_harmless(outcome)
    assert outcome.text.count(SHOWN) == 2, describe(outcome)
    assert app.writes() == []
