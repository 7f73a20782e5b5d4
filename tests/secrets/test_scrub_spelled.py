"""A credential whose letters a server changes in ways the pattern's own case-insensitive
match does not see is masked on the way out (``scrubbed_output``): Unicode's full case
mappings (a server lower-casing "İ" writes two characters), a JSON string's own escapes.
"""

from __future__ import annotations

import sys

import pytest

from reconciler.redact import REDACTED, scrubbed_output
from tests.secrets.conftest import CANARY_KEY


def printed(text: str, key: str, secret: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """What reaches the terminal when a command writes ``text`` with these credentials."""
    monkeypatch.setenv("ENGAGELAB_APP_KEY", key)
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", secret)
    target = _Captured()
    monkeypatch.setattr(sys, "stdout", target)
    with scrubbed_output():
        sys.stdout.write(text)
    return target.text


class _Captured:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("case", ["lower", "upper", "casefold"])
def test_a_secret_whose_case_changes_its_length_is_masked(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server lower-casing "İ" writes "i" and a combining dot (Unicode's full mapping, as
    Java and JavaScript do); upper-casing "ß" writes "SS". With a character that folding
    changes too ("¸" is a space and a cedilla), plainly and with zero-width spaces between
    the characters."""
    key, secret = CANARY_KEY, "00000İ00000¸0ßx"
    changed = getattr(secret, case)()
    for text in (changed, "\u200b".join(changed)):
        shown = printed(f"echo: {text} (end)\n", key, secret, monkeypatch)
        assert shown == f"echo: {REDACTED} (end)\n", (case, shown)


def test_a_json_escaped_secret_with_hidden_characters_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A secret holding a quote and a control, echoed inside a JSON string (the quote escaped
    as \\") with zero-width spaces between its characters, the control written as ``\\x7f``
    by the tool's own escaping."""
    key, secret = CANARY_KEY, '00000A00000"\x7f'
    text = '{"message": "' + "\u200b".join(["0"] * 5 + ["A"] + ["0"] * 5 + ['\\"', "\\x7f"]) + '"}'
    shown = printed(text + "\n", key, secret, monkeypatch)
    assert shown == '{"message": "' + REDACTED + '"}\n', shown
