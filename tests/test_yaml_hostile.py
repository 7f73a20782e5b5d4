"""YAML built to break the reader: to make it slow, huge, wrong, or end in a traceback.

Each case was found by an outside probe of the libyaml-based reader; each test fails on the
reader as it was before its fix. The answer is always one of two: the data YAML 1.2 says, or a
problem naming where and what, quickly and at a bounded size.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from reconciler.manifests import yamlconvert, yamlread
from tests.reliability.campaign import FULL
from tests.test_yaml_reader import CORPUS, yaml_texts


def _shape(loaded: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
    documents, problems = loaded
    return (
        [(d.data, dict(d.positions), d.problems) for d in documents],
        [(p.line, p.col, p.message, p.severity) for p in problems],
    )


def _both_composers(text: str) -> tuple[Any, Any] | None:
    """What libyaml's composer and the reader's own (used for a reused anchor) make of
    ``text``; None if libyaml's refuses it for a reused anchor."""
    compiled = _shape(yamlread._load(text, yamlread._compose_c))
    if compiled[1] and compiled[1][0][2].startswith(yamlread._REUSED_ANCHOR):
        return None
    return compiled, _shape(yamlread._load(text, yamlread._compose_events))


@pytest.mark.parametrize("text", CORPUS)
def test_the_fallback_composer_reads_what_libyaml_composes(text: str) -> None:
    """The composer used when an anchor is defined twice gives libyaml's answer for every
    other text: same data, positions and problems. (It once dropped every list item.)"""
    both = _both_composers(text)
    if both is not None:
        assert both[1] == both[0]


@settings(
    max_examples=300 if FULL else 120,
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)
@given(yaml_texts())
def test_the_fallback_composer_agrees_on_generated_documents(text: str) -> None:
    """The same on documents of every style, with anchors and aliases, lists and mappings."""
    both = _both_composers(text)
    if both is not None:
        assert both[1] == both[0]


def test_a_reused_anchor_keeps_every_list_of_the_document() -> None:
    """An anchor defined twice switches to the fallback composer; the lists of the document,
    aliased or not, keep their items, and the rules see them (a point list with time_unit
    day is refused, not silently emptied)."""
    text = (
        "point: [MON, THU]\n"
        "extras: &e\n  ids: [1, [2, 3]]\n"
        "other: &e {k: v}\n"
        "again: *e\n"
        "seq:\n- a\n- {b: [c]}\n"
    )
    documents, problems = yamlread.load_all(text)
    assert [p.severity for p in problems] == ["warning"]
    assert documents[0].data == {
        "point": ["MON", "THU"],
        "extras": {"ids": [1, [2, 3]]},
        "other": {"k": "v"},
        "again": {"k": "v"},
        "seq": ["a", {"b": ["c"]}],
    }


class _CountingConverter(yamlconvert._Converter):
    keys = 0

    def key(self, node: Any) -> Any:
        self.keys += 1
        return super().key(node)


def _convert(text: str) -> tuple[_CountingConverter, yamlconvert.Document]:
    parser = yamlread._Parser(text)
    try:
        root = next(yamlread._compose_c(parser))
    finally:
        parser.dispose()
    converter = _CountingConverter()
    return converter, converter.document(root)


def test_a_chain_of_doubling_merges_is_read_in_linear_work() -> None:
    """``a_i: {<<: [*a_(i-1), *a_(i-1)]}``: each line doubled the pairs a merge expanded (22
    lines took 11 s and 400 MB). A mapping merged again brings nothing new and is skipped."""
    lines = 18
    text = "a0: &a0 {k: x}\n" + "".join(
        f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}]}}\n" for i in range(1, lines + 1)
    )
    converter, document = _convert(text)
    assert document.problems == []
    assert document.data[f"a{lines}"] == {"k": "x"}
    assert converter.keys < 10 * lines**2  # 2**18 = 262144 key lookups before


def test_merged_pairs_count_towards_the_value_limit() -> None:
    """Many distinct mappings merged are still bounded by ``MAX_NODES``."""
    width = yamlconvert.MAX_NODES // 100 + 1
    sources = "".join(
        f"m{i}: &m{i} {{{', '.join(f'k{j}: {j}' for j in range(100))}}}\n" for i in range(width)
    )
    text = sources + f"all: {{<<: [{', '.join(f'*m{i}' for i in range(width))}]}}\n"
    _, document = _convert(text)
    assert document.problems == [
        ((), f"document has more than {yamlconvert.MAX_NODES} values (alias expansion?)")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "? &k [*k]\n: 1\n",  # a key that holds itself: RecursionError before
        "? " + "- " * 900 + "x\n: v\n",  # a key 900 lists deep: RecursionError before
        # a key of 10**6 aliased items: seconds, and a message of megabytes, before
        "? &a0 [lol]\n: 0\n"
        + "".join(f"? &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n: {i}\n" for i in range(1, 7)),
    ],
    ids=["cycle", "deep", "bomb"],
)
def test_a_key_that_is_a_list_is_refused_without_being_expanded(text: str) -> None:
    converter, document = _convert(text)
    messages = [message for _, message in document.problems]
    assert messages
    assert all(
        "is a list, not text; mapping keys must be text" in m and len(m) < 100 for m in messages
    )
    assert converter.nodes < 100


def test_every_private_use_character_and_a_line_separator_is_a_clear_error() -> None:
    """NEL, LS and PS are hidden as private-use characters the text does not hold; a text that
    holds all 6400 of them (19 KB) ended in StopIteration."""
    text = "a: x\n# " + "".join(map(chr, range(0xE000, 0xF900))) + "\n# \u2028\n"
    documents, problems = yamlread.load_all(text)
    assert documents == []
    assert [p.message for p in problems] == [
        "the file holds NEL, LS or PS line separators and every private-use character (U+E000 "
        "to U+F8FF), so they cannot be read as ordinary characters; remove the separators"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: 1\rb: [x,\r  \x01]\r", (3, 3)),  # a control character
        ("a: 1\rb: [\r", (3, 1)),  # a syntax error at the end
        ("a: 1\r\nb: 2\rc: 3\nd: \x01\n", (4, 4)),  # CRLF, CR and LF mixed
    ],
)
def test_positions_count_a_lone_cr_as_a_line_break(text: str, where: tuple[int, int]) -> None:
    """libyaml counts a lone CR as a line break; errors found by the reader itself (a control
    character, found on the text) counted only LF and put line 3 of a CR file on line 1."""
    _, problems = yamlread.load_all(text)
    assert [(p.line, p.col) for p in problems] == [where]
