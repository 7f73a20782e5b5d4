"""diff_bodies compares maps itself and calls DeepDiff only for lists of objects: same answers."""

from __future__ import annotations

import json
from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.planning import diff
from reconciler.planning.diff import FieldChange, diff_bodies, normal_form
from tests.plan.builders import body
from tests.reliability.campaign import FULL

KEYS = st.sampled_from(["a", "b", "c", "extras", "alert", "tag"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False).map(lambda x: round(x, 1)),
    st.sampled_from(["", "x", "y", "1"]),
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def deepdiff_only(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """What diff_bodies answered when every difference went through DeepDiff."""
    a, b = normal_form(old), normal_form(new)
    # Equal as JSON, which tells false, 0 and 0.0 apart (``==`` does not, DeepDiff does).
    if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
        return []
    paths = set()
    for levels in DeepDiff(a, b, view="tree", verbose_level=2).values():
        for level in levels:
            paths.add(diff._collapse(a, b, list(level.path(output_format="list"))))
    changes = []
    for path in sorted(paths, key=diff._sort_key):
        old_value, new_value = diff._lookup(a, path), diff._lookup(b, path)
        if old_value != new_value or type(old_value) is not type(new_value):
            changes.append(
                FieldChange(diff.format_path(path), diff._shown(old_value), diff._shown(new_value))
            )
    return changes


@settings(max_examples=1000 if FULL else 300, deadline=None)
@given(TREES, TREES, TREES, TREES)
def test_same_changes_as_deepdiff(push_a: Any, push_b: Any, extra_a: Any, extra_b: Any) -> None:
    """Random pushes (maps, scalar lists, lists of maps, pass-through extras): equal results."""
    old = body("a")
    new = body("a")
    old["push"] = {"body": push_a, "extras": extra_a}
    new["push"] = {"body": push_b, "extras": extra_b}
    expected = deepdiff_only(old, new)
    as_json = [json.dumps(normal_form(b), sort_keys=True) for b in (old, new)]
    if not expected and as_json[0] != as_json[1]:
        # The bodies differ only in false against 0 (true against 1) inside a list, which
        # DeepDiff does not tell apart: a change all the same, never none.
        assert diff_bodies(old, new) != []
        return
    assert diff_bodies(old, new) == expected


def test_a_changed_list_of_objects_still_goes_through_deepdiff() -> None:
    """A list of maps that differs is paired item by item, as before (the DeepDiff path)."""
    old = body("a")
    new = body("a")
    old["push"]["body"]["items"] = [{"k": 1}, {"k": 2}]
    new["push"]["body"]["items"] = [{"k": 1}, {"k": 3}]
    assert diff_bodies(old, new) == [FieldChange("push.body.items[1].k", 2, 3)]


def test_false_and_0_inside_a_list_that_goes_to_deepdiff_are_a_change() -> None:
    """DeepDiff takes false for 0 (and true for 1) inside a list: a body differing only there
    must still show a change, or the plan would never update the task."""
    for old_items, new_items, path, old_value, new_value in (
        ([{"t": [False]}], [{"t": [0]}], "push.extras.items[0].t", [False], [0]),
        ([[True]], [[1]], "push.extras.items[0]", [True], [1]),
        ([{"k": 1}, [False, 1]], [{"k": 1}, [0, 1]], "push.extras.items[1]", [False, 1], [0, 1]),
    ):
        old = body("a")
        new = body("a")
        old["push"]["extras"] = {"items": old_items}
        new["push"]["extras"] = {"items": new_items}
        assert diff_bodies(old, new) == [FieldChange(path, old_value, new_value)]
