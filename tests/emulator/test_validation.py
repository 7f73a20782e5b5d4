"""Wire validation of schedule bodies: every rule gets the documented code (docs/api.md 2, 4, 5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator
from tests.emulator.helpers import (
    DELETE,
    at,
    create,
    error_code,
    intelligent,
    modified,
    periodical,
    single,
)
from tests.kit.bodies import device_push

SINGLE = single()
PERIODICAL = periodical()

# (id, body, expected code): every body differs from a valid one in exactly one way.
REJECTED: list[tuple[str, Any, int]] = [
    ("body-is-a-list", [SINGLE], 28100),
    ("missing-name", modified(SINGLE, "name", DELETE), 28100),
    ("missing-enabled", modified(SINGLE, "enabled", DELETE), 28100),
    ("missing-trigger", modified(SINGLE, "trigger", DELETE), 28100),
    ("missing-push", modified(SINGLE, "push", DELETE), 28102),
    ("unknown-section", {**SINGLE, "lifecycle": {"prevent_destroy": True}}, 28100),
    ("empty-name", modified(SINGLE, "name", ""), 28100),
    ("name-not-string", modified(SINGLE, "name", 42), 28100),
    ("name-punctuation", modified(SINGLE, "name", "sale!"), 28100),
    ("name-over-255-bytes", modified(SINGLE, "name", "名" * 86), 28100),
    ("enabled-not-bool", modified(SINGLE, "enabled", "true"), 28100),
    ("enabled-false-on-create", modified(SINGLE, "enabled", False), 28100),
    ("trigger-empty", modified(SINGLE, "trigger", {}), 28100),
    (
        "trigger-two-kinds",
        modified(SINGLE, "trigger.periodical", PERIODICAL["trigger"]["periodical"]),
        28100,
    ),
    ("trigger-unknown-kind", modified(SINGLE, "trigger", {"cron": {}}), 28100),
    ("zone-type-3", modified(SINGLE, "trigger.single.zone_type", 3), 28100),
    ("zone-type-missing", modified(SINGLE, "trigger.single.zone_type", DELETE), 28100),
    ("zone-type-bool", modified(PERIODICAL, "trigger.periodical.zone_type", True), 28100),
    ("single-unknown-key", modified(SINGLE, "trigger.single.when", "x"), 28100),
    ("single-time-incomplete", modified(SINGLE, "trigger.single.time", "2027-01-04 12:00"), 28103),
    ("single-time-unpadded", modified(SINGLE, "trigger.single.time", "2027-1-4 12:00:00"), 28103),
    ("single-time-iso-t", modified(SINGLE, "trigger.single.time", "2027-01-04T12:00:00"), 28103),
    ("single-time-impossible",
     modified(SINGLE, "trigger.single.time", "2027-02-30 12:00:00"), 28103),
    ("single-time-past", modified(SINGLE, "trigger.single.time", at(-timedelta(minutes=1))), 28103),
    ("single-time-now", modified(SINGLE, "trigger.single.time", at(timedelta(0))), 28103),
    (
        "single-time-over-a-year",
        modified(SINGLE, "trigger.single.time", "2028-01-04 09:00:01"),
        28103,
    ),
    ("periodical-end-before-start", periodical(end="2026-12-31 00:00:00"), 28103),
    ("periodical-span-over-a-year", periodical(end="2028-01-01 00:00:01"), 28103),
    (
        "periodical-ended",
        periodical(start="2026-01-01 00:00:00", end="2027-01-04 09:00:00"),
        28103,
    ),
    ("periodical-time-with-date", periodical(time="2027-01-01 12:00:00"), 28103),
    ("periodical-time-12h", periodical(time="12:00"), 28103),
    ("periodical-time-25h", periodical(time="25:00:00"), 28103),
    ("periodical-unit-hour", periodical(time_unit="hour"), 28103),
    ("periodical-week-no-point", periodical(time_unit="week", point=[]), 28103),
    ("periodical-week-bad-point", periodical(time_unit="week", point=["MONDAY"]), 28103),
    ("periodical-month-int-point", modified(
        periodical(time_unit="month", point=["01"]), "trigger.periodical.point", [1]), 28103),
    ("periodical-month-unpadded", periodical(time_unit="month", point=["1"]), 28103),
    ("periodical-month-32", periodical(time_unit="month", point=["32"]), 28103),
    ("periodical-frequency-0", periodical(frequency=0), 28103),
    ("periodical-frequency-101", periodical(frequency=101), 28103),
    ("periodical-missing-start", modified(PERIODICAL, "trigger.periodical.start", DELETE), 28103),
    ("periodical-unknown-key", modified(PERIODICAL, "trigger.periodical.every", 2), 28100),
    ("intelligent-bad-backup", intelligent(backup_time="soon"), 28103),
    ("intelligent-backup-past", intelligent(backup_time="2027-01-01 00:00:00"), 28103),
    ("push-not-object", modified(SINGLE, "push", "all"), 28102),
    ("push-missing-to", modified(SINGLE, "push.to", DELETE), 28102),
    ("push-to-empty", modified(SINGLE, "push.to", {}), 28102),
    ("push-to-unknown-key", modified(SINGLE, "push.to", {"regid": ["x"]}), 28102),
    ("push-to-not-list", modified(SINGLE, "push.to", {"alias": "bob"}), 28102),
    ("push-tag-over-40-bytes", modified(SINGLE, "push.to", {"tag": ["t" * 41]}), 28102),
    ("push-unknown-key", modified(SINGLE, "push.audience", "all"), 28102),
    ("push-missing-body", modified(SINGLE, "push.body", DELETE), 28102),
    ("push-bad-platform", modified(SINGLE, "push.body.platform", "windows"), 28102),
    ("push-platform-all-in-list", modified(SINGLE, "push.body.platform", ["all"]), 28102),
    ("push-no-content", modified(SINGLE, "push.body.notification", DELETE), 28102),
    ("push-body-unknown-key", modified(SINGLE, "push.body.sms", {}), 28102),
    ("push-voip-combined", modified(
        single(), "push.body", {"platform": "ios", "voip": {}, "message": {"msg_content": "x"}}),
        28102),
    ("push-live-activity-android", modified(
        single(), "push.body", {"platform": "android", "live_activity": {"ios": {}}}), 28102),
    ("push-notification-over-4000-bytes", modified(
        SINGLE, "push.body.notification", {"alert": "x" * 4001}), 28102),
    ("push-notification-unknown-platform", modified(
        SINGLE, "push.body.notification", {"windows": {}}), 28102),
    ("push-ios-badge-word", modified(
        SINGLE, "push.body.notification", {"ios": {"alert": "a", "badge": "many"}}), 28102),
    ("push-hmos-badge-100", modified(
        SINGLE, "push.body.notification", {"hmos": {"alert": "a", "badge_set_num": 100}}),
        28102),
    ("push-message-no-content", modified(SINGLE, "push.body", {
        "platform": "all", "message": {"title": "t"}}), 28102),
    ("push-options-unknown", modified(SINGLE, "push.body.options", {"time_to_life": 60}), 28102),
    ("push-options-ttl-negative", modified(SINGLE, "push.body.options", {"time_to_live": -1}),
     28102),
    ("push-options-big-push-1441", modified(
        SINGLE, "push.body.options", {"big_push_duration": 1441}), 28102),
    ("push-options-cid-bad", modified(SINGLE, "push.body.options", {"cid": "a b"}), 28102),
    ("push-custom-args-list", modified(SINGLE, "push.custom_args", [1]), 28102),
]  # fmt: skip


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in REJECTED],
                         ids=[i for i, _, _ in REJECTED])  # fmt: skip
def test_invalid_create_is_rejected_with_its_code(
    api: httpx.Client, emulator: Emulator, body: Any, code: int
) -> None:
    """Each invalid body answers 400 with the documented code and creates nothing."""
    response = api.post("/v4/schedules", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == code, response.text
    assert emulator.schedules() == []


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("name-with-space-and-hyphen", single("Timed Push Example_single - v2")),
    ("name-cjk", single("定时推送示例")),
    ("name-255-bytes", single("名" * 85)),
    ("zone-type-2", single(zone_type=2)),
    ("single-exactly-one-year", modified(SINGLE, "trigger.single.time", "2028-01-04 09:00:00")),
    ("periodical-started-in-the-past", periodical(start="2026-06-01 00:00:00")),
    ("periodical-exactly-one-year", periodical(end="2028-01-01 00:00:00")),
    ("periodical-unit-upper-case", periodical(time_unit="WEEK", point=["mon", "Fri"])),
    ("periodical-month", periodical(time_unit="month", point=["01", "15", "31"])),
    ("periodical-day-point-absent", modified(PERIODICAL, "trigger.periodical.point", DELETE)),
    ("periodical-frequency-100", periodical(frequency=100)),
    ("intelligent-now", intelligent(backup_time="now")),
    ("intelligent-at-time", intelligent()),
    ("push-to-all", modified(SINGLE, "push.to", "all")),
    ("push-to-seg", modified(SINGLE, "push.to", {"seg": {"id": "s1"}})),
    ("push-platform-list", modified(SINGLE, "push.body.platform", ["android", "hmos"])),
    ("push-message-only", modified(SINGLE, "push.body", {
        "platform": "all", "message": {"msg_content": "x", "title": "t"}})),
    ("push-voip-alone", modified(SINGLE, "push.body", {"platform": "ios", "voip": {"k": 1}})),
    ("push-ios-badge-plus-one", modified(
        SINGLE, "push.body.notification", {"ios": {"alert": "a", "badge": "+1"}})),
    ("push-custom-args-string", modified(SINGLE, "push.custom_args", "push to you")),
    ("push-extras-pass-through", modified(
        SINGLE, "push.body.notification.android.extras", {"any": {"nested": [1, 2]}})),
    ("push-vendor-example", {**SINGLE, "push": {
        **device_push(), "request_id": "12345", "custom_args": {"Engagelab": "push to you"}}}),
]  # fmt: skip


@pytest.mark.parametrize("body", [b for _, b in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_valid_create_is_accepted(api: httpx.Client, body: dict[str, Any]) -> None:
    """Bodies at the edges of the rules (and the vendor's own examples) are accepted."""
    response = api.post("/v4/schedules", json=body)
    assert response.status_code == 200, response.text


def test_body_that_is_not_json_is_28100(api: httpx.Client) -> None:
    """A body that is not JSON: 400 / 28100 ("request data is not JSON")."""
    response = api.post(
        "/v4/schedules", content=b"name=x", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_code(response) == 28100


def test_empty_body_is_28100(api: httpx.Client) -> None:
    """An empty POST body is not JSON: 400 / 28100."""
    response = api.post("/v4/schedules", content=b"")
    assert response.status_code == 400
    assert error_code(response) == 28100


def test_body_too_long_is_28100(api: httpx.Client) -> None:
    """A body over 128 KiB is "body too long": 400 / 28100."""
    body = modified(SINGLE, "push.custom_args", {"blob": "x" * (130 * 1024)})
    response = api.post("/v4/schedules", json=body)
    assert response.status_code == 400
    assert error_code(response) == 28100
    assert "too long" in response.json()["error"]["message"]


def test_error_message_names_the_field(api: httpx.Client) -> None:
    """Messages say where: a bad periodical time_unit names trigger.periodical.time_unit."""
    response = api.post("/v4/schedules", json=periodical(time_unit="hour"))
    assert "trigger.periodical.time_unit" in response.json()["error"]["message"]


# ----------------------------------------------------------------------------- update rules


def test_partial_push_update_is_rejected(api: httpx.Client) -> None:
    """The vendor's "WRONG" example (only push.body.platform) is refused with 28100."""
    sid = create(api, periodical())
    response = api.put(f"/v4/schedules/{sid}", json={"push": {"body": {"platform": "ios"}}})
    assert response.status_code == 400
    assert error_code(response) == 28100


def test_partial_trigger_update_is_rejected(api: httpx.Client) -> None:
    """The vendor's other "WRONG" example (periodical with only ``end``) is refused (28100)."""
    sid = create(api, periodical())
    body = modified(periodical(), "trigger.periodical", {"end": "2027-03-10 00:00:00"})
    response = api.put(f"/v4/schedules/{sid}", json=body)
    assert response.status_code == 400
    assert error_code(response) == 28100


def test_partial_push_section_in_full_body_is_rejected(api: httpx.Client) -> None:
    """All four sections present but push lacks ``to``: refused with 28102."""
    sid = create(api, periodical())
    response = api.put(f"/v4/schedules/{sid}", json=modified(periodical(), "push.to", DELETE))
    assert response.status_code == 400
    assert error_code(response) == 28102


def test_rejected_update_leaves_the_task_unchanged(api: httpx.Client) -> None:
    """A refused PUT changes nothing."""
    sid = create(api, periodical())
    before = api.get(f"/v4/schedules/{sid}").json()
    api.put(f"/v4/schedules/{sid}", json={"push": {"body": {"platform": "ios"}}})
    assert api.get(f"/v4/schedules/{sid}").json() == before


def test_zone_type_change_is_refused(api: httpx.Client) -> None:
    """zone_type 1 -> 2 on update: 400 / 28100 (forces a replacement)."""
    sid = create(api, single(zone_type=1))
    response = api.put(f"/v4/schedules/{sid}", json=single(zone_type=2))
    assert response.status_code == 400
    assert error_code(response) == 28100
    assert "zone_type" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (single(), periodical()),
        (periodical(), single()),
        (single(), intelligent()),
        (intelligent(), periodical()),
    ],
    ids=["single-to-periodical", "periodical-to-single", "single-to-intelligent",
         "intelligent-to-periodical"],
)  # fmt: skip
def test_trigger_kind_change_is_refused(
    api: httpx.Client, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Changing the trigger kind on update: 400 / 28100 (forces a replacement)."""
    sid = create(api, before)
    response = api.put(f"/v4/schedules/{sid}", json=after)
    assert response.status_code == 400
    assert error_code(response) == 28100
    assert "kind" in response.json()["error"]["message"]


def test_update_may_disable(api: httpx.Client) -> None:
    """``enabled: false`` is refused on create but allowed on update."""
    sid = create(api, single())
    response = api.put(f"/v4/schedules/{sid}", json=modified(single(), "enabled", False))
    assert response.status_code == 200
    assert api.get("/v4/schedules").json()["schedules"][0]["enabled"] is False


def test_update_checks_time_rules_too(api: httpx.Client) -> None:
    """An update moving a single task into the past is 28103."""
    sid = create(api, single())
    body = modified(single(), "trigger.single.time", at(-timedelta(hours=1)))
    response = api.put(f"/v4/schedules/{sid}", json=body)
    assert response.status_code == 400
    assert error_code(response) == 28103
