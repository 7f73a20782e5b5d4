"""pydantic models of the ``push`` object of a schedule (docs/api.md section 5).

Field lists follow docs/api.md and the vendor's SDK models (``engagelab-apppush`` 0.1.1). Keys the
API spells with hyphens (``content-available``) are aliases; the manifest uses the API's
spelling. ``extras``, ``custom_args``, ``third_party_channel`` and ``multi_language`` take any
keys; an unknown key anywhere else is an error.

Over 400 lines because it is one job done field for field: a model per object of the push
reference (audience, each platform's notification, message, Live Activity, options), each
with the checks its fields need, so that one object's rules are found in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from reconciler.limits import CONTENT_MAX_BYTES
from reconciler.manifests.base import JsonObject, StrictModel, describe, fail
from reconciler.planning.canonical import canonical_json

TAG_MAX_BYTES = 40
PLATFORMS = ("android", "ios", "hmos")
_CID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Tags of the discriminated unions below; pydantic puts them into error locations, and
# manifests.py drops them again because they are not keys of the YAML.
UNION_TAGS = frozenset({"all", "audience", "text", "object"})


def one_of(*kinds: type, what: str) -> BeforeValidator:
    """One clear error for a value of none of ``kinds`` (instead of one per union member)."""

    def check(value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            fail(f"must be {what}, got {describe(value)}")
        return value

    return BeforeValidator(check)


def _text_or_object(value: Any) -> str:
    # Called on YAML input when validating and on model instances when serialising.
    return "text" if isinstance(value, str) else "object"


TextOrObject = Annotated[str | JsonObject, one_of(str, dict, what="a string or a mapping")]


def _max_bytes(limit: int, what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value:
            fail(f"{what} must not be empty")
        size = len(value.encode("utf-8"))
        if size > limit:
            fail(
                f"{value!r} is {size} bytes in UTF-8; a {what} may have at most {limit} "
                "(docs/api.md 5)"
            )
        return value

    return check


AliasName = Annotated[str, AfterValidator(_max_bytes(TAG_MAX_BYTES, "alias"))]
TagName = Annotated[str, AfterValidator(_max_bytes(TAG_MAX_BYTES, "tag"))]
AliasList = Annotated[list[AliasName], Field(min_length=1)]
TagList = Annotated[list[TagName], Field(min_length=1)]
NonEmptyList = Annotated[list[str], Field(min_length=1)]


class Seg(StrictModel):
    """A user segment."""

    id: str


class Audience(StrictModel):
    """``push.to`` as an object: the union (OR) of the given targets (docs/api.md 5)."""

    registration_id: NonEmptyList | None = None
    alias: AliasList | None = None
    tag: TagList | None = None
    tag_and: TagList | None = None
    tag_not: TagList | None = None
    seg: Seg | None = None
    live_activity_id: str | None = None

    @model_validator(mode="after")
    def _some_target(self) -> Audience:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            fail(
                "needs at least one of registration_id, alias, tag, tag_and, tag_not, seg, "
                "live_activity_id, or write to: all (docs/api.md 5)"
            )
        return self


def _to_tag(value: Any) -> str:
    return "all" if isinstance(value, str) else "audience"


def _to(value: Any) -> Any:
    if (isinstance(value, str) and value != "all") or not isinstance(value, str | dict):
        fail(
            f'must be "all" or a mapping of targets (registration_id, alias, tag, tag_and, '
            f"tag_not, seg, live_activity_id), got {describe(value)} (docs/api.md 5)"
        )
    return value


To = Annotated[
    Annotated[Literal["all"], Tag("all")] | Annotated[Audience, Tag("audience")],
    Discriminator(_to_tag),
    BeforeValidator(_to),
]


def _platform(value: Any) -> Any:
    if isinstance(value, str):
        if value == "all" or value in PLATFORMS:
            return value
        fail(f'{value!r} is not a platform; use "all", "android", "ios" or "hmos" (docs/api.md 5)')
    if isinstance(value, list):
        if not value:
            fail('must not be an empty list; use "all" or some of android, ios, hmos')
        seen: list[str] = []
        for n, item in enumerate(value):
            if item not in PLATFORMS:
                fail(f"[{n}] {describe(item)} is not one of android, ios, hmos (docs/api.md 5)")
            if item in seen:
                fail(f"[{n}] {item} is listed twice")
            seen.append(item)
        return value
    fail(f'must be "all", "android", "ios", "hmos" or a list of them, got {describe(value)}')


Platform = Annotated[
    str | list[str],
    BeforeValidator(_platform),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": ["all", *PLATFORMS]},
                {"type": "array", "items": {"enum": list(PLATFORMS)}, "minItems": 1},
            ]
        }
    ),
]


class Intent(StrictModel):
    """Where a tap on the notification leads."""

    url: str


class AndroidNotification(StrictModel):
    """``push.body.notification.android``."""

    alert: TextOrObject | None = None
    title: str | None = None
    builder_id: int | None = None
    channel_id: str | None = None
    priority: int | None = None
    category: str | None = None
    style: int | None = None
    big_text: str | None = None
    inbox: JsonObject | None = None
    big_pic_path: str | None = None
    extras: JsonObject | None = None
    intent: Intent | None = None
    large_icon: str | None = None
    small_icon: str | None = None
    sound: str | None = None
    badge_add_num: int | None = None
    badge_set_num: int | None = None
    badge_class: str | None = None
    display_foreground: str | None = None
    group_id: str | None = None
    is_fold: StrictBool | None = None


class IosAlert(StrictModel):
    """``push.body.notification.ios.alert`` as an object (APNs alert dictionary)."""

    title: str | None = None
    subtitle: str | None = None
    body: str | None = None
    launch_image: str | None = Field(default=None, alias="launch-image")
    title_loc_key: str | None = Field(default=None, alias="title-loc-key")
    title_loc_args: list[str] | None = Field(default=None, alias="title-loc-args")
    subtitle_loc_key: str | None = Field(default=None, alias="subtitle-loc-key")
    subtitle_loc_args: list[str] | None = Field(default=None, alias="subtitle-loc-args")
    loc_key: str | None = Field(default=None, alias="loc-key")
    loc_args: list[str] | None = Field(default=None, alias="loc-args")


IosAlertField = Annotated[
    Annotated[str, Tag("text")] | Annotated[IosAlert, Tag("object")],
    Discriminator(_text_or_object),
    one_of(str, dict, what="a string or a mapping (title, subtitle, body)"),
]


def _badge(value: Any) -> Any:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value))
    ):
        fail(f'must be a number or an increment like "+1", got {describe(value)}')
    return value


class IosNotification(StrictModel):
    """``push.body.notification.ios``."""

    alert: IosAlertField | None = None
    sound: TextOrObject | None = None
    badge: Annotated[int | str, BeforeValidator(_badge)] | None = None
    content_available: StrictBool | None = Field(default=None, alias="content-available")
    mutable_content: StrictBool | None = Field(default=None, alias="mutable-content")
    category: str | None = None
    extras: JsonObject | None = None
    thread_id: str | None = Field(default=None, alias="thread-id")
    interruption_level: Literal["passive", "active", "time-sensitive", "critical"] | None = Field(
        default=None, alias="interruption-level"
    )


class HmosNotification(StrictModel):
    """``push.body.notification.hmos`` (HarmonyOS)."""

    alert: str | None = None
    title: str | None = None
    category: str | None = None
    large_icon: str | None = None
    intent: Intent | None = None
    badge_add_num: Annotated[int, Field(ge=1, le=99)] | None = None
    badge_set_num: Annotated[int, Field(ge=0, le=99)] | None = None
    test_message: StrictBool | None = None
    receipt_id: str | None = None
    extras: JsonObject | None = None
    style: int | None = None
    inbox_content: list[str] | None = None
    push_type: int | None = None
    extra_data: str | None = None
    display_foreground: str | None = None


class Notification(StrictModel):
    """``push.body.notification``: a notification shown by the system."""

    alert: TextOrObject | None = None
    android: AndroidNotification | None = None
    ios: IosNotification | None = None
    hmos: HmosNotification | None = None


class Message(StrictModel):
    """``push.body.message``: an in-app (custom) message."""

    msg_content: TextOrObject
    title: str | None = None
    content_type: str | None = None
    extras: JsonObject | None = None
    test_message: StrictBool | None = None
    receipt_id: str | None = None


class LiveActivityAlert(StrictModel):
    """``live_activity.ios.alert``."""

    title: str | None = None
    body: str | None = None
    sound: str | None = None


class LiveActivityIos(StrictModel):
    """``push.body.live_activity.ios``: an iOS Live Activity event."""

    event: Literal["start", "update", "end"]
    attributes_type: str | None = Field(default=None, alias="attributes-type")
    attributes: JsonObject | None = None
    content_state: JsonObject | None = Field(default=None, alias="content-state")
    alert: LiveActivityAlert | None = None
    dismissal_date: int | None = Field(default=None, alias="dismissal-date")
    stale_date: int | None = Field(default=None, alias="stale-date")
    relevance_score: int | float | None = Field(default=None, alias="relevance-score")
    apns_priority: int | None = Field(default=None, alias="apns-priority")


class LiveActivity(StrictModel):
    """``push.body.live_activity`` (iOS only)."""

    ios: LiveActivityIos


class Options(StrictModel):
    """``push.body.options``."""

    time_to_live: Annotated[int, Field(ge=0)] | None = None
    apns_production: StrictBool | None = None
    apns_collapse_id: str | None = None
    override_msg_id: int | None = None
    big_push_duration: Annotated[int, Field(ge=0, le=1440, description="minutes")] | None = None
    multi_language: JsonObject | None = None
    third_party_channel: JsonObject | None = None
    classification: int | None = None
    cid: str | None = None
    plan_id: str | None = None
    enhanc_message: StrictBool | None = None  # sic: the vendor's spelling
    auto_truncation: StrictBool | None = None
    voice_value: str | None = None

    @field_validator("cid")
    @classmethod
    def _cid(cls, value: str | None) -> str | None:
        if value is None:  # `cid: null` is no cid (field validators also see explicit nulls)
            return value
        if not _CID.fullmatch(value):
            fail(f"{value!r} must be 1 to 64 letters, digits, _ or - (docs/api.md 5)")
        return value


def _content_size(value: StrictModel) -> int:
    data = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return len(canonical_json(data).encode("utf-8"))


def _ios_only(platform: Any, what: str) -> None:
    if platform is not None and platform not in ("ios", ["ios"]):
        fail(f"{what} is iOS only: set platform: ios (docs/api.md 5)")


class PushBody(StrictModel):
    """``push.body``: platform, content and options."""

    platform: Platform
    notification: Notification | None = None
    message: Message | None = None
    live_activity: LiveActivity | None = None
    voip: JsonObject | None = None
    options: Options | None = None

    @field_validator("notification", "message")
    @classmethod
    def _content_limit(cls, value: StrictModel | None, info: ValidationInfo) -> StrictModel | None:
        if value is None:  # `notification: null` is no notification
            return value
        size = _content_size(value)
        if size > CONTENT_MAX_BYTES:
            fail(
                f"is {size} bytes as JSON; notification and message content may have at most "
                f"{CONTENT_MAX_BYTES} (docs/api.md 5)"
            )
        return value

    @field_validator("live_activity")
    @classmethod
    def _live_activity(
        cls, value: LiveActivity | None, info: ValidationInfo
    ) -> LiveActivity | None:
        if value is None:  # `live_activity: null` combines with anything
            return value
        others = [k for k in ("notification", "message") if info.data.get(k) is not None]
        if others:
            fail(f"cannot be combined with {' or '.join(others)} (docs/api.md 5)")
        _ios_only(info.data.get("platform"), "live_activity")
        return value

    @field_validator("voip")
    @classmethod
    def _voip(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is None:  # `voip: null` combines with anything
            return value
        others = [
            k for k in ("notification", "message", "live_activity") if info.data.get(k) is not None
        ]
        if others:
            fail(f"cannot be combined with {', '.join(others)}: voip goes alone (docs/api.md 5)")
        _ios_only(info.data.get("platform"), "voip")
        return value

    @model_validator(mode="after")
    def _some_content(self) -> PushBody:
        if all(
            getattr(self, k) is None for k in ("notification", "message", "live_activity", "voip")
        ):
            fail("needs one of notification, message, live_activity or voip (docs/api.md 5)")
        return self


class Push(StrictModel):
    """``push``: a full create-push body (docs/api.md 5)."""

    from_: str | None = Field(default=None, alias="from", description="sender label")
    to: To
    body: PushBody
    request_id: str | None = None
    custom_args: TextOrObject | None = None


__all__ = [
    "Audience",
    "Message",
    "Notification",
    "Options",
    "Push",
    "PushBody",
]
