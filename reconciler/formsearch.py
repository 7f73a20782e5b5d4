"""Find the spellings of the credentials in a text, case-insensitively, at the cost of a
case-sensitive search.

One job: the output scrubber (``reconciler.redact``) looks for about a hundred spellings of
the credentials, most in any case. One alternation of them, compiled case-insensitively, tries
every spelling at every character: Python's regular expressions skip ahead to a possible first
character only when no branch ignores case. That cost a microsecond a character (16 ms for a
text of 16 000), and a hostile server's answer built to be searched several ways held a command
for minutes. Here the text is first written in one case (``caseless``: each character as the
smallest of those a case-insensitive match takes for it, so lengths and places stay), and
searched with patterns written the same way, case-sensitively: 3 ms for the same text.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Iterable, Iterator, Sequence

# Python's case-insensitive match takes two characters for one when their lower cases are
# equal, or when those are one of a few pairs it lists (``s`` and the long s, Greek letters with
# two lower cases): that list is the regular-expression module's own, so that the search here
# and a case-insensitive pattern agree on every character.
_EXTRA_CASES: dict[int, tuple[int, ...]] = getattr(
    importlib.import_module("re._casefix"), "_EXTRA_CASES", {}
)


@functools.cache
def _table() -> dict[int, int]:
    """Each character that a case-insensitive match takes for a smaller one, mapped to the
    smallest. Built on the first text beyond ASCII longer than ``_BY_CHARACTER`` that is
    searched: comparing blocks of 256 code points with their lower case finds the few that
    have one in 50 ms (each code point on its own: 0.6 s)."""
    import array  # here: only the first long text beyond ASCII that is searched needs it

    table: dict[int, int] = {}

    def add(code: int) -> None:
        smallest = _smallest(code)
        if smallest != code:
            table[code] = smallest

    # Every code point but the surrogates, as one text: decoded from their numbers at once
    # (a character at a time, the text alone took 0.16 s).
    for first, last in ((0, 0xD7FF), (0xE000, sys.maxunicode)):
        codes = array.array("I", range(first, last + 1)).tobytes()
        chars = codes.decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")
        for at in range(0, len(chars), 256):
            block = chars[at : at + 256]
            if block.lower() != block:
                for n, char in enumerate(block):
                    if char.lower() != char:
                        add(first + at + n)
    for code in _EXTRA_CASES:
        add(code)
    return table


def _smallest(code: int) -> int:
    """The smallest of the characters a case-insensitive match takes for ``code``. The first
    character of a lower case of two ("İ" is "i" and a dot) is the one the regular-expression
    module takes."""
    lower = ord(chr(code).lower()[0])
    return min((lower, *_EXTRA_CASES.get(lower, ())))


# Up to this length a text beyond ASCII is written a character at a time (a microsecond
# each) rather than by the table, which takes 40 ms to build: the scrubber writes a few
# fullwidth spellings of each credential when it is made, in every command that has them, and
# most commands never search a longer text beyond ASCII.
_BY_CHARACTER = 64


def caseless(text: str) -> str:
    """``text`` with each character written as the smallest of those a case-insensitive match
    takes for it: as long as ``text``, the same character at each place up to case."""
    if text.isascii():
        return text.lower()  # the same, and fast: every ASCII letter is the smallest of its kind
    if len(text) <= _BY_CHARACTER:
        return "".join(chr(_smallest(ord(c))) for c in text)
    return text.translate(_table())


class FormSearch:
    """Finds any of a set of spellings in a text, as one alternation of them would: at the
    first place where one starts, the longest of the literal ones (``loose`` in any case,
    ``exact`` as given), else the first of ``patterns`` (written for a ``caseless`` text) that
    matches there.

    ``patterns`` are tried only in a text with an escape, a character reference or a character
    beyond ASCII: they spell the credentials with those (a spelling of plain characters alone is
    one of the literal ones, and is found as such first)."""

    def __init__(self, loose: Iterable[str], exact: Iterable[str], patterns: Sequence[str]):
        self._loose = _alternation({caseless(form) for form in loose})
        self._exact = _alternation(set(exact))
        self._patterns = re.compile("|".join(patterns)) if patterns else None

    def search(self, text: str) -> bool:
        """Whether ``text`` holds any of the spellings."""
        return next(self.spans(text), None) is not None

    def spans(self, text: str, *, overlapping: bool = False) -> Iterator[tuple[int, int]]:
        """Where the spellings are in ``text``, in order: each found from the end of the last
        one, or with ``overlapping`` from the place after the last one's start."""
        low = caseless(text)
        searches: list[tuple[re.Pattern[str], str]] = [(self._loose, low), (self._exact, text)]
        if self._patterns is not None and ("&#" in text or "\\" in text or not text.isascii()):
            searches.append((self._patterns, low))
        # The next match of each search from where the last one looked: one that starts at or
        # after the place looked from next is still its first there.
        found: list[re.Match[str] | None] = [None] * len(searches)
        done = [False] * len(searches)
        pos = 0
        while True:
            for n, (pattern, where) in enumerate(searches):
                match = found[n]
                if not done[n] and (match is None or match.start() < pos):
                    found[n] = match = pattern.search(where, pos)
                    done[n] = match is None
            starts = [m.start() for m in found if m is not None]
            if not starts:
                return
            start = min(starts)
            literal = [m for m in found[:2] if m is not None and m.start() == start]
            if literal:
                end = max(m.end() for m in literal)
            else:
                match = found[2]
                assert match is not None
                end = match.end()
            yield start, end
            pos = start + 1 if overlapping else end

    def sub(self, text: str, mask: str) -> str:
        """``text`` with each of the spellings in it replaced by ``mask``."""
        parts: list[str] = []
        done = 0
        for start, end in self.spans(text):
            parts += [text[done:start], mask]
            done = end
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)


def _alternation(forms: set[str]) -> re.Pattern[str]:
    """A case-sensitive pattern of ``forms``, the longest first (it is the one taken where
    several start at the same place); none: a pattern that never matches."""
    ordered = sorted(forms, key=lambda form: (-len(form), form))
    return re.compile("|".join(map(re.escape, ordered)) if ordered else r"(?!)")
