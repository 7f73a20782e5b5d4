"""Text from a file, a command line or a server, made safe to print: control characters escaped,
and whether it can be written at all (UTF-8).

A control character printed as it is ends a line (and can start one that GitHub Actions runs
as a workflow command, ``x\n::error::...``) or starts a terminal escape sequence (an OSC that
sets the window title or the clipboard). Messages show such text with the characters spelled
as Python writes them in a literal (``\\n``, ``\\x1b``, ``\\u2028``, ``\\u202e``). Pure, no I/O.
"""

from __future__ import annotations

import re

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


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character."""
    return CONTROL.search(text) is not None


def escaped(text: str) -> str:
    """``text`` with each control character spelled as an escape (``\\x1b``); the rest as is."""
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: not when it holds a lone surrogate, as a
    non-UTF-8 byte of a file name or command-line argument becomes (``surrogateescape``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
