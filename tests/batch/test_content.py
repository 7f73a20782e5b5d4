"""The pure side of test-send: what a batch request carries, refuses, leaves out (docs/api.md 6)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import UsageError
from reconciler.testsend.build import batch_platform, plan_send, prepare, refusal_reasons


def push(**body: Any) -> dict[str, Any]:
    """A schedule push with the given ``body`` keys (platform android unless given)."""
    body.setdefault("platform", "android")
    return {"to": "all", "body": body}


NOTE = {"alert": "Hi"}


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("android", "android"),
        ("ios", "ios"),
        ("all", "all"),
        ("hmos", "all"),
        (["ios"], "ios"),
        (["android"], "android"),
        (["android", "ios"], "all"),
        (["ios", "hmos"], "all"),
    ],
)
def test_platform_becomes_the_smallest_batch_platform_covering_it(
    platform: Any, expected: str
) -> None:
    """android and ios stay; hmos, all and several become all (docs/api.md 6 names three)."""
    assert batch_platform(platform) == expected


def test_notification_push_becomes_one_request_per_target() -> None:
    """Content, options and custom_args are copied into the request with target and platform."""
    p = push(platform="ios", notification=NOTE, options={"time_to_live": 60})
    p["custom_args"] = {"business": "info"}
    content = prepare(p, name="n")
    assert content.request("r1") == {
        "target": "r1",
        "platform": "ios",
        "notification": NOTE,
        "options": {"time_to_live": 60},
        "custom_args": {"business": "info"},
    }


def test_message_push_sends_the_message() -> None:
    """A push with only an in-app message sends ``message`` and no notification."""
    request = prepare(push(message={"msg_content": "m"}), name="n").request("r1")
    assert request["message"] == {"msg_content": "m"}
    assert "notification" not in request


def test_live_activity_is_refused() -> None:
    """A Live Activity cannot travel in a batch request: refused with the field named."""
    reasons = refusal_reasons(push(platform="ios", live_activity={"ios": {"event": "end"}}))
    assert len(reasons) == 1
    assert reasons[0].startswith("push.body.live_activity")


def test_voip_is_refused() -> None:
    """A VoIP push cannot travel in a batch request: refused with the field named."""
    reasons = refusal_reasons(push(platform="ios", voip={"k": "v"}))
    assert len(reasons) == 1
    assert reasons[0].startswith("push.body.voip")


def test_notification_and_message_together_are_refused_without_a_choice() -> None:
    """A batch request carries one of them; the reason says how to choose."""
    reasons = refusal_reasons(push(notification=NOTE, message={"msg_content": "m"}))
    assert len(reasons) == 1
    assert "--content" in reasons[0]


def test_content_choice_sends_the_chosen_part_and_notes_the_other() -> None:
    """--content message sends the message and lists the notification as left out."""
    content = prepare(
        push(notification=NOTE, message={"msg_content": "m"}), name="n", content="message"
    )
    assert content.kind == "message"
    assert "push.body.notification (--content message)" in content.ignored


def test_choosing_a_part_the_push_lacks_is_refused() -> None:
    """--content message on a notification-only push names the missing part."""
    assert refusal_reasons(push(notification=NOTE), "message") == [
        "--content message: the push has no message"
    ]


def test_custom_args_text_holding_a_json_object_is_sent_as_the_object() -> None:
    """custom_args may be text (docs/api.md 5); JSON object text becomes the object batches want."""
    p = push(notification=NOTE)
    p["custom_args"] = '{"business": "info"}'
    assert prepare(p, name="n").custom_args == {"business": "info"}


def test_custom_args_plain_text_is_refused() -> None:
    """Text that is not a JSON object cannot become the object a batch request needs."""
    p = push(notification=NOTE)
    p["custom_args"] = "push to you"
    assert [r.split(" ")[0] for r in refusal_reasons(p)] == ["push.custom_args"]


def test_audience_parts_are_left_out_with_notes() -> None:
    """to, from, request_id, big_push_duration and cid are not sent, each one noted."""
    p = push(
        notification=NOTE,
        options={"time_to_live": 60, "big_push_duration": 30, "cid": "c-1"},
    )
    p.update({"to": {"tag": ["vip"]}, "from": "push", "request_id": "r"})
    content = prepare(p, name="n")
    assert content.options == {"time_to_live": 60}
    assert [i.split(" ")[0] for i in content.ignored] == [
        "push.to",
        "push.from",
        "push.request_id",
        "options.big_push_duration",
        "options.cid",
    ]
    request = content.request("t")
    assert set(request) == {"target", "platform", "notification", "options"}


def test_options_holding_only_audience_keys_are_omitted() -> None:
    """When nothing is left of the options, the request carries no options key."""
    content = prepare(push(notification=NOTE, options={"cid": "c"}), name="n")
    assert "options" not in content.request("t")


def test_refusal_lists_every_reason_and_names_the_schedule() -> None:
    """All reasons come in one error before any call, so one fix round is enough."""
    p = push(platform="ios", live_activity={"ios": {"event": "end"}}, voip={"k": 1})
    p["custom_args"] = "text"
    with pytest.raises(UsageError) as caught:
        plan_send("score_update", p, "regid", [("r1", "--regid")])
    message = caught.value.message
    assert "'score_update' cannot be test-sent" in message
    for field_name in ("live_activity", "voip", "custom_args"):
        assert f"push.body.{field_name}" in message or f"push.{field_name}" in message
    assert "nothing was sent" in str(caught.value.hint)
