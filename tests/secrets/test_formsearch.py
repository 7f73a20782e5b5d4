"""The credential search written for a caseless text finds what one case-insensitive
alternation of the same spellings finds, at every place, for every character Python's
regular expressions take for another in any case."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.formsearch import FormSearch, caseless

# Letters whose cases are not one-to-one: the dotted and dotless i, the long s, the Kelvin
# sign, Greek sigma's three forms, micro and mu, and plain ones.
_TRICKY = "aAbBiIİısSſkKKσςΣµμΜθϑΘ0&#;\\xu"


def _reference(loose: set[str], exact: set[str]) -> re.Pattern[str]:
    """One alternation of the spellings, longest first, loose ones case-insensitive: what the
    scrubber compiled before ``FormSearch``."""
    forms = [(f, True) for f in loose] + [(f, False) for f in exact - loose]
    forms.sort(key=lambda item: (-len(item[0]), item[0]))
    return re.compile("|".join(f"(?i:{re.escape(f)})" if ci else re.escape(f) for f, ci in forms))


def test_caseless_writes_each_character_as_a_case_insensitive_match_takes_it() -> None:
    """Two characters are written the same exactly when ``(?i)`` takes one for the other, for
    the characters a case-insensitive match knows more than one case of."""
    cased = [c for c in map(chr, range(sys.maxunicode + 1)) if c.lower() != c or c.upper() != c]
    written = caseless("".join(cased))
    assert len(written) == len(cased)
    for char, low in zip(cased, written, strict=True):
        assert re.fullmatch(f"(?i:{re.escape(char)})", low), (char, low)
        assert re.fullmatch(f"(?i:{re.escape(low)})", char), (char, low)
    assert caseless("ſ") == caseless("S") == "s"
    assert caseless("İ") == caseless("ı") == "i"


def test_a_short_text_is_written_as_the_table_writes_a_long_one() -> None:
    """Short texts are written a character at a time (the table takes 40 ms to build, which
    a command's start-up should not pay): the same as the table, for every code point."""
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    assert len(everything) > 64  # the table's way
    by_table = caseless(everything)
    for at in range(0, len(everything), 64):
        assert caseless(everything[at : at + 64]) == by_table[at : at + 64], at


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    loose=st.sets(st.text(alphabet=_TRICKY, min_size=1, max_size=4), max_size=6),
    exact=st.sets(st.text(alphabet=_TRICKY, min_size=1, max_size=4), max_size=3),
    text=st.text(alphabet=_TRICKY + " -", max_size=60),
)
def test_the_same_spans_as_one_case_insensitive_alternation(
    loose: set[str], exact: set[str], text: str
) -> None:
    """Masked alike, and found at the same places, overlaps included."""
    search = FormSearch(loose, exact - loose, [])
    reference = _reference(loose, exact)
    if not loose and not exact:
        assert list(search.spans(text)) == []
        return
    assert search.sub(text, "<m>") == reference.sub("<m>", text)
    overlapping = []
    pos = 0
    while (m := reference.search(text, pos)) is not None:
        overlapping.append(m.span())
        pos = m.start() + 1
    assert list(search.spans(text, overlapping=True)) == overlapping


def test_patterns_are_tried_after_the_literal_spellings_and_only_where_they_can_match() -> None:
    """A pattern (a character reference, an escape) finds what no literal spelling does; where
    both start at one place the literal one is taken; a text of plain ASCII is not searched
    with the patterns (a plain spelling of them is a literal one)."""
    search = FormSearch({"abcdef"}, set(), [r"a(?:b|&#98;)cdef", r"x+"])
    assert search.sub("1 A&#98;CDEF 2", "*") == "1 * 2"
    assert search.sub("ABCDEF", "*") == "*"
    assert search.sub("xx yy", "*") == "xx yy"  # ASCII, no escape: the patterns are not tried
    assert search.sub("xx \\ yy", "*") == "* \\ yy"
