"""Rules of the vendor pages the emulator once got wrong, each shown on the wire.

Every test runs twice through ``api``: over real HTTP (uvicorn on 127.0.0.1) and in-process
(``httpx.ASGITransport``). docs/emulator.md maps each rule of both pages to its test.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, Faults
from tests.emulator.helpers import (
    AUTH,
    START,
    at,
    create,
    error_code,
    intelligent,
    modified,
    periodical,
    single,
)

JSON_UTF8 = "application/json; charset=utf-8"


def nested(depth: int) -> dict[str, Any]:
    """A valid single schedule whose body nests ``depth`` levels (the root object is level 1).

    The chain hangs under ``push.body.notification.android.extras`` (level 6), which the
    vendor leaves open.
    """
    chain: dict[str, Any] = {}
    for _ in range(depth - 6):
        chain = {"k": chain}
    body = single("deep")
    body["push"]["body"]["notification"]["android"]["extras"] = chain
    return body


def batch_item(target: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"target": target, "platform": "ios", "message": {"msg_content": "x"}}
    out.update(extra)
    return out


def assert_envelope(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_UTF8
    assert error_code(response) == code, response.text
    assert isinstance(response.json()["error"]["message"], str)


# ----------------------------------------------------------------------------- rate limiting


def test_rate_limit_in_the_page_shape_is_400_28100(api: httpx.Client, emulator: Emulator) -> None:
    """rate_limit_shape "28100": over the budget a request is HTTP 400 / 28100 "rate limit
    exceeded" in the error envelope, without Retry-After, and a write is not applied."""
    emulator.faults = Faults(rate_limit=1, rate_limit_shape="28100")
    create(api, single("first"))
    response = api.post("/v4/schedules", json=single("second"))
    assert_envelope(response, 400, 28100)
    assert "rate limit exceeded" in response.json()["error"]["message"]
    assert "retry-after" not in response.headers
    assert [s["name"] for s in emulator.schedules()] == ["first"]
    assert emulator.request_log[-1].fault == "rate_limit"


def test_rate_limit_shape_429_is_the_default(api: httpx.Client, emulator: Emulator) -> None:
    """Without a shape the budget answers 429 with Retry-After (code 28100, same message)."""
    emulator.faults = Faults(rate_limit=1)
    api.get("/v4/schedules")
    response = api.get("/v4/schedules")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "rate limit exceeded" in response.json()["error"]["message"]


# ----------------------------------------------------------------------------- batch global errors


@pytest.mark.parametrize("code", [21038, 21043, 23009, 21009, 23008])
def test_batch_error_fault_refuses_the_whole_call(
    api: httpx.Client, emulator: Emulator, code: int
) -> None:
    """batch_error: the call answers HTTP 400 with the documented code, no results, nothing
    sent (a global error aborts the batch without partial results)."""
    emulator.faults = Faults(batch_error=code)
    response = api.post("/v4/batch/push/regid", json={"requests": [batch_item("t")]})
    assert_envelope(response, 400, code)
    assert "results" not in response.json()
    assert emulator.pushes() == []
    assert emulator.request_log[-1].fault == "batch_error"


def test_batch_error_21009_says_do_not_retry(api: httpx.Client, emulator: Emulator) -> None:
    """21009 carries the page's advice in its message: an internal error, not to be retried."""
    emulator.faults = Faults(batch_error=21009)
    response = api.post("/v4/batch/push/alias", json={"requests": [batch_item("a")]})
    assert "do not retry" in response.json()["error"]["message"]


def test_batch_error_rate_is_a_fraction(api: httpx.Client, emulator: Emulator) -> None:
    """batch_error_rate 0.5 refuses some calls and lets the others through (seeded)."""
    emulator.faults = Faults(batch_error=23009, batch_error_rate=0.5, seed=3)
    statuses = {
        api.post("/v4/batch/push/regid", json={"requests": [batch_item(f"t{i}")]}).status_code
        for i in range(20)
    }
    assert statuses == {200, 400}


def test_batch_error_comes_after_authentication(anon: httpx.Client, emulator: Emulator) -> None:
    """Wrong credentials are still 401 / 21004 while a batch error is switched on."""
    emulator.faults = Faults(batch_error=21038)
    response = anon.post(
        "/v4/batch/push/regid", json={"requests": [batch_item("t")]}, auth=("x" * 24, "wrong")
    )
    assert_envelope(response, 401, 21004)


def test_unknown_batch_error_code_is_refused() -> None:
    """Only the page's global codes can be injected: anything else is a ValueError."""
    with pytest.raises(ValueError, match="batch_error"):
        Faults(batch_error=28200)


# ----------------------------------------------------------------------------- malformed input

DEEP = 50_000


@pytest.mark.parametrize(
    ("path", "code"), [("/v4/schedules", 28100), ("/v4/batch/push/regid", 21015)]
)
def test_a_50000_deep_body_is_refused_in_the_envelope(
    api: httpx.Client, path: str, code: int
) -> None:
    """A body nested 50,000 levels answers 400 in the envelope (28100 / 21015), not 500."""
    raw = b"[" * DEEP + b"]" * DEEP
    assert_envelope(api.post(path, content=raw), 400, code)
    raw = b'{"a":' * DEEP + b"1" + b"}" * DEEP
    assert_envelope(api.post(path, content=raw), 400, code)


def test_a_50000_deep_update_is_refused(api: httpx.Client) -> None:
    """The same on PUT: 400 / 28100, the task unchanged."""
    sid = create(api, single())
    raw = b"[" * DEEP + b"]" * DEEP
    assert_envelope(api.put(f"/v4/schedules/{sid}", content=raw), 400, 28100)


def test_nesting_limit_is_128_levels(api: httpx.Client) -> None:
    """128 levels (more than any manifest can hold) are accepted, 129 refused with 28100."""
    assert api.post("/v4/schedules", json=nested(128)).status_code == 200
    assert_envelope(api.post("/v4/schedules", json=nested(129)), 400, 28100)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": NaN}',
        b'{"name": Infinity}',
        b'{"name": 1e400}',
        b'{"name": "\\ud800"}',
        b'{"\\udfff": 1}',
        b"\xff\xfe",
    ],
    ids=["nan", "infinity", "overflowing-float", "lone-surrogate", "surrogate-key", "not-utf8"],
)
def test_non_strict_json_is_28100(api: httpx.Client, emulator: Emulator, raw: bytes) -> None:
    """Text JSON does not allow (NaN, huge floats, lone surrogates) is refused with 28100
    before it could be stored and later fail to be echoed."""
    assert_envelope(api.post("/v4/schedules", content=raw), 400, 28100)
    assert emulator.schedules() == []


NON_ASCII_DIGITS: list[tuple[str, dict[str, Any]]] = [
    ("month-point-superscript", periodical(time_unit="month", point=["²1"])),
    ("month-point-fullwidth", periodical(time_unit="month", point=["０１"])),
    ("month-point-arabic-indic", periodical(time_unit="month", point=["٠١"])),
    ("single-time-fullwidth", single(time="２０２７-02-01 10:00:00")),
    ("periodical-start-fullwidth", periodical(start="２０２７-01-01 00:00:00")),
    ("periodical-end-fullwidth", periodical(end="2027-0３-01 00:00:00")),
    ("periodical-time-fullwidth", periodical(time="１２:00:00")),
    ("backup-time-fullwidth", intelligent(backup_time="2027-01-04 1１:00:00")),
]


@pytest.mark.parametrize(
    "body", [b for _, b in NON_ASCII_DIGITS], ids=[i for i, _ in NON_ASCII_DIGITS]
)
def test_only_ascii_digits_in_times_and_month_points(
    api: httpx.Client, emulator: Emulator, body: dict[str, Any]
) -> None:
    """ "yyyy-MM-dd HH:mm:ss", "HH:mm:ss" and "01".."31" take ASCII digits only: others are
    400 / 28103, never 500 and never accepted."""
    assert_envelope(api.post("/v4/schedules", json=body), 400, 28103)
    assert emulator.schedules() == []


def test_month_points_01_to_31_are_accepted(api: httpx.Client) -> None:
    """Every documented month point is accepted."""
    points = [f"{d:02d}" for d in range(1, 32)]
    create(api, periodical(time_unit="month", point=points))


@pytest.mark.parametrize("page", ["²", "１", "٣", "9" * 5000, "-1", "0", "1.0", " 1"])
def test_bad_page_numbers_are_28100(api: httpx.Client, page: str) -> None:
    """``page`` takes ASCII digits >= 1; anything else is 400 / 28100, not 500."""
    assert_envelope(api.get("/v4/schedules", params={"page": page}), 400, 28100)


def test_zone_type_must_be_an_integer(api: httpx.Client) -> None:
    """zone_type is typed Int: 1.0 is refused with 28100."""
    body = modified(single(), "trigger.single.zone_type", 1.0)
    assert_envelope(api.post("/v4/schedules", json=body), 400, 28100)


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        "   ",
        " ",
        "- -",
        "お知らせ",
        "공지",
        "Привет",
        "x²",
        "ＡＢＣ",
        "sale\u00a0two",
        "naïve",
    ],
)
def test_names_outside_the_documented_charset_are_refused(api: httpx.Client, name: str) -> None:
    """Japanese kana, Hangul, Cyrillic, superscripts, fullwidth and accented letters, a
    no-break space and a name of only spaces or hyphens answer 28100."""
    assert_envelope(api.post("/v4/schedules", json=single(name)), 400, 28100)


@pytest.mark.parametrize(
    "name", ["Spring_sale", "定时推送示例", "Timed Push Example_single", "a-b", "𠀀"]
)
def test_documented_names_are_accepted(api: httpx.Client, name: str) -> None:
    """ASCII letters, digits, "_", Chinese characters (Extension B too), spaces and hyphens."""
    create(api, single(name))


# ----------------------------------------------------------------------------- push / 28105


def test_missing_push_is_28102(api: httpx.Client) -> None:
    """A body without push answers 400 / 28102 "push param is nil or invalid"."""
    body = {k: v for k, v in single().items() if k != "push"}
    response = api.post("/v4/schedules", json=body)
    assert_envelope(response, 400, 28102)
    assert "push param is nil or invalid" in response.json()["error"]["message"]


def test_null_push_is_28102(api: httpx.Client) -> None:
    """push: null is "nil": 28102 too."""
    assert_envelope(api.post("/v4/schedules", json={**single(), "push": None}), 400, 28102)


def test_no_target_fault_answers_404_28105_on_create(api: httpx.Client, emulator: Emulator) -> None:
    """no_target_rate 1: a valid create answers 404 / 28105 with the page's message, and
    nothing is created."""
    emulator.faults = Faults(no_target_rate=1.0)
    response = api.post("/v4/schedules", json=single())
    assert_envelope(response, 404, 28105)
    assert "no push target for the scheduled time" in response.json()["error"]["message"]
    assert emulator.schedules() == []
    assert emulator.request_log[-1].fault == "no_target"


def test_no_target_fault_leaves_an_updated_task_unchanged(
    api: httpx.Client, emulator: Emulator
) -> None:
    """A PUT answered 28105 changes nothing: the task keeps its old body and stays listed."""
    sid = create(api, single("before"))
    emulator.faults = Faults(no_target_rate=1.0)
    assert_envelope(api.put(f"/v4/schedules/{sid}", json=single("after")), 404, 28105)
    assert [s["name"] for s in emulator.schedules()] == ["before"]


def test_no_target_fault_spares_invalid_bodies(api: httpx.Client, emulator: Emulator) -> None:
    """Validation comes first: an invalid body still gets its own code, not 28105."""
    emulator.faults = Faults(no_target_rate=1.0)
    assert_envelope(api.post("/v4/schedules", json=single("bad!")), 400, 28100)


# ----------------------------------------------------------------------------- batch items


def test_duplicate_cid_in_a_batch_is_21003(api: httpx.Client, emulator: Emulator) -> None:
    """Two requests with the same options.cid: 400 / 21003, nothing sent."""
    body = {
        "requests": [
            batch_item("a", options={"cid": "campaign_1"}),
            batch_item("b", options={"cid": "campaign_1"}),
        ]
    }
    assert_envelope(api.post("/v4/batch/push/regid", json=body), 400, 21003)
    assert emulator.pushes() == []


def test_distinct_cids_in_a_batch_are_accepted(api: httpx.Client) -> None:
    """Different cids (and requests without one) go through."""
    body = {
        "requests": [
            batch_item("a", options={"cid": "c1"}),
            batch_item("b", options={"cid": "c2"}),
            batch_item("c"),
        ]
    }
    assert api.post("/v4/batch/push/regid", json=body).status_code == 200


def test_batch_custom_args_as_text_is_21016(api: httpx.Client, emulator: Emulator) -> None:
    """custom_args is typed object on the batch page: a string answers 400 / 21016."""
    body = {"requests": [batch_item("a", custom_args='{"k": "v"}')]}
    assert_envelope(api.post("/v4/batch/push/regid", json=body), 400, 21016)
    assert emulator.pushes() == []


# ----------------------------------------------------------------------------- headers


def test_reads_and_errors_say_charset_utf8(api: httpx.Client) -> None:
    """List, detail, msg-ids and error answers: "application/json; charset=utf-8"; create and
    update answers "application/json", as the page shows them."""
    created = api.post("/v4/schedules", json=single())
    assert created.headers["content-type"] == "application/json"
    sid = created.json()["schedule_id"]
    for path in ("/v4/schedules", f"/v4/schedules/{sid}", f"/v4/schedules/{sid}/msg-ids"):
        assert api.get(path).headers["content-type"] == JSON_UTF8, path
    updated = api.put(f"/v4/schedules/{sid}", json=single("renamed"))
    assert updated.headers["content-type"] == "application/json"
    for response in (
        api.get("/v4/schedules/nope"),
        api.post("/v4/schedules", json={}),
        api.get("/v4/nowhere"),
        api.post("/v4/batch/push/regid", json={}),
    ):
        assert response.headers["content-type"] == JSON_UTF8


def test_every_answer_carries_the_emulated_date(api: httpx.Client, emulator: Emulator) -> None:
    """The Date header is the emulator's clock (not the machine's), once per answer, on API,
    error, fault and control-plane answers alike, and it follows advance."""
    expected = "Mon, 04 Jan 2027 09:00:00 GMT"
    emulator.faults = Faults(rate_limit=1)
    answers = [
        api.get("/v4/schedules"),
        api.get("/v4/schedules"),  # 429 from the fault layer
        api.get("/v4/schedules/nope"),
        api.get("/_emulator/clock"),
    ]
    for response in answers:
        assert response.headers.get_list("date") == [expected]
    emulator.faults = Faults()
    api.post("/_emulator/clock", json={"advance": 90061})
    later = api.get("/v4/schedules").headers["date"]
    assert parsedate_to_datetime(later) == START + timedelta(days=1, hours=1, minutes=1, seconds=1)


def test_date_on_a_delete_with_an_empty_body(api: httpx.Client) -> None:
    """The empty 200 of a delete carries Date too."""
    sid = create(api, single())
    response = api.delete(f"/v4/schedules/{sid}")
    assert response.content == b""
    assert parsedate_to_datetime(response.headers["date"]) == START


# ----------------------------------------------------------------------------- control plane


@pytest.mark.parametrize(
    "raw",
    [
        b'{"advance": 1e300}',
        b'{"advance": -1e12}',
        b'{"advance": -1}',
        b'{"advance": 1' + b"0" * 400 + b"}",
        b'{"advance": 1e400}',
        b'{"advance": NaN}',
        b'{"now": "9999-12-31T23:00:00+00:00"}',
        b'{"now": "0001-01-02T00:00:00+00:00"}',
        b'{"now": "9995-01-01T00:00:00+00:00"}',
    ],
    ids=[
        "advance-1e300",
        "advance-minus-1e12",
        "advance-negative",
        "advance-huge-int",
        "advance-overflowing-float",
        "advance-nan",
        "now-9999",
        "now-year-1",
        "now-past-clock-max",
    ],
)
def test_impossible_clock_moves_are_400_and_harmless(
    anon: httpx.Client, emulator: Emulator, raw: bytes
) -> None:
    """Out-of-range, negative or non-finite moves answer 400 with a reason; the clock stays,
    and the API keeps answering."""
    before = emulator.now()
    response = anon.post("/_emulator/clock", content=raw)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    assert emulator.now() == before
    assert anon.get("/_emulator/clock").status_code == 200
    assert anon.get("/v4/schedules", auth=AUTH).status_code == 200


def test_clock_cannot_go_back_while_tasks_exist(api: httpx.Client, emulator: Emulator) -> None:
    """With a task present, now before the current time is refused (and says why); after a
    reset the same request is accepted."""
    create(api, single())
    earlier = {"now": "2026-06-01T00:00:00+00:00"}
    refused = api.post("/_emulator/clock", json=earlier)
    assert refused.status_code == 400
    assert "only moves forward" in refused.json()["error"]["message"]
    assert emulator.now() == START
    api.post("/_emulator/reset")
    assert api.post("/_emulator/clock", json=earlier).status_code == 200
    assert emulator.now().year == 2026


def test_clock_near_the_top_of_its_range_still_works(api: httpx.Client, emulator: Emulator) -> None:
    """The last accepted date still serves creates, lists and firing without a 500."""
    assert (
        api.post("/_emulator/clock", json={"now": "9989-06-01T00:00:00+00:00"}).status_code == 200
    )
    sid = create(api, single(time="9989-06-01 03:00:00"))
    assert api.post("/_emulator/clock", json={"advance": 3 * 3600}).status_code == 200
    assert api.get(f"/v4/schedules/{sid}/msg-ids").json()["count"] == 1


def test_faults_refuse_non_finite_numbers(anon: httpx.Client, emulator: Emulator) -> None:
    """PUT /_emulator/faults with 1e400 (infinite) latency or a huge integer is 400."""
    for raw in (b'{"latency_ms": 1e400}', b'{"hang_seconds": 1' + b"0" * 400 + b"}"):
        response = anon.put("/_emulator/faults", content=raw)
        assert response.status_code == 400, response.text
    assert emulator.faults == Faults()


def test_faults_take_the_new_switches_as_json(anon: httpx.Client, emulator: Emulator) -> None:
    """rate_limit_shape, no_target_rate, batch_error and batch_error_rate round-trip."""
    wanted = {
        "rate_limit_shape": "28100",
        "no_target_rate": 0.5,
        "batch_error": 21009,
        "batch_error_rate": 0.25,
    }
    response = anon.put("/_emulator/faults", json=wanted)
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in wanted} == wanted
    bad = anon.put("/_emulator/faults", json={"rate_limit_shape": "418"})
    assert bad.status_code == 400


def test_deep_control_plane_body_is_400(anon: httpx.Client) -> None:
    """A 50,000-deep body on the control plane is a 400, not a 500."""
    raw = b"[" * DEEP + b"]" * DEEP
    assert anon.post("/_emulator/clock", content=raw).status_code == 400


def test_a_single_time_within_the_year_still_validates(api: httpx.Client) -> None:
    """The ASCII-only time parser still accepts the ordinary format (regression guard)."""
    create(api, single(time=at(timedelta(days=30))))
    body = json.loads(json.dumps(periodical(time_unit="week", point=["mon", "FRI"])))
    create(api, body)


# ----------------------------------------------------------------------------- vendor examples
# The page's own request bodies, verbatim but for the dates (moved into the emulator's window:
# the page's 2022/2024 dates are in the past for it).

VENDOR_PUSH: dict[str, Any] = {
    "from": "push",
    "to": {"registration_id": ["1a0018970ab49abda3e", "100d85590955c1d2793"]},
    "body": {
        "platform": "android",
        "notification": {
            "alert": "Scheduled task from API",
            "android": {"title": "Scheduled task from API", "extras": {"key1": "value1"}},
        },
        "options": {"time_to_live": 60},
    },
    "request_id": "12345",
    "custom_args": {"Engagelab": "push to you"},
}
VENDOR_PERIODICAL = {
    "start": "2027-01-01 00:00:00",
    "end": "2027-02-10 00:00:00",
    "time": "12:00:00",
    "time_unit": "day",
    "point": [],
    "zone_type": 1,
}
VENDOR_SCHEDULES = [
    (
        "single",
        {
            "name": "Timed Push Example_single",
            "enabled": True,
            "trigger": {"single": {"time": "2027-11-23 19:20:00", "zone_type": 1}},
            "push": VENDOR_PUSH,
        },
    ),
    (
        "periodical",
        {
            "name": "Timed Push Example_periodical",
            "enabled": True,
            "trigger": {"periodical": VENDOR_PERIODICAL},
            "push": VENDOR_PUSH,
        },
    ),
    (
        "intelligent",
        {
            "name": "Intelligent delivery",
            "enabled": True,
            "trigger": {"intelligent": {"backup_time": "2027-02-01 00:00:00"}},
            "push": VENDOR_PUSH,
        },
    ),
]


@pytest.mark.parametrize(
    "body", [b for _, b in VENDOR_SCHEDULES], ids=[i for i, _ in VENDOR_SCHEDULES]
)
def test_vendor_schedule_examples_are_accepted(api: httpx.Client, body: dict[str, Any]) -> None:
    """The page's three create examples are accepted and read back as sent."""
    sid = create(api, body)
    [detail] = api.get(f"/v4/schedules/{sid}").json()
    assert detail == {"schedule_id": sid, **body}


def test_vendor_update_examples(api: httpx.Client) -> None:
    """The page's "correct" updates (platform to iOS; end extended) succeed, its "wrong" ones
    (only the platform; only the end) are refused with 400."""
    sid = create(api, VENDOR_SCHEDULES[1][1])
    ios_push = copy.deepcopy(VENDOR_PUSH)
    ios_push["body"]["platform"] = "ios"
    ios_push["body"]["notification"] = {
        "alert": "API Terminal Scheduled Task",
        "ios": {"alert": {"title": "hello", "body": "welcome"}, "extras": {"key1": "value1"}},
    }
    right = {
        "name": "Scheduled Push Example",
        "enabled": True,
        "trigger": {"periodical": VENDOR_PERIODICAL},
        "push": ios_push,
    }
    assert api.put(f"/v4/schedules/{sid}", json=right).status_code == 200
    extended = modified(right, "trigger.periodical.end", "2027-03-10 00:00:00")
    assert api.put(f"/v4/schedules/{sid}", json=extended).json()["trigger"] == extended["trigger"]
    for wrong in (
        {"push": {"body": {"platform": "ios"}}},
        {"trigger": {"periodical": {"end": "2027-03-10 00:00:00"}}},
    ):
        assert api.put(f"/v4/schedules/{sid}", json=wrong).status_code == 400


def test_vendor_regid_batch_example_is_accepted(api: httpx.Client) -> None:
    """The batch page's registration-id example (builder_id, extras, apns_production,
    custom_args, an iOS "+1" badge) gets a msg_id per target."""
    body = {
        "requests": [
            {
                "target": "registration_id_1",
                "platform": "android",
                "notification": {
                    "android": {
                        "alert": "Hi, Push!",
                        "title": "Send to Android",
                        "builder_id": 1,
                        "extras": {"newsid": 321},
                    }
                },
                "options": {"time_to_live": 60, "apns_production": False},
                "custom_args": {"business": "info"},
            },
            {
                "target": "registration_id_2",
                "platform": "ios",
                "notification": {
                    "ios": {
                        "alert": "Hi, MTPush!",
                        "sound": "default",
                        "badge": "+1",
                        "extras": {"newsid": 321},
                    }
                },
                "options": {"time_to_live": 60, "apns_production": False},
            },
        ]
    }
    results = api.post("/v4/batch/push/regid", json=body).json()["results"]
    assert {t: r["success"] for t, r in results.items()} == {
        "registration_id_1": True,
        "registration_id_2": True,
    }
