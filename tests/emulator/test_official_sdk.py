"""The vendor's own Python SDK (engagelab-apppush 0.1.1, unmodified) against the served emulator.

A client we did not write agrees with our wire format: every schedule call, msg-ids and a
batch push go through ``engagelab.Client(base_url=<emulator>)`` over real HTTP.
"""

from __future__ import annotations

import json

import engagelab
import pytest

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults


@pytest.fixture
def sdk(served_url: str, emulator: Emulator) -> engagelab.Client:
    return engagelab.Client(DEMO_APP_KEY, DEMO_MASTER_SECRET, base_url=served_url, timeout=5)


def task(name: str = "SDK weekly", *, platform: str = "android") -> engagelab.SchedulePushParam:
    return engagelab.SchedulePushParam(
        name=name,
        enabled=True,
        trigger=engagelab.ScheduleTrigger(
            periodical=engagelab.TriggerPeriodical(
                start="2027-01-01 00:00:00",
                end="2027-03-01 00:00:00",
                time="12:00:00",
                frequency=1,
                time_unit="WEEK",
                point=["MON"],
                zone_type=1,
            )
        ),
        push=engagelab.PushParam(
            from_="push",
            to=engagelab.PushTo(registration_id=["1a0018970ab49abda3e"]),
            body=engagelab.PushBody(
                platform=platform,
                notification=engagelab.NotificationMessage(
                    alert="Scheduled task from API",
                    android=engagelab.AndroidNotification(title="Hi", extras={"k": "v"}),
                    ios=engagelab.IOSNotification(alert="Hi", badge="+1", mutable_content=True),
                ),
                options=engagelab.Options(time_to_live=60),
            ),
            request_id="12345",
            custom_args={"Engagelab": "push to you"},
        ),
    )


def test_sdk_creates_a_schedule(sdk: engagelab.Client, emulator: Emulator) -> None:
    """``schedule.create`` returns the new id and name; the emulator holds the task."""
    result = sdk.schedule.create(task())
    assert result.name == "SDK weekly"
    assert [s["schedule_id"] for s in emulator.schedules()] == [result.schedule_id]


def test_sdk_lists_schedules(sdk: engagelab.Client) -> None:
    """``schedule.list`` parses count, pages and items."""
    created = sdk.schedule.create(task())
    page = sdk.schedule.list(1)
    assert (page.total_count, page.total_pages, page.page) == (1, 1, 1)
    assert page.schedules == [
        {"schedule_id": created.schedule_id, "name": "SDK weekly", "enabled": True}
    ]


def test_sdk_reads_a_schedule(sdk: engagelab.Client) -> None:
    """``schedule.get`` returns the one-element list with the body the SDK serialised."""
    created = sdk.schedule.create(task())
    [detail] = sdk.schedule.get(created.schedule_id)
    assert detail["schedule_id"] == created.schedule_id
    assert detail["trigger"]["periodical"]["time_unit"] == "WEEK"
    assert detail["push"]["from"] == "push"
    assert detail["push"]["body"]["notification"]["ios"]["mutable-content"] is True


def test_sdk_updates_a_schedule(sdk: engagelab.Client) -> None:
    """``schedule.update`` with a full body parses the stored schedule it gets back."""
    created = sdk.schedule.create(task())
    updated = sdk.schedule.update(created.schedule_id, task("SDK renamed", platform="ios"))
    assert updated.schedule_id == created.schedule_id
    assert updated.name == "SDK renamed"
    assert updated.push is not None
    assert updated.push["body"]["platform"] == "ios"


def test_sdk_reads_msg_ids(sdk: engagelab.Client, emulator: Emulator) -> None:
    """``schedule.get_msg_ids`` maps count and the JSON-string MsgIds after two firings."""
    created = sdk.schedule.create(task())
    emulator.advance(8 * 86400)  # Mondays 01-04 and 01-11
    result = sdk.schedule.get_msg_ids(created.schedule_id)
    assert result.count == 2
    assert result.msg_ids is not None
    assert [json.loads(m)["error"]["code"] for m in result.msg_ids] == [0, 0]


def test_sdk_deletes_a_schedule(sdk: engagelab.Client, emulator: Emulator) -> None:
    """``schedule.delete`` copes with the empty 200 body; the task is gone."""
    created = sdk.schedule.create(task())
    assert sdk.schedule.delete(created.schedule_id) is None
    assert emulator.schedules() == []


def test_sdk_parses_our_error_envelope(sdk: engagelab.Client) -> None:
    """A 404 answer becomes the SDK's ApiError with status 404 and code 28104."""
    with pytest.raises(engagelab.ApiError) as caught:
        sdk.schedule.get("no-such-id")
    assert caught.value.status_code == 404
    assert caught.value.error.code == 28104


def test_sdk_sees_validation_codes(sdk: engagelab.Client) -> None:
    """A create with ``enabled=False`` is refused with 400 / 28100 as the SDK reads it."""
    param = task()
    param.enabled = False
    with pytest.raises(engagelab.ApiError) as caught:
        sdk.schedule.create(param)
    assert (caught.value.status_code, caught.value.error.code) == (400, 28100)


def test_sdk_sends_a_batch_push(sdk: engagelab.Client, emulator: Emulator) -> None:
    """``push.batch_by_regid`` gets an integer msg_id per target."""
    notification = engagelab.NotificationMessage(
        android=engagelab.AndroidNotification(alert="Hi, Push!", title="Send to Android")
    )
    param = engagelab.BatchPushParam(
        requests=[
            engagelab.BatchPushRequest(target=t, platform="android", notification=notification)
            for t in ("registration_id_1", "registration_id_2")
        ]
    )
    result = sdk.push.batch_by_regid(param)
    assert set(result.results) == {"registration_id_1", "registration_id_2"}
    assert all(r.success and isinstance(r.msg_id, int) for r in result.results.values())
    assert result.rate_limit_info is None
    assert len(emulator.pushes()) == 2


def test_sdk_sends_a_batch_push_by_alias(sdk: engagelab.Client) -> None:
    """``push.batch_by_alias`` with a custom message succeeds for its target."""
    param = engagelab.BatchPushParam(
        requests=[
            engagelab.BatchPushRequest(
                target="user_alias_1",
                platform="all",
                message=engagelab.CustomMessage(msg_content="hello", title="t"),
                custom_args={"business": "info"},
            )
        ]
    )
    result = sdk.push.batch_by_alias(param)
    assert result.results["user_alias_1"].success is True


def one_batch() -> engagelab.BatchPushParam:
    notification = engagelab.NotificationMessage(
        android=engagelab.AndroidNotification(alert="Hi, Push!", title="Send to Android")
    )
    return engagelab.BatchPushParam(
        requests=[
            engagelab.BatchPushRequest(
                target="registration_id_1", platform="android", notification=notification
            )
        ]
    )


@pytest.mark.parametrize("code", [21038, 21043, 23009, 21009, 23008])
def test_sdk_sees_each_global_batch_error(
    sdk: engagelab.Client, emulator: Emulator, code: int
) -> None:
    """Each injected global batch error reaches the SDK as ApiError with HTTP 400 and its code;
    nothing was sent."""
    emulator.faults = Faults(batch_error=code)
    with pytest.raises(engagelab.ApiError) as caught:
        sdk.push.batch_by_regid(one_batch())
    assert (caught.value.status_code, caught.value.error.code) == (400, code)
    assert emulator.pushes() == []


def test_sdk_sees_the_page_shaped_rate_limit(sdk: engagelab.Client, emulator: Emulator) -> None:
    """rate_limit_shape "28100": the SDK gets ApiError 400 / 28100 "rate limit exceeded"."""
    emulator.faults = Faults(rate_limit=1, rate_limit_shape="28100")
    sdk.schedule.list(1)
    with pytest.raises(engagelab.ApiError) as caught:
        sdk.schedule.list(1)
    assert (caught.value.status_code, caught.value.error.code) == (400, 28100)
    assert "rate limit exceeded" in str(caught.value.error.message)


def test_sdk_sees_no_push_target(sdk: engagelab.Client, emulator: Emulator) -> None:
    """no_target_rate 1: a create reaches the SDK as ApiError 404 / 28105."""
    emulator.faults = Faults(no_target_rate=1.0)
    with pytest.raises(engagelab.ApiError) as caught:
        sdk.schedule.create(task())
    assert (caught.value.status_code, caught.value.error.code) == (404, 28105)
    assert emulator.schedules() == []
