"""The canonical body: what both sides of a diff are reduced to before comparing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.planning.canonical import (
    canonical_json,
    canonicalize,
    fingerprint,
    trigger_kind,
    zone_type,
)
from tests.kit import bodies


def body(**trigger: Any) -> dict[str, Any]:
    return bodies.body(
        "n", trigger=trigger or bodies.single("2027-03-01 09:00:00"), alert="hi", sender=None
    )


def periodical(unit: str, point: Any) -> dict[str, Any]:
    spec = {
        "start": "2027-01-01 00:00:00",
        "end": "2027-06-30 00:00:00",
        "time": "12:00:00",
        "time_unit": unit,
        "point": point,
        "zone_type": 1,
    }
    return canonicalize(body(periodical=spec))["trigger"]["periodical"]


def test_keeps_only_the_four_sections() -> None:
    """schedule_id (server) and lifecycle (reconciler) are not part of the body."""
    raw = {**body(), "schedule_id": "abc", "lifecycle": {"prevent_destroy": True}}
    assert list(canonicalize(raw)) == ["enabled", "name", "push", "trigger"]


def test_drops_none_values_outside_passthrough_objects() -> None:
    """A null field equals an absent one."""
    raw = body()
    raw["push"]["from"] = None
    raw["push"]["body"]["options"] = {"time_to_live": None, "apns_production": True}
    out = canonicalize(raw)["push"]
    assert "from" not in out
    assert out["body"]["options"] == {"apns_production": True}


def test_sorts_mapping_keys_recursively() -> None:
    """Key order never matters: the canonical dicts come out sorted."""
    out = canonicalize(body())
    assert list(out["push"]) == ["body", "to"]
    assert list(out["push"]["body"]) == ["notification", "platform"]


def test_passthrough_objects_are_left_as_written() -> None:
    """extras/custom_args/third_party_channel/multi_language keep nulls and values."""
    raw = body()
    raw["push"]["custom_args"] = {"B": None, "a": [3, 1]}
    raw["push"]["body"]["notification"]["android"] = {"extras": {"k": None, "Z": "x"}}
    raw["push"]["body"]["options"] = {
        "third_party_channel": {"vendor": {"x": None}},
        "multi_language": {"de": None},
    }
    out = canonicalize(raw)["push"]
    assert out["custom_args"] == {"B": None, "a": [3, 1]}
    assert out["body"]["notification"]["android"]["extras"] == {"k": None, "Z": "x"}
    assert out["body"]["options"]["third_party_channel"] == {"vendor": {"x": None}}
    assert out["body"]["options"]["multi_language"] == {"de": None}


def test_time_unit_is_lower_cased() -> None:
    """time_unit is case-insensitive (docs/api.md 2.2)."""
    assert periodical("WEEK", ["MON"])["time_unit"] == "week"


def test_week_points_are_upper_cased_in_weekday_order() -> None:
    """["sun", "Mon", "wed"] -> ["MON", "WED", "SUN"]."""
    assert periodical("week", ["sun", "Mon", "wed"])["point"] == ["MON", "WED", "SUN"]


def test_month_points_are_zero_padded_sorted_strings() -> None:
    """[15, "1", "03"] -> ["01", "03", "15"]."""
    assert periodical("month", [15, "1", "03"])["point"] == ["01", "03", "15"]


@pytest.mark.parametrize("point", [None, [], ["MON"]])
def test_daily_point_is_always_the_empty_list(point: Any) -> None:
    """point is irrelevant for day (docs/api.md 2.2), so every form compares equal: []."""
    spec = {"time_unit": "DAY", "time": "12:00:00"}
    if point is not None:
        spec["point"] = point
    out = canonicalize(body(periodical=spec))["trigger"]["periodical"]
    assert out["point"] == []


def test_fingerprint_ignores_key_order_and_spelling_variants() -> None:
    """Same content, different order and case -> same fingerprint."""
    a = body(periodical={"time_unit": "week", "point": ["MON", "FRI"], "zone_type": 1})
    b = body(periodical={"zone_type": 1, "point": ["fri", "mon"], "time_unit": "Week"})
    b = {"push": b["push"], "trigger": b["trigger"], "enabled": True, "name": "n"}
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a).startswith("sha256:")
    assert len(fingerprint(a)) == len("sha256:") + 64


def test_fingerprint_changes_with_content() -> None:
    """A different alert is a different fingerprint."""
    other = body()
    other["push"]["body"]["notification"]["alert"] = "hello"
    assert fingerprint(body()) != fingerprint(other)


def test_canonical_json_is_compact_sorted_and_keeps_unicode() -> None:
    """canonical_json: sorted keys, no spaces, UTF-8 text unescaped."""
    assert canonical_json({"b": 1, "a": "春"}) == '{"a":"春","b":1}'


def test_trigger_kind_names_the_one_kind() -> None:
    """trigger_kind reads the one trigger present."""
    assert trigger_kind(body()) == "single"
    assert trigger_kind(body(intelligent={"backup_time": "now"})) == "intelligent"


@pytest.mark.parametrize("trigger", [{}, {"single": {}, "periodical": {}}, None])
def test_trigger_kind_rejects_anything_but_exactly_one(trigger: Any) -> None:
    """No kind or two kinds is a ValueError, not a guess."""
    raw = body()
    raw["trigger"] = trigger
    with pytest.raises(ValueError, match="trigger"):
        trigger_kind(raw)


def test_zone_type_of_each_trigger_kind() -> None:
    """zone_type for single and periodical; None for intelligent."""
    assert zone_type(body()) == 1
    assert zone_type(body(periodical={"zone_type": 2})) == 2
    assert zone_type(body(intelligent={"backup_time": "now"})) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
section_keys = st.sampled_from(
    ["extras", "custom_args", "time_unit", "point", "zone_type", "periodical", "x", "from"]
)
nested = st.recursive(
    json_values,
    lambda inner: st.dictionaries(section_keys | st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)
raw_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=5),
        "enabled": st.booleans(),
        "trigger": st.dictionaries(
            st.sampled_from(["single", "periodical", "intelligent"]),
            st.dictionaries(section_keys, json_values | st.sampled_from(["day", "Week", "MONTH"])),
        ),
        "push": nested,
        "schedule_id": st.text(max_size=3),
    },
)


@given(raw_bodies)
def test_canonicalize_is_idempotent(raw: dict[str, Any]) -> None:
    """canonicalize(canonicalize(x)) == canonicalize(x) for any JSON-like body."""
    once = canonicalize(raw)
    assert canonicalize(once) == once
    assert canonical_json(canonicalize(once)) == canonical_json(once)


@given(raw_bodies)
def test_canonicalize_never_mutates_its_input(raw: dict[str, Any]) -> None:
    """The caller's dict is left untouched (both sides of a diff are reused)."""
    before = json.dumps(raw, sort_keys=True)
    canonicalize(raw)
    assert json.dumps(raw, sort_keys=True) == before


def test_every_open_mapping_of_the_manifest_models_keeps_its_nulls() -> None:
    """The fields the push models type as free-form mappings are the ones canonicalisation
    copies as written: a field added to one list and not the other fails here. A null inside
    one was dropped, and the next full-body update removed the key from the live task."""
    import inspect

    from pydantic import BaseModel

    import reconciler.manifests.push as push
    from reconciler.planning.canonical import PASSTHROUGH_KEYS

    open_fields = {
        field.alias or name
        for _, model in inspect.getmembers(push, inspect.isclass)
        if issubclass(model, BaseModel) and model.__module__ == push.__name__
        for name, field in model.model_fields.items()
        if "dict[str, JsonValue]" in str(field.annotation)
    }
    assert open_fields == PASSTHROUGH_KEYS


def test_nulls_inside_a_voip_payload_or_an_alert_object_are_kept() -> None:
    raw = body()
    raw["push"]["body"]["voip"] = {"call_id": "42", "caller": None, "meta": {"video": None}}
    raw["push"]["body"]["notification"]["ios"] = {"alert": {"title": "t", "subtitle": None}}
    out = canonicalize(raw)["push"]["body"]
    assert out["voip"] == {"call_id": "42", "caller": None, "meta": {"video": None}}
    assert out["notification"]["ios"]["alert"] == {"title": "t", "subtitle": None}
