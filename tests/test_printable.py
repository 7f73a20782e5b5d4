"""Text made safe to print (``reconciler.printable``): JSON strings that show every character a
reader could miss, and the characters that show nothing."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.planning.diff import format_path
from reconciler.planning.firing_changes import _keys
from reconciler.printable import CONTROL, UNSEEN, UNSEEN_IN_WORDS, json_string

_RAW = re.compile(f"{CONTROL.pattern}|{UNSEEN.pattern}")


@given(st.text())
def test_a_json_string_is_the_same_text_with_nothing_unseen_in_it(text: str) -> None:
    written = json_string(text)
    assert json.loads(written) == text
    assert _RAW.search(written) is None


@given(st.lists(st.text(min_size=1), min_size=1, max_size=4))
def test_a_path_with_any_keys_is_read_back_as_its_keys(keys: list[str]) -> None:
    """``firing_changes`` reads a trigger's old values back from the diff's paths: a key written
    as a JSON string (quotes, backslashes, line breaks in it) is read as itself."""
    path = format_path(("trigger", *keys))
    assert _keys(path) == ["trigger", *keys]
    assert _RAW.search(path) is None


def test_every_format_character_of_this_pythons_unicode_is_spelled_in_a_word() -> None:
    """``UNSEEN_IN_WORDS`` is written out (a walk over every code point costs a third of a
    second at start-up); it must hold every format character (Cf) this Python knows."""
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Cf" and not UNSEEN_IN_WORDS.match(chr(code))
    ]
    assert missing == []
    assert UNSEEN_IN_WORDS.match("\u3164")
    assert UNSEEN_IN_WORDS.match("\ufe0f")
    assert not UNSEEN_IN_WORDS.search("promo_推送 1-2")


def test_an_unexpected_errors_message_is_printed_on_one_line_spelled_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The traceback of an unexpected error is written after the command's output streams are
    gone: a message quoting a file's or a server's text ("x\\n::error::...", ESC, "##[") would
    reach the CI log raw. The frames keep their lines; the message is one line, spelled out."""
    from reconciler import cli

    def fail() -> None:
        raise ValueError("bad\n::error::x\x1b]0;t\x07 ##[error]y\u202e")

    try:
        fail()
    except ValueError as exc:
        cli._redacted_traceback(ValueError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n  File ")
    assert "ValueError: bad\\n::error::x\\x1b]0;t\\x07 #\\u0023[error]y\\u202e\n" in err
    assert not [line for line in err.splitlines() if line.lstrip().startswith("::")]


def test_the_emulators_log_spells_a_requests_path() -> None:
    """The emulator's log names a request's path, which the server has decoded: any client's
    "%0A::error::x%1B" is a line break and an escape there."""
    from reconciler.emulator.middleware import _shown_path

    assert _shown_path({"path": "/v4/schedules/\n::error::x\x1b[31m"}) == (
        "/v4/schedules/\\n::error::x\\x1b[31m"
    )
