"""Text from a file, a command line or a server, made safe to print: control characters escaped,
and whether it can be written at all (UTF-8).

A control character printed as it is ends a line (and can start one that GitHub Actions runs
as a workflow command, ``x\n::error::...``) or starts a terminal escape sequence (an OSC that
sets the window title or the clipboard). Messages show such text with the characters spelled
as Python writes them in a literal (``\\n``, ``\\x1b``, ``\\u2028``, ``\\u202e``). Pure, no I/O.
"""

from __future__ import annotations

import json
import re
import unicodedata

# C0 and C1 controls, DEL, the two Unicode line and paragraph separators (line breaks to
# many viewers), and the bidirectional embeddings, overrides and isolates: invisible, they make a
# terminal or a pull request's page show the rest of the line reversed or reordered, so a name
# or a server's message could read as something else. The class is the one names and file names
# are checked with elsewhere.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# What the output streams write as an escape, whatever the text (``redact.ScrubbingStream``):
# the C1 controls (0x9b starts a terminal's control sequence as ESC [ does) and the
# bidirectional embeddings, overrides and isolates (a plan on a pull request or in a terminal
# shown reordered). The tool's own output holds none of them; JSON leaves them raw in strings.
_NEVER_RAW = re.compile(r"[\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def never_raw(text: str) -> str:
    """``text`` with the characters of ``_NEVER_RAW`` written ``\\u202e``: the same for a
    reader, and the same JSON for JSON text (they can only stand inside its strings)."""
    if text.isascii() or _NEVER_RAW.search(text) is None:
        return text
    return _NEVER_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# What a reader cannot see in a line of text: the format characters that show nothing (the
# zero-width spaces, the soft hyphen, the word joiner, the byte-order mark, the direction marks,
# the bidirectional controls that reorder the rest of the line), the combining grapheme joiner
# and the Hangul fillers. A key "k" and one with a zero-width space after it, or an alert and
# the same alert with a soft hyphen, look the same. Wherever a reader compares texts (an
# exported manifest, a plan's field line) they are written as ``\u200b`` escapes. Left as they
# are: the joiners U+200C and U+200D, the variation selectors and the tag characters, which
# emoji sequences (a flag, a family) and several scripts need and which show as what they join;
# and the format characters that show a sign (the Arabic number signs).
UNSEEN = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001]"
)

# Every character that shows nothing on its own: Unicode's format characters (category Cf, as
# Python 3.11's Unicode 14.0 lists them: the soft hyphen, the joiners and the tags included), the
# combining grapheme joiner, the Hangul fillers and the variation selectors. No schedule name
# holds one (letters, digits, _ and Chinese characters, docs/api.md 2); in a name or a word from
# a server each would make it read as another ("promo" and "promo\u200d"), so all are spelled.
UNSEEN_IN_WORDS = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f"
    "\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)

# What a name or a word from elsewhere spells out: the controls and what shows nothing.
SPELLED_IN_WORDS = re.compile(f"{CONTROL.pattern}|{UNSEEN_IN_WORDS.pattern}")

# Every blank but the space, and the braille blank: a no-break or an ideographic space reads
# as a space (in JSON text, and in a name, a raw line break or tab is spelled already).
OTHER_BLANKS = re.compile("[^\\S ]|\u2800")

# In a JSON text: what JSON leaves raw in a string and no reader should get raw (DEL, the C1
# controls, the line and paragraph separators) and ``UNSEEN``.
_RAW_IN_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029{UNSEEN.pattern[1:-1]}]")
_encode = json.encoder.encode_basestring  # a JSON string, non-ASCII text kept as it is


def spelled(char: str) -> str:
    """``char`` as a Python, YAML or bash ``$'...'`` escape: ``\\xad``, ``\\u200b``, or
    ``\\U000e0001`` beyond the BMP."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_spelled(match: re.Match[str]) -> str:
    """The character as a JSON escape: beyond the BMP, its two UTF-16 halves (JSON has no
    ``\\U``)."""
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def shown_json(text: str) -> str:
    """A JSON text with the characters of ``_RAW_IN_JSON`` written as ``\\u`` escapes: the same
    JSON, whose strings read as they are (they can only stand inside its strings)."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _RAW_IN_JSON.sub(_json_spelled, text)


def json_string(text: str) -> str:
    """``text`` as a JSON string literal that shows every character a reader could miss: line
    breaks and controls as JSON escapes (``\\n``, ``\\u001b``), and those of ``shown_json``."""
    return shown_json(_encode(text))


# GitHub Actions' runner also reads its older command syntax, "##[error]...", and not only at a
# line's start: anywhere in a line of a job's log ("##[stop-commands]x" switches off every later
# annotation). The tool writes none itself; where a name, a key, a value or a server's message
# holds one, its "#" is written as an escape.
_LEGACY_COMMAND = "##["


def inert(text: str) -> str:
    """``text`` with every ``##[`` written ``#\\u0023[``: no command to the runner, and the same
    JSON in JSON text (it can only stand inside a string there)."""
    return text.replace(_LEGACY_COMMAND, "#\\u0023[") if _LEGACY_COMMAND in text else text


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character."""
    return CONTROL.search(text) is not None


def escaped(text: str) -> str:
    """``text`` with each control character spelled as an escape (``\\x1b``) and ``inert``; the
    rest as is."""
    return inert(CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: not when it holds a lone surrogate, as a
    non-UTF-8 byte of a file name or command-line argument becomes (``surrogateescape``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def columns(text: str) -> int:
    """Terminal columns ``text`` takes: two for a wide (East Asian) character, none for a
    combining mark, one for the rest; for aligning tables of task names, most of them Chinese
    in some apps."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def padded(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal columns (``columns``)."""
    return text + " " * max(0, width - columns(text))
