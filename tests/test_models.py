"""The Schedule model on plain data: the canonical API body and the time context."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.manifests.messages import allowed_keys
from reconciler.manifests.models import (
    Schedule,
    manifest_json_schema,
    name_error,
    name_warning,
)
from reconciler.manifests.trigger import one_year_after
from reconciler.planning.canonical import canonical_json
from tests.kit import bodies

NOW = datetime(2026, 11, 25, tzinfo=UTC)
CONTEXT = {"now": NOW, "tz": ZoneInfo("UTC")}


def manifest(**changes: Any) -> dict[str, Any]:
    trigger = bodies.single("2027-03-01 09:00:00")
    return {**bodies.body("Spring_sale", trigger=trigger, alert="hi", sender=None), **changes}


def test_to_api_is_the_canonical_body_without_lifecycle() -> None:
    """to_api() is exactly the four sections, keys sorted, no lifecycle."""
    schedule = Schedule.model_validate(
        manifest(lifecycle={"prevent_destroy": True}), context=CONTEXT
    )
    assert canonical_json(schedule.to_api()) == (
        '{"enabled":true,"name":"Spring_sale","push":{"body":{"notification":{"alert":"hi"},'
        '"platform":"all"},"to":"all"},"trigger":{"single":{"time":"2027-03-01 09:00:00",'
        '"zone_type":1}}}'
    )
    assert schedule.protected is True


def test_to_api_is_byte_stable_across_key_order() -> None:
    """The same manifest written in another key order gives the same bytes."""
    a = Schedule.model_validate(manifest(), context=CONTEXT)
    b = Schedule.model_validate(dict(reversed(list(manifest().items()))), context=CONTEXT)
    assert canonical_json(a.to_api()) == canonical_json(b.to_api())


def test_to_api_sends_only_what_the_manifest_says() -> None:
    """Optional fields left out stay out (no defaults invented), the API key spelling kept."""
    data = manifest()
    data["push"]["from"] = "push"
    data["push"]["body"]["notification"]["ios"] = {"content-available": True}
    body = Schedule.model_validate(data, context=CONTEXT).to_api()
    assert body["push"]["from"] == "push"
    assert body["push"]["body"]["notification"]["ios"] == {"content-available": True}
    assert "request_id" not in body["push"]


def test_without_context_the_current_time_is_used() -> None:
    """Validation without a context still applies the one-year limit, from the real now."""
    soon = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    late = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%d %H:%M:%S")
    Schedule.model_validate(manifest(trigger={"single": {"time": soon, "zone_type": 2}}))
    with pytest.raises(ValidationError, match="more than one year ahead"):
        Schedule.model_validate(manifest(trigger={"single": {"time": late, "zone_type": 2}}))


def test_exactly_one_year_ahead_is_still_allowed() -> None:
    """The limit is inclusive: now + 1 year to the second passes, one second more fails."""
    ok = manifest(trigger={"single": {"time": "2027-11-25 00:00:00", "zone_type": 1}})
    Schedule.model_validate(ok, context=CONTEXT)
    over = manifest(trigger={"single": {"time": "2027-11-25 00:00:01", "zone_type": 1}})
    with pytest.raises(ValidationError):
        Schedule.model_validate(over, context=CONTEXT)


def test_one_year_after_29_february_is_28_february() -> None:
    """one_year_after never produces an invalid date."""
    assert one_year_after(datetime(2028, 2, 29, 12)) == datetime(2029, 2, 28, 12)


def test_models_are_immutable() -> None:
    """A validated schedule cannot be changed behind the canonical body's back."""
    schedule = Schedule.model_validate(manifest(), context=CONTEXT)
    with pytest.raises(ValidationError):
        schedule.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["Spring_sale", "春节_2027", "abc123"])
def test_clean_names_have_no_warning(name: str) -> None:
    """Documented characters raise no warning."""
    assert name_warning(name) is None


@pytest.mark.parametrize("name", ["Spring sale", "spring-sale"])
def test_a_name_warning_says_how_to_rename_an_applied_schedule(name: str) -> None:
    """ "prefer _" alone led a team to edit the name of an applied schedule: its task was then
    deleted and another created. The warning says to list the old name in
    lifecycle.previous_names, and still ends with the --strict mark."""
    warning = name_warning(name)
    assert warning is not None
    assert "lifecycle.previous_names" in warning
    assert warning.endswith("(an error under --strict)")


def test_allowed_keys_follow_aliases_and_unions() -> None:
    """The did-you-mean source lists API spellings, also below push.to (a union)."""
    assert "content-available" in (allowed_keys(("push", "body", "notification", "ios")) or [])
    assert allowed_keys(("push", "to")) == [
        "registration_id",
        "alias",
        "tag",
        "tag_and",
        "tag_not",
        "seg",
        "live_activity_id",
    ]
    assert allowed_keys(("push", "custom_args")) is None  # any key goes there


def test_json_schema_documents_every_top_level_key() -> None:
    """The schema describes name, enabled, trigger, push and lifecycle, nothing else."""
    schema = manifest_json_schema()
    assert set(schema["properties"]) == {"name", "enabled", "trigger", "push", "lifecycle"}
    assert schema["title"] == "EngageLab schedule manifest"


_NAME_ALPHABET = st.sampled_from(
    list("aZ09_ -.\t\n\\/\u4e2d\u3400\uf900\U00020001\u200e\U0001f600")
)


@given(st.text(_NAME_ALPHABET, max_size=12) | st.text(max_size=12))
def test_a_name_is_refused_exactly_for_the_characters_the_api_does_not_allow(name: str) -> None:
    """The whole-name match that spares the look at each character agrees with that look."""
    allowed = re.compile(
        r"[A-Za-z0-9_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
    )
    bad = {c for c in name if c not in " -" and not allowed.fullmatch(c)}
    error = name_error(name)
    if bad and len(name.encode()) <= 255:
        assert error is not None
        assert all(repr(c) in error for c in bad)
    elif not bad and name.strip(" -"):
        assert error is None
