"""Text, JSON and Markdown renderings of plans and drift reports."""

from __future__ import annotations

import io
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from reconciler.planning.diff import format_path
from reconciler.printable import CONTROL, UNSEEN
from reconciler.render.describe import leaves, value_text
from reconciler.render.machine import render_drift_json, render_json
from reconciler.render.markdown import render_drift_markdown, render_markdown
from reconciler.render.text import render_drift_text, render_text, use_color
from tests.plan.builders import body, desired, in_sync, inventory, managed, plan, remote, state
from tests.plan.test_plan_artifact import mixed

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_uses_terraform_markers_per_kind() -> None:
    """+ create, ~ update, -/+ replace, - delete each lead their schedule's line."""
    text = render_text(plan(*mixed()), color=False)
    assert "  + create h-create" in text
    assert "  ~ update b-update" in text
    assert "-/+ replace c-replace" in text
    assert "  - delete d-delete" in text
    assert "  + recreate e-recreate" in text


def test_text_shows_field_diffs_old_to_new() -> None:
    """An update lists each changed field as path: old -> new."""
    text = render_text(plan(*mixed()), color=False)
    assert '      ~ push.body.notification.alert: "old" -> "new"' in text


def test_text_says_forces_replacement_with_the_reason() -> None:
    """A replace names why it cannot be an update."""
    text = render_text(plan(*mixed()), color=False)
    assert "zone_type changes from 1 to 2: forces replacement" in text


def test_text_ends_with_the_summary_line() -> None:
    """The summary line counts creates (incl. recreates), updates, replaces and deletes."""
    lines = render_text(plan(*mixed()), color=False).splitlines()
    assert "Plan: 2 to create, 1 to update, 1 to replace, 2 to delete." in lines
    assert (
        lines[-1]
        == "Also: 1 expired (forgotten from state), 1 conflict(s), 1 unmanaged, 1 skipped."
    )


def test_text_says_no_changes_for_an_empty_plan() -> None:
    """An in-sync plan says so and still prints the summary line with zeros."""
    text = render_text(plan(*in_sync("a")), color=False)
    assert "No changes." in text
    assert text.rstrip().endswith("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.")


def test_text_does_not_claim_a_match_while_a_conflict_is_open() -> None:
    """A conflict changes nothing, but the app does not match: the text points at import."""
    d = desired("ours")
    text = render_text(plan([d], inventory(remote("id-x", body("ours")))), color=False)
    assert "match the manifests" not in text
    assert "resolve the conflicts above as each one says" in text


def test_text_lists_violations_and_warnings() -> None:
    """Safety violations and warnings are printed under their own headings."""
    _, r, e = managed("vault", "id-v", protected=True)
    p = plan(
        [desired("late", trigger={"single": {"time": "2020-01-01 00:00:00", "zone_type": 1}})],
        inventory(r),
        state({"vault": e}),
    )
    text = render_text(p, color=False)
    assert "Safety violations (apply will refuse this plan):" in text
    assert "'vault' has lifecycle.prevent_destroy" in text
    assert "Warnings:" in text


def test_text_without_color_has_no_escape_codes() -> None:
    """color=False output has no ANSI escapes at all."""
    assert not ANSI.search(render_text(plan(*mixed()), color=False))


def test_text_with_color_paints_markers_and_strips_to_the_plain_text() -> None:
    """color=True adds ANSI codes and nothing else."""
    p = plan(*mixed())
    colored = render_text(p, color=True)
    assert "\x1b[32m  + create\x1b[0m" in colored
    assert ANSI.sub("", colored) == render_text(p, color=False)


def test_use_color_respects_no_color() -> None:
    """NO_COLOR set to anything non-empty disables colour even on a terminal."""
    assert not use_color(FakeTty(), {"NO_COLOR": "1"})


def test_use_color_on_a_terminal_without_no_color() -> None:
    """A terminal gets colour; an empty NO_COLOR does not count (no-color.org)."""
    assert use_color(FakeTty(), {})
    assert use_color(FakeTty(), {"NO_COLOR": ""})


def test_use_color_off_for_pipes_and_dumb_terminals() -> None:
    """Not a terminal, or TERM=dumb: no colour."""
    assert not use_color(io.StringIO(), {})
    assert not use_color(FakeTty(), {"TERM": "dumb"})


def test_json_render_has_a_versioned_stable_schema() -> None:
    """The JSON render has format_version 1, type, summary counts, flags and every action."""
    p = plan(*mixed())
    data = json.loads(render_json(p))
    assert data["format_version"] == 1
    assert data["type"] == "plan"
    assert data["summary"]["delete"] == 2
    assert data["has_changes"] is True
    assert data["safe"] is True
    assert [a["kind"] for a in data["actions"]] == [a.kind for a in p.actions]
    assert data["checksum"] == p.checksum
    assert render_json(p) == render_json(plan(*mixed()))


def test_markdown_starts_with_the_hidden_marker_line() -> None:
    """The first line is the per-environment marker CI uses to find and update its comment."""
    md = render_markdown(plan(*mixed()), "Plan for prod", env="prod")
    assert md.splitlines()[0] == "<!-- reconciler-plan:prod -->"
    assert "### Plan for prod" in md


def test_markdown_has_a_counts_table_and_one_details_per_schedule() -> None:
    """Counts table first, then one collapsible <details> section per action."""
    p = plan(*mixed())
    md = render_markdown(p, "t")
    assert "| create | update | replace | delete | expired | conflict | unmanaged | skip |" in md
    assert "| 2 | 1 | 1 | 2 | 1 | 1 | 1 | 1 |" in md
    assert md.count("<details>") == len(p.actions) == md.count("</details>")
    assert "<summary><code>-/+</code> replace <b>c-replace</b>" in md


def test_markdown_shows_field_changes_as_a_diff_block() -> None:
    """An update's details hold a ```diff block with - old and + new lines."""
    md = render_markdown(plan(*mixed()), "t")
    assert '- push.body.notification.alert: "old"\n+ push.body.notification.alert: "new"' in md


def test_markdown_escapes_html_and_fences_in_content() -> None:
    """Names are HTML-escaped and values with backticks get a longer fence."""
    d = desired("a<b>", alert="```")
    md = render_markdown(plan([d]), "t")
    assert "<b>a&lt;b&gt;</b>" in md
    assert "````diff" in md


def test_drift_text_lists_each_kind_of_drift() -> None:
    """The drift text has a line per item and a summary line."""
    ds, inv, st = in_sync("edited")
    inv = inventory(remote("id-edited", body("edited", alert="x")), remote("u", body("u")))
    text = render_drift_text(plan(ds, inv, st), color=False)
    assert "  ~ remote edit edited (id id-edited): edited outside the reconciler" in text
    assert "  ? unmanaged u (id u)" in text
    assert text.rstrip().endswith(
        "Drift: 1 remote edit(s), 0 remote deletion(s), 1 unmanaged, "
        "0 unapplied manifest change(s)."
    )


def test_drift_text_says_no_drift() -> None:
    """Nothing drifted: the last line says so."""
    assert render_drift_text(plan(*in_sync("a")), color=False).rstrip().endswith("No drift.")


def test_drift_json_and_markdown() -> None:
    """Drift JSON is versioned with has_drift and items; drift Markdown has its own marker."""
    p = plan(*mixed())
    data = json.loads(render_drift_json(p))
    assert data["format_version"] == 1
    assert data["type"] == "drift"
    assert data["has_drift"]
    assert len(data["items"]) == len(p.drift_items())
    md = render_drift_markdown(p, "Drift", env="prod")
    assert md.splitlines()[0] == "<!-- reconciler-drift:prod -->"
    assert md.count("<details>") == len(p.drift_items())


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


_NOT_SHOWN_RAW = re.compile(f"{CONTROL.pattern}|{UNSEEN.pattern}")


@given(_JSON_VALUES)
def test_a_field_line_shows_a_value_as_its_json_text(value: object) -> None:
    """The shortcuts for strings, flags and whole numbers write what json.dumps writes, with
    what a reader could miss (controls, DEL and C1, zero-width and direction characters)
    written as escapes: the same JSON value, nothing of it unseen."""
    text = value_text(value)
    assert json.loads(text) == value
    assert _NOT_SHOWN_RAW.search(text) is None
    written = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if _NOT_SHOWN_RAW.search(written) is None:
        assert text == written


@given(st.recursive(_JSON_VALUES, lambda inner: st.dictionaries(st.text(), inner, max_size=4)))
def test_the_leaves_of_a_body_are_named_by_their_whole_path(node: object) -> None:
    """Each leaf's path is format_path of its parts, also for paths met before (kept ones)."""
    for _ in range(2):
        assert leaves(node) == _leaves_by_parts(node)


def _leaves_by_parts(node: object, parts: tuple[str | int, ...] = ()) -> list[tuple[str, object]]:
    if isinstance(node, dict):
        return [leaf for k in sorted(node) for leaf in _leaves_by_parts(node[k], (*parts, k))]
    if isinstance(node, list) and any(isinstance(v, dict | list) for v in node):
        return [leaf for i, v in enumerate(node) for leaf in _leaves_by_parts(v, (*parts, i))]
    return [(format_path(parts), node)]


def test_a_firing_at_the_end_of_the_calendar_is_left_out_not_an_overflow() -> None:
    """A create firing late on 9999-12-31 (UTC), in a plan whose time zone is ahead of UTC:
    its local time is past the calendar's end. The plan is shown without that line."""
    from datetime import UTC, datetime

    from tests.kit.bodies import single

    late = desired("late", trigger=single("9999-12-31 22:00:00"))
    made = plan([late], now=datetime(9999, 12, 31, 20, 0, tzinfo=UTC))
    made = made.model_copy(update={"timezone": "Asia/Shanghai"})
    text = render_text(made, color=False)
    assert "+ create late" in text
    assert "fires next" not in text
