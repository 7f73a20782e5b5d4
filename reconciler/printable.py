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
