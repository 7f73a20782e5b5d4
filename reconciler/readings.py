"""The ways the output scrubber reads a text before it searches it for the credentials.

One job: make the readings of a text in which a credential shows only once something is left
out or read otherwise (``reconciler.redact.Scrubber``): Unicode's compatibility forms folded
and what shows nothing dropped (``fold``), lines joined with what continues them (``joins``,
``JOINS``, ``WIDE_JOINS``), escapes and character references read as the characters they
stand for (``READ``, ``read_spans``), the separators of a separated run left out
(``separated``), and each reading's characters mapped back to the text (``folded_chars``).
"""

from __future__ import annotations

import functools
import html.entities
import re
import sys
import unicodedata
from collections.abc import Sequence

from reconciler.unseen import HIDDEN_RANGES

# A span of a text left out of a look (``replacement`` ""), or read as other characters.
Span = tuple[int, int, str]

# What a folded text leaves out: characters that show nothing (controls, line breaks, format
# characters, combining marks, variation selectors, fillers). Put between a secret's
# characters they leave it readable; a line break inside a base64 text (MIME folds at 76).
_BEYOND_ASCII = (
    "\x80-\x9f\u00ad\u0300-\u036f\u034f\u061c\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u1ab0-\u1aff\u1dc0-\u1dff\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\u20d0-\u20ff\u3164\ufe00-\ufe0f\ufe20-\ufe2f\ufeff\uffa0"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
# Every other format character and mark (a Hebrew point, a musical format control): one
# between every two characters of a credential printed it whole.
_BEYOND_ASCII += HIDDEN_RANGES


@functools.cache
def _dropped(*, controls: bool = True) -> re.Pattern[str]:
    """What folding drops; without ASCII's controls (``controls=False``), which the pre-test's
    anchors pass over (``redact._SPREAD``): leaving the line breaks of a long text in place
    spares a third of the time folding takes. Compiled on first need: the classes of some
    350 ranges take 2.5 ms, on every command's start, and an ASCII text never needs them."""
    return re.compile(f"[{_controls(controls)}{_BEYOND_ASCII}]")


def _controls(controls: bool) -> str:
    return "\x00-\x1f\x7f" if controls else ""


def _ranges(members: str) -> list[tuple[int, int]]:
    """The code point ranges of a character class's members written as characters and
    ``a-b`` ranges (``_BEYOND_ASCII``)."""
    found = []
    i = 0
    while i < len(members):
        if members[i + 1 : i + 2] == "-" and i + 2 < len(members):
            found.append((ord(members[i]), ord(members[i + 2])))
            i += 3
        else:
            found.append((ord(members[i]), ord(members[i])))
            i += 1
    return found


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _dropped_in_bmp(*, controls: bool) -> re.Pattern[str]:
    """``_dropped`` for a text of the Basic Multilingual Plane only.

    A class that holds ranges beyond U+FFFF is tried range by range at every character (0.2 s
    a MB of accented text, a page of a hostile server's French paid by every copy printed);
    one within the plane is a table lookup (0.03 s)."""
    inside = [(lo, min(hi, 0xFFFF)) for lo, hi in _ranges(_controls(controls) + _BEYOND_ASCII)]
    return re.compile(
        "[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in inside if lo <= hi) + "]"
    )


@functools.cache
def _dropped_table(*, controls: bool) -> dict[int, None]:
    """``_dropped`` as a ``str.translate`` table, for a text beyond the plane (0.06 s a MB)."""
    members = _ranges(_controls(controls) + _BEYOND_ASCII)
    return dict.fromkeys(code for lo, hi in members for code in range(lo, hi + 1))


def without_hidden(text: str, *, controls: bool = True) -> str:
    """``text`` without what folding drops (``_dropped``)."""
    if _ASTRAL.search(text) is None:
        return _dropped_in_bmp(controls=controls).sub("", text)
    return text.translate(_dropped_table(controls=controls))


def hides(text: str) -> bool:
    """Whether folding ``text`` could show a form it hides: anything but one line of
    printable ASCII."""
    if not text.isascii():
        return True
    return not (text.isprintable() or (text[-1:] == "\n" and text[:-1].isprintable()))


def fold(text: str, *, controls: bool = True) -> str:
    """``text`` with Unicode's compatibility forms folded (fullwidth and mathematical letters
    become plain ones), what shows nothing dropped (``_dropped``), accents too (decomposed
    first, so that a mark is dropped before it can compose with its letter), and the dotted
    and dotless i that the pattern's case-insensitive match takes for "i" made plain.

    ``controls=False``: ASCII's controls are kept (for the pre-test, see ``redact._SPREAD``)."""
    if not controls and text.isascii():
        return text
    if text.isascii():  # the same, at a tenth of the cost (a manifest's lines, say)
        joined = text.replace("\n", "")
        return joined if joined.isprintable() else joined.translate(_ASCII_DROPPED)
    # Decomposed only when that changes something (Chinese text without compatibility
    # punctuation: nothing, at a third of the cost). Any character can hide a mark in its
    # decomposition, not only accented Latin letters (the Angstrom sign is A and a ring).
    if not unicodedata.is_normalized("NFKD", text):
        text = unicodedata.normalize("NFKD", text)
    folded = unicodedata.normalize("NFKC", without_hidden(text, controls=controls))
    if "\u0131" in folded or "\u0130" in folded:
        folded = folded.translate(_LOOK_ALIKE)
    return folded


# Spaces and tabs, dropped from a folded text in a second look: a message that wraps a long
# value over lines with its own marks at the break, a secret spelled with a space between its
# characters (a secret's own spaces are kept in the first look).
BLANKS = str.maketrans(dict.fromkeys([0x20, 0x09]))
# A line break and what continues a wrapped line around it, left out in both looks: after it
# the next line's indent and its quoting prefix, "> " (an e-mail or Markdown quote, nested
# too), "| " (a table, a YAML-like dump) or "# " (a comment); before it a shell's "\" or a
# table's closing "|" (``joins``).
JOINS = re.compile(r"\r?\n[ \t]*(?:[>|#]+[ \t]*)*")
# A second look, with what else continues a line: a line break written as an escape (a JSON
# string's "\n", "\r\n" or "\u000a", escaped once or twice; an HTML "&#10;" or "&NewLine;", a
# YAML "\N" or "\L"), or as U+2028, U+2029 or NEL; the next line's prefix of other comment
# styles ("// ", "-- ", "; ", " * "), of a unified diff ("+ ", "- "), a CI log's timestamp, a
# line number ("12 | "), mixed and repeated.
# A look of its own: "+", "-" and "//" are also characters of a base64 text folded over lines
# and of secrets, which the first look keeps.
_STAMP = r"\[?(?:\d{4}-\d\d-\d\d[Tt ])?\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?[Zz]?\]?"
_BREAK = (
    r"(?:\r?\n|[\u2028\u2029\x85]|\\{1,2}(?:r\\{1,2})?n|\\{1,2}u(?:000[aAdD]|202[89])"
    r"|&#(?:0*1[03]|[xX]0*[aAdD]);?|&NewLine;|\\{1,2}[NLP])"
)
_INDENT = r"(?:[ \t]|\\{1,2}t)*"
_LINE_PREFIX = rf"(?:[>|#;*+-]+|//+|{_STAMP}|\d{{1,6}}[ \t]*[|:])"
WIDE_JOINS = re.compile(rf"{_BREAK}{_INDENT}(?:{_LINE_PREFIX}{_INDENT})*")
WIDE_JOINS_KEEPING_SIGNS = re.compile(
    rf"{_BREAK}{_INDENT}(?:(?:[>|#;*]+|//+|{_STAMP}|\d{{1,6}}[ \t]*[|:]){_INDENT})*"
)
# A line starting with a digit, and the timestamp or line number ("12 | ") it starts with.
# After a line break of any kind and any line prefix ("- ", "> ", "// "): possessive, a third of
# the time on a plan, and no way of splitting a run of marks to try again.
NUMBERED = re.compile(r"[\n\u2028\u2029\x85][ \t]*+(?:[>|#;*+/-]++[ \t]*+)*+\[?\d")
# Any number of them, mixed with a line's prefix marks ("1: 2: ", "[12:34] [12:34] ", "> 3 | "),
# as the wide way of joining lines leaves out (``_LINE_PREFIX``, repeated).
UNNUMBERED = re.compile(
    rf"(?<=\n)[ \t]*+(?:(?:[>|#;:*+/-]++|{_STAMP}|\d{{1,6}}(?=[ \t]*[|:]))[ \t]*+)++"
)
OTHER_BREAKS = str.maketrans(dict.fromkeys([0x2028, 0x2029, 0x85], "\n"))
# Whether a text has a line break the second way of joining lines knows and the first does
# not, or a line starting with one of its prefixes.
WIDE_BREAK = re.compile(r"\\[nruNLP]|&#|&NewLine;|[\u2028\u2029\x85]|\n[ \t]*[;*+/\d\[>|#-]")
# A separator between every two characters ("C-a-n-a-r-y", "C.a.n", "C - a", "'C', 'a'", a
# JSON list of them inside a JSON string, 'C\", \"a'): a mark and up to five more marks or
# blanks, a blank before it or not, the same each time, at least twice. A third look keeps only
# the characters such a run separates (a secret's own hyphen or space stays: "y---m" is "y-m",
# "r', ' ', 's" is "r s").
SEPARATED = re.compile(r".([ \t]?(?:[^\w\s]|_)[^\w\n]{0,5})(?:.\1)+.")


# A character written as an escape: by a JSON, Python or YAML string (escaped once or twice:
# a JSON string inside another), or a bytes repr of its UTF-8 ("\xe2\x80\x8b"), tried first:
# its bytes one by one are other characters.
_ESCAPED_CHAR = re.compile(
    r"(?P<utf8>\\x[c-fC-F][0-9a-fA-F](?:\\x[89abAB][0-9a-fA-F]){1,3})"
    # JSON's spelling of a character beyond the BMP: two escaped surrogates, read as one.
    r"|\\{1,2}u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\{1,2}u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\{1,2}(?:x(?P<x>[0-9a-fA-F]{2})|u(?P<u>[0-9a-fA-F]{4})|U(?P<U>[0-9a-fA-F]{8})"
    r"|(?P<letter>[0abtvfreNLP_ ]))"
)
# YAML's one-letter escapes (JSON's and Python's are among them); "\n" is a line break, which
# the wide way of joining lines leaves out with what continues it.
_LETTER_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "v": "\v", "f": "\f", "r": "\r",
    "e": "\x1b", "N": "\x85", "L": "\u2028", "P": "\u2029", "_": "\xa0", " ": " ",
}  # fmt: skip


def _shows_nothing(char: str) -> bool:
    """Whether folding drops ``char`` (``_dropped``) or it is a blank."""
    return bool(_dropped().fullmatch(char)) or unicodedata.normalize("NFKC", char).isspace()


def hidden_escapes(text: str) -> list[Span]:
    """The spans of ``text`` that are escapes of characters that show nothing (left out)."""
    spans: list[Span] = []
    for m in _ESCAPED_CHAR.finditer(text):
        chars = _escaped_chars(m)
        if chars is not None and all(_shows_nothing(c) for c in chars):
            spans.append((m.start(), m.end(), ""))
    return spans


# What the pre-test (``redact.Scrubber._may_hold``) reads as the characters they stand for: the
# escapes above, a line break escaped, a JSON string's own escapes of a quote, a backslash and a
# slash, and HTML's character references by number (the ";" may be left out, as browsers read
# them) and by name.
READ = re.compile(
    # Each escape in either case, and "\u" with eight digits: the references' pattern, written
    # for a caseless text, takes "\U0043", "\X43" and "\u00000043" for "C" too.
    r"(?P<utf8>\\[xX][c-fC-F][0-9a-fA-F](?:\\[xX][89abAB][0-9a-fA-F]){1,3})"
    r"|\\{1,2}[uU](?P<high>[dD][89abAB][0-9a-fA-F]{2})"
    r"\\{1,2}[uU](?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\{1,2}(?:[xX](?P<x>[0-9a-fA-F]{2})|[uU](?P<U>00(?:0[0-9a-fA-F]|10)[0-9a-fA-F]{4})"
    r"|[uU](?P<u>[0-9a-fA-F]{4})|(?P<letter>[0abtvfreNLP_ ]))"
    r"|\\{1,2}(?P<n>n)|\\{1,2}(?P<json>[\"\\/])"
    # ASCII digits only: "&#120９" is "x" and a fullwidth nine, as HTML reads it.
    r"|&#(?:0*(?P<dec>[0-9]{1,7})|[xX]0*(?P<hex>[0-9a-fA-F]{1,6}));?"
    r"|&(?P<name>[A-Za-z][A-Za-z0-9]{1,31});"
)


def read(m: re.Match[str]) -> str:
    """The characters the escape or reference ``m`` (of ``READ``) stands for: a one-letter
    escape a line break, one that stands for no character itself."""
    if m["letter"] or m["n"]:
        return "\n"
    if m["json"]:
        return m["json"]
    if m["dec"] or m["hex"]:
        code = int(m["dec"], 10) if m["dec"] else int(m["hex"], 16)
        return chr(code) if code <= sys.maxunicode else m[0]
    if m["name"]:
        return html.entities.html5.get(m["name"] + ";", m[0])
    return _escaped_chars(m) or m[0]


def _escaped_chars(m: re.Match[str]) -> str | None:
    """The characters an escape ``m`` of ``_ESCAPED_CHAR`` stands for, or None (bytes that are
    no UTF-8, a code beyond Unicode)."""
    if m["utf8"]:
        try:
            return bytes.fromhex(re.sub(r"\\[xX]", "", m["utf8"])).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if m["letter"]:
        return _LETTER_ESCAPES[m["letter"]]
    if m["high"]:
        return chr(0x10000 + ((int(m["high"], 16) - 0xD800) << 10) + int(m["low"], 16) - 0xDC00)
    code = int(m["x"] or m["u"] or m["U"], 16)
    return chr(code) if code <= sys.maxunicode else None


def merged(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """The spans of ``a`` and ``b`` in order; those that overlap made one that is left out (a
    line break's join and its escape), those that touch made one if both are left out."""
    spans: list[Span] = []
    for start, end, chars in sorted([*a, *b]):
        if spans and (start < spans[-1][1] or (start == spans[-1][1] and not chars + spans[-1][2])):
            spans[-1] = (spans[-1][0], max(spans[-1][1], end), "")
        else:
            spans.append((start, end, chars))
    return spans


def read_spans(text: str) -> list[Span]:
    """Each escape and character reference of ``text`` with the characters it stands for (a
    line break's escape left out: the wide way of joining lines knows it)."""
    spans: list[Span] = []
    for m in READ.finditer(text):
        if m["n"]:
            spans.append((m.start(), m.end(), ""))
            continue
        chars = read(m) if not m["letter"] else _LETTER_ESCAPES[m["letter"]]
        if chars != m[0]:
            spans.append((m.start(), m.end(), chars))
    return spans


def joins(text: str, joins: re.Pattern[str] = JOINS) -> list[Span]:
    """The spans of ``text`` that ``joins`` finds (left out), each with the "\\" or the closing
    "|" (and the blanks around it) that ends its line. Those are looked for backwards from the line
    break, not by the pattern: a pattern starting with blanks would try every blank of a long
    run again (a megabyte of spaces: minutes)."""
    spans: list[Span] = []
    done = 0
    for m in joins.finditer(text):
        start, end = m.span()
        if text[start - 1 : start] == "\\" and start - 1 >= done:
            start -= 1
        else:
            at = start
            while at > done and text[at - 1] in " \t":
                at -= 1
            if at > done and text[at - 1] == "|":
                at -= 1
                while at > done and text[at - 1] in " \t":
                    at -= 1
                start = at
        spans.append((start, end, ""))
        done = end
    return spans


def folded_chars(
    text: str, way: Sequence[Span], *, drop_blanks: bool
) -> tuple[list[str], list[int], list[int]]:
    """The characters of ``text`` folded, ``way``'s spans left out or read as their
    replacements (and blanks left out if ``drop_blanks``), each with where in ``text`` it
    starts and ends (a replacement's characters: its span)."""
    chars: list[str] = []
    owner: list[int] = []
    ends: list[int] = []

    def add(folded: str, start: int, end: int) -> None:
        for f in folded:
            if drop_blanks and f in " \t":
                continue
            chars.append(f)
            owner.append(start)
            ends.append(end)

    done = 0
    for start, end, replacement in [*way, (len(text), len(text), "")]:
        for i in range(done, start):
            c = text[i]
            # A printable ASCII character folds to itself, others one by one; a blank after
            # folding (a no-break space is a space) is a blank.
            add(c if " " <= c <= "~" else fold(c), i, i + 1)
        if replacement:
            add(fold(replacement), start, end)
        done = end
    return chars, owner, ends


def separated(text: str) -> list[range]:
    """The indexes of ``text`` kept by the look without separators (``SEPARATED``): every
    character outside a run, every other one (the separator left out) inside it."""
    kept: list[range] = []
    done = 0
    while (m := SEPARATED.search(text, done)) is not None:
        m = _longest_run(text, m)
        kept += [range(done, m.start()), range(m.start(), m.end(), len(m[1]) + 1)]
        done = m.end()
    kept.append(range(done, len(text)))
    return kept


def unseparated(text: str) -> str:
    """``text`` with the separators of its separated runs left out (``separated``)."""
    return "".join(text[r.start : r.stop : r.step] for r in separated(text))


def _longest_run(text: str, found: re.Match[str]) -> re.Match[str]:
    """``found``, or a run starting a few characters later that reads the same stretch with
    fewer marks left in it: the first match can start at a mark before the run and stop short
    ("['C', 'a'" read as "[" and "C" between quotes, instead of "C" and "a" between "', '"),
    or take every other separator for a character (a JSON list one per line, '["C","a"',
    read as "[", "C", ",", "a" between quotes: as far, but with the commas kept)."""
    runs = [found]
    for start in range(found.start() + 1, min(found.start() + 5, found.end())):
        other = SEPARATED.match(text, start)
        if other is not None:
            runs.append(other)
    if len(runs) == 1:
        return found
    end = max(r.end() for r in runs)

    def marks_left(run: re.Match[str]) -> int:
        # Over the same stretch for each: what a shorter run leaves after it counts as kept.
        kept = text[found.start() : run.start()] + text[run.start() : run.end() : len(run[1]) + 1]
        return sum(not c.isalnum() for c in kept + text[run.end() : end])

    # The fewest marks left; of those, the first found (``min`` keeps the first of equals).
    return min(runs, key=marks_left)


def joined(text: str, way: Sequence[Span]) -> str:
    """``text`` with ``way``'s spans left out or read as their replacements."""
    if not way:
        return text
    parts: list[str] = []
    done = 0
    for start, end, replacement in way:
        parts += [text[done:start], replacement]
        done = end
    parts.append(text[done:])
    return "".join(parts)


_ASCII_DROPPED = str.maketrans(dict.fromkeys([*range(0x20), 0x7F]))
_LOOK_ALIKE = str.maketrans({"\u0131": "i", "\u0130": "I"})
