"""Property: an exported manifest loads back as the very body it was exported from.

``reconciler export`` writes a remote task's body as a hand-written-looking manifest; reading
that file with the manifest loader must give the same canonical body (so the next plan shows no
change). Bodies come from the generator of the YAML round-trip test, within the documented rules.
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings

from reconciler.manifests.export import file_stem, manifest_text
from reconciler.manifests.load import load_manifests
from reconciler.planning.canonical import canonical_json, canonicalize
from tests.kit import bodies
from tests.test_manifests_roundtrip import NOW, schedules

FLOW = re.compile(r"^\s*(?:- )*[^\s#'\"][^:]*:\s[\[{](?![\]}])", re.MULTILINE)
EXPORTED_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _load(text: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "exported.yaml")
        path.write_text(text, encoding="utf-8")
        result = load_manifests([path], now=NOW, tz=ZoneInfo("UTC"))
    assert result.errors == [], [str(p) for p in result.errors]
    (manifest,) = result.manifests
    return manifest.body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules)
def test_exported_manifest_loads_as_the_remote_body(raw: dict[str, Any]) -> None:
    """export text -> load -> canonical body equals the remote body's canonical form."""
    text = manifest_text(
        raw, schedule_id="0b8f1c2e", exported_at=EXPORTED_AT, schema_ref="schedule.schema.json"
    )
    # Block style: no value opens a flow collection (empty ones aside, e.g. `point: []`).
    assert not FLOW.search(text), text
    assert canonical_json(_load(text)) == canonical_json(canonicalize(raw))


@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029"])
@pytest.mark.parametrize("form", ["{}ls", "a{}", "a {} b", "{}", "x{}{}y"])
def test_texts_with_unicode_line_breaks_load_back_unchanged(brk: str, form: str) -> None:
    """NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR are line breaks to a YAML reader: written
    as they are (plain or single-quoted), the reader folded them and the next line's indent
    into spaces, and the next apply rewrote the live alert. In values and keys alike."""
    text = form.format(brk, brk)
    raw = bodies.body("Breaks", alert=text, sender=None)
    raw["push"]["body"]["message"] = {"msg_content": text, "extras": {f"k{text}": text}}
    exported = manifest_text(raw, schedule_id="abc", exported_at=EXPORTED_AT, schema_ref=None)
    assert canonical_json(_load(exported)) == canonical_json(canonicalize(raw))


@pytest.mark.parametrize(
    "mark", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c", "\u200b", "\u2060"]
)
@pytest.mark.parametrize("form", ["{}ls", "a{}", "a {} b", "{}", "x{}{}y", "1{}"])
def test_bidirectional_controls_are_written_escaped_and_load_back(mark: str, form: str) -> None:
    """A remote alert holding U+202E (RIGHT-TO-LEFT OVERRIDE) was exported raw: the file, put
    up for review in a pull request, showed the rest of the line reversed. So were the
    direction marks and the zero-width characters (two keys that look the same). Such text is
    now double-quoted with the character as a `\\u` escape, in values and keys alike, and loads
    back as the very same body (the C1 controls the emitter escapes itself)."""
    text = form.format(mark, mark)
    raw = bodies.body("Bidi", alert=text, sender=None)
    raw["push"]["body"]["message"] = {"msg_content": text + "\x9b", "extras": {f"k{text}": text}}
    exported = manifest_text(
        raw, schedule_id="abc", exported_at=EXPORTED_AT, schema_ref=None, problems=[text]
    )
    unseen = "[\x80-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069]"
    assert not re.search(unseen, exported), exported
    assert f"\\u{ord(mark):04x}" in exported
    assert canonical_json(_load(exported)) == canonical_json(canonicalize(raw))


def test_emoji_joined_by_a_zero_width_joiner_are_written_as_they_are() -> None:
    """The joiners stay raw (emoji sequences and scripts need them) and load back."""
    text = "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 time"
    raw = bodies.body("Emoji", alert=text, sender=None)
    exported = manifest_text(raw, schedule_id="abc", exported_at=EXPORTED_AT, schema_ref=None)
    assert f"alert: {text}" in exported
    assert canonical_json(_load(exported)) == canonical_json(canonicalize(raw))


def test_problems_are_written_as_comments_and_the_body_still_loads() -> None:
    """A marked manifest keeps its body intact below the comment block."""
    raw = bodies.body("Spring_sale", alert="Hi", sender=None)
    text = manifest_text(
        raw,
        schedule_id="abc",
        exported_at=EXPORTED_AT,
        schema_ref=None,
        problems=["error: name: something"],
    )
    assert "#   error: name: something" in text
    assert canonical_json(_load(text)) == canonical_json(canonicalize(raw))


def test_file_stems_are_safe_readable_and_unique() -> None:
    """ASCII stems from names; lossy or colliding names get the id; comparison ignores case."""
    assert file_stem("Spring_sale", "0b8f1c2e-aaaa", ()) == "spring_sale"
    assert file_stem("Spring_sale", "0b8f1c2e-aaaa", {"SPRING_SALE"}) == "spring_sale-0b8f1c2e"
    assert file_stem("春节快乐", "0b8f1c2e-aaaa", ()) == "schedule-0b8f1c2e"
    assert file_stem("../../etc/passwd", "0b8f1c2e", ()) == "etc_passwd-0b8f1c2e"
    assert file_stem("a b", "0b8f1c2e-aaaa", ()) == "a_b-0b8f1c2e"
    assert file_stem("CON", "0b8f1c2e-aaaa", ()) == "con-0b8f1c2e"  # a Windows device
    taken = {"a", "a-0b8f1c2e", "a-0b8f1c2e-aaaa"}
    assert file_stem("a", "0b8f1c2e-aaaa", taken) == "a-0b8f1c2e-aaaa-2"
