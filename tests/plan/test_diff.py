"""Field-level diffs on the canonical form, with the server-defaults hook."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.planning import canonical
from reconciler.planning.diff import (
    FieldChange,
    body_fingerprint,
    diff_bodies,
    drop_default,
    fingerprint_matches,
    format_path,
    needs_replacement,
    same_body,
)
from tests.kit.bodies import intelligent, periodical, single
from tests.plan.builders import body


def test_identical_bodies_have_no_diff() -> None:
    """The same body twice gives an empty change list."""
    assert diff_bodies(body("a"), body("a")) == []


def test_key_order_and_spelling_do_not_diff() -> None:
    """Key order, time_unit case, weekday case and point order are canonical, not changes."""
    mine = body("a", trigger=periodical(time_unit="week", point=["MON", "FRI"]))
    theirs = copy.deepcopy(mine)
    spec = theirs["trigger"]["periodical"]
    theirs["trigger"]["periodical"] = dict(
        reversed(list({**spec, "time_unit": "Week", "point": ["fri", "mon"]}.items()))
    )
    assert diff_bodies(mine, theirs) == []
    assert same_body(mine, theirs)


def test_server_filled_default_frequency_does_not_diff() -> None:
    """frequency: 1 is the documented default (every unit): present on one side only is equal."""
    mine = body("a", trigger=periodical())
    theirs = body("a", trigger=periodical(frequency=1))
    assert diff_bodies(mine, theirs) == []
    assert body_fingerprint(mine) == body_fingerprint(theirs)


def test_non_default_frequency_does_diff() -> None:
    """frequency 2 is a real change."""
    assert diff_bodies(
        body("a", trigger=periodical()), body("a", trigger=periodical(frequency=2))
    ) == [FieldChange("trigger.periodical.frequency", None, 2)]


def test_daily_points_are_irrelevant() -> None:
    """For time_unit day the point list means nothing (docs/api.md 2.2): [] vs absent is no diff."""
    with_points = body("a", trigger=periodical(time_unit="day", point=[]))
    without = copy.deepcopy(with_points)
    del without["trigger"]["periodical"]["point"]
    assert diff_bodies(with_points, without) == []


def test_changed_leaf_is_reported_with_a_dotted_path() -> None:
    """A changed alert is one change at push.body.notification.alert, old -> new."""
    assert diff_bodies(body("a", alert="x"), body("a", alert="y")) == [
        FieldChange("push.body.notification.alert", "x", "y")
    ]


def test_added_and_removed_keys_show_none_on_the_missing_side() -> None:
    """Absent is None: added keys have old None, removed keys have new None."""
    old, new = body("a"), body("a")
    del new["push"]["from"]
    new["push"]["body"]["options"] = {"time_to_live": 60}
    assert diff_bodies(old, new) == [
        FieldChange("push.body.options", None, {"time_to_live": 60}),
        FieldChange("push.from", "push", None),
    ]


def test_scalar_lists_change_as_a_whole() -> None:
    """A tag list edit is one change of the list, not element-by-element noise."""
    old, new = body("a"), body("a")
    old["push"]["to"] = {"tag": ["a", "b", "c"]}
    new["push"]["to"] = {"tag": ["b", "c", "d"]}
    assert diff_bodies(old, new) == [FieldChange("push.to.tag", ["a", "b", "c"], ["b", "c", "d"])]


def test_type_change_is_reported() -> None:
    """1 and "1" differ (the API is typed): a type change is a change."""
    old, new = body("a"), body("a")
    old["push"]["body"]["notification"]["android"] = {"builder_id": 1}
    new["push"]["body"]["notification"]["android"] = {"builder_id": "1"}
    assert diff_bodies(old, new) == [
        FieldChange("push.body.notification.android.builder_id", 1, "1")
    ]


def test_changes_are_sorted_by_path() -> None:
    """Several changes come out in path order, the same every time."""
    old = body("a", alert="x", trigger=single("2027-03-01 10:00:00"))
    new = body("b", alert="y", trigger=single("2027-04-01 10:00:00"), enabled=False)
    paths = [c.path for c in diff_bodies(old, new)]
    assert paths == ["enabled", "name", "push.body.notification.alert", "trigger.single.time"]


def test_odd_keys_are_quoted_in_paths() -> None:
    """Keys with dots or spaces inside extras are quoted so the path stays unambiguous."""
    assert format_path(["push", "body", "notification", "android", "extras", "a.b", 0]) == (
        'push.body.notification.android.extras["a.b"][0]'
    )


def test_custom_default_rule_hides_a_server_filled_value() -> None:
    """The defaults hook: a rule for a value the server fills in makes it invisible."""
    old, new = body("a"), body("a")
    del new["push"]["from"]  # imagine the server fills in from: "push" when it is missing
    rule = drop_default(("push", "from"), "push")
    assert diff_bodies(old, new) == [FieldChange("push.from", "push", None)]
    assert diff_bodies(old, new, defaults=[rule]) == []


def test_fingerprint_matches_plain_and_normal_form() -> None:
    """A recorded fingerprint matches a body that differs only by a server default."""
    mine = body("a", trigger=periodical())
    recorded = canonical.fingerprint(mine)
    assert fingerprint_matches(recorded, body("a", trigger=periodical(frequency=1)))
    assert not fingerprint_matches(recorded, body("a", alert="other", trigger=periodical()))


def test_zone_type_change_needs_replacement() -> None:
    """zone_type 1 -> 2 cannot be updated (docs/api.md 2.4)."""
    assert (
        needs_replacement(
            body("a", trigger=single(zone_type=1)), body("a", trigger=single(zone_type=2))
        )
        == "zone_type changes from 1 to 2"
    )


def test_trigger_kind_change_needs_replacement() -> None:
    """periodical -> intelligent cannot be updated (docs/api.md 2.4)."""
    assert needs_replacement(body("a", trigger=periodical()), body("a", trigger=intelligent())) == (
        "trigger kind changes from periodical to intelligent"
    )


def test_same_kind_and_zone_can_be_updated() -> None:
    """A new time with the same kind and zone_type is an in-place update."""
    assert (
        needs_replacement(
            body("a", trigger=single("2027-02-01 00:00:00")),
            body("a", trigger=single("2027-05-01 00:00:00")),
        )
        is None
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(JSON, JSON)
def test_diff_is_empty_exactly_when_bodies_are_the_same(x: object, y: object) -> None:
    """Property: for arbitrary extras, no diff <=> same_body, and every change has a path."""
    old, new = body("a"), body("a")
    old["push"]["body"]["notification"]["extras"] = {"k": x}
    new["push"]["body"]["notification"]["extras"] = {"k": y}
    changes = diff_bodies(old, new)
    assert (changes == []) == same_body(old, new)
    assert all(c.path.startswith("push.body.notification.extras") for c in changes)
    assert len({c.path for c in changes}) == len(changes)


@pytest.mark.parametrize(
    ("old", "new"),
    [(True, 1), (1, 1.0), (False, 0), ([True], [1]), ({"k": 1.0}, {"k": 1})],
    ids=["true-1", "1-1.0", "false-0", "list", "nested"],
)
def test_values_of_another_json_type_are_a_change(old: Any, new: Any) -> None:
    """``True == 1 == 1.0`` in Python, not in what is sent: custom_args ``debug: 1`` in a
    manifest against ``true`` live was planned as a state refresh, and never sent."""
    a, b = body("a"), body("a")
    a["push"]["custom_args"] = {"debug": old}
    b["push"]["custom_args"] = {"debug": new}
    changed = [c.path for c in diff_bodies(a, b)]
    assert len(changed) == 1, changed
    assert changed[0].startswith("push.custom_args.debug")
    assert not same_body(a, b)
