"""Batch single push (docs/api.md 6): per-target results, partial rate limits, global errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, Faults
from tests.emulator.helpers import error_code
from tests.kit.clock import FakeClock


def item(target: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "target": target,
        "platform": "android",
        "notification": {"android": {"alert": "Hi, Push!", "title": "Send to Android"}},
    }
    out.update(extra)
    return out


@pytest.mark.parametrize("by", ["regid", "alias"])
def test_every_target_gets_an_integer_msg_id(api: httpx.Client, by: str) -> None:
    """Success: ``results`` keyed by target, each ``success: true`` with an integer msg_id."""
    response = api.post(f"/v4/batch/push/{by}", json={"requests": [item("t1"), item("t2")]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert set(results) == {"t1", "t2"}
    for target, result in results.items():
        assert result["target"] == target
        assert result["success"] is True
        assert isinstance(result["msg_id"], int)
    assert results["t1"]["msg_id"] != results["t2"]["msg_id"]
    assert "rate_limit_info" not in response.json()


def test_sent_pushes_are_recorded(api: httpx.Client, emulator: Emulator) -> None:
    """``Emulator.pushes()`` shows what was sent, by which endpoint, with which msg_id."""
    response = api.post("/v4/batch/push/alias", json={"requests": [item("bob")]})
    [sent] = emulator.pushes()
    assert sent["by"] == "alias"
    assert sent["target"] == "bob"
    assert sent["msg_id"] == response.json()["results"]["bob"]["msg_id"]
    assert sent["request"] == item("bob")


def test_vendor_example_is_accepted(api: httpx.Client) -> None:
    """The vendor's alias example (platform all, message-less, with options) succeeds."""
    body = {
        "requests": [
            {
                "target": "user_alias_1",
                "platform": "all",
                "notification": {
                    "android": {"alert": "Hi, Push!", "title": "Send to Android"},
                    "ios": {"alert": "Hi, MTPush!", "sound": "default"},
                },
                "options": {"time_to_live": 60, "apns_production": False},
            },
            {
                "target": "user_alias_2",
                "platform": "ios",
                "notification": {"ios": {"alert": "Hi", "badge": "+1", "extras": {"n": 321}}},
                "custom_args": {"business": "info"},
            },
        ]
    }
    assert api.post("/v4/batch/push/alias", json=body).status_code == 200


def test_message_instead_of_notification_is_accepted(api: httpx.Client) -> None:
    """A request may carry a custom ``message`` instead of a notification."""
    body = {"requests": [{"target": "t", "platform": "ios", "message": {"msg_content": "x"}}]}
    assert api.post("/v4/batch/push/regid", json=body).status_code == 200


def test_five_hundred_requests_are_accepted(api: httpx.Client) -> None:
    """500 requests is the documented maximum and is accepted."""
    body = {"requests": [item(f"t{i}") for i in range(500)]}
    assert len(api.post("/v4/batch/push/regid", json=body).json()["results"]) == 500


REJECTED: list[tuple[str, Any, int]] = [
    ("not-an-object", [item("t")], 21015),
    ("no-requests", {"request": [item("t")]}, 21015),
    ("requests-not-a-list", {"requests": item("t")}, 21015),
    ("empty", {"requests": []}, 21015),
    ("over-500", {"requests": [item(f"t{i}") for i in range(501)]}, 21015),
    ("duplicate-target", {"requests": [item("t"), item("t")]}, 21003),
    ("missing-target", {"requests": [{k: v for k, v in item("t").items() if k != "target"}]},
     21016),
    ("empty-target", {"requests": [item("")]}, 21016),
    ("missing-platform", {"requests": [{"target": "t", "notification": {"alert": "x"}}]}, 21016),
    ("platform-hmos", {"requests": [item("t", platform="hmos")]}, 21016),
    ("notification-and-message", {"requests": [item("t", message={"msg_content": "x"})]},
     21016),
    ("neither", {"requests": [{"target": "t", "platform": "ios"}]}, 21016),
    ("unknown-key", {"requests": [item("t", audience="all")]}, 21016),
    ("bad-options", {"requests": [item("t", options={"time_to_live": "1m"})]}, 21016),
    ("message-without-content", {"requests": [
        {"target": "t", "platform": "ios", "message": {"title": "x"}}]}, 21016),
    ("second-request-bad", {"requests": [item("ok"), item("bad", platform="web")]}, 21016),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in REJECTED],
                         ids=[i for i, _, _ in REJECTED])  # fmt: skip
def test_invalid_batch_is_a_global_error(
    api: httpx.Client, emulator: Emulator, body: Any, code: int
) -> None:
    """Each invalid batch answers 400 with its code, no ``results``, and sends nothing."""
    response = api.post("/v4/batch/push/regid", json=body)
    assert response.status_code == 400
    assert error_code(response) == code
    assert "results" not in response.json()
    assert emulator.pushes() == []


def test_body_that_is_not_json_is_21015(api: httpx.Client) -> None:
    """A batch body that is not JSON is a global 21015."""
    response = api.post("/v4/batch/push/regid", content=b"{not json")
    assert (response.status_code, error_code(response)) == (400, 21015)


def test_full_batch_of_large_notifications_is_accepted(api: httpx.Client) -> None:
    """500 requests with 3.5 KB notifications each (about 1.8 MB) are within the limits."""
    body = {"requests": [item(f"t{i}", notification={"alert": "x" * 3500}) for i in range(500)]}
    assert api.post("/v4/batch/push/regid", json=body).status_code == 200


def test_body_too_long_is_21015(api: httpx.Client, emulator: Emulator) -> None:
    """A batch body over 8 MiB is a global 21015 and sends nothing."""
    body = {"requests": [item("t", custom_args={"blob": "x" * (8 * 1024 * 1024)})]}
    response = api.post("/v4/batch/push/regid", json=body)
    assert (response.status_code, error_code(response)) == (400, 21015)
    assert emulator.pushes() == []


def test_targets_over_the_qps_budget_fail_with_23008(api: httpx.Client, emulator: Emulator) -> None:
    """With batch_qps 3, a batch of 5 succeeds for 3 targets; 2 fail with 23008, flagged."""
    emulator.faults = Faults(batch_qps=3)
    body = {"requests": [item(f"t{i}") for i in range(5)]}
    response = api.post("/v4/batch/push/regid", json=body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["rate_limit_info"]["rate_limit_occurred"] is True
    results = payload["results"]
    assert [results[f"t{i}"]["success"] for i in range(5)] == [True, True, True, False, False]
    assert results["t4"]["error"]["code"] == 23008
    assert "msg_id" not in results["t4"]
    assert [p["target"] for p in emulator.pushes()] == ["t0", "t1", "t2"]


def test_qps_budget_refills_with_time(
    api: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    """After a second the budget is back: retrying the failed targets succeeds."""
    emulator.faults = Faults(batch_qps=2)
    api.post("/v4/batch/push/regid", json={"requests": [item("a"), item("b"), item("c")]})
    clock.now += 1.0
    response = api.post("/v4/batch/push/regid", json={"requests": [item("c")]})
    assert response.json()["results"]["c"]["success"] is True
