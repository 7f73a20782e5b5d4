"""A credential printed in a spelling that ordinary text never takes is masked on the way out
(``scrubbed_output``), and ordinary text that looks a little like it is left as it was.

The spellings: a value wrapped over lines continued by a comment's or a diff's marks ("// ",
"-- ", "; ", " * ", "+ ", "- "), a CI log's timestamps or a line number; a line break written as
an escape inside a JSON string ("\\n", "\\u000a", "\\r\\n", escaped twice); a separator between
every character ("C-a-n...", "C.a.n...", a JSON list of its characters); and the secret's
letters changed by Unicode's full case mappings (a server lower-casing "İ" writes two
characters). None of a credential's pieces of 12 characters may show once the marks are left
out.
"""

from __future__ import annotations

import base64
import json
import re
import sys

import pytest

from reconciler.redact import REDACTED, scrubbed_output
from tests.secrets.conftest import CANARY_KEY, CANARY_SECRET
from tests.secrets.test_scrub import PIECE, leaked_pieces

KEY = "CanaryKeyA7Q2x9Z4w8K1mP3d"
SECRET = "canary/master secret+Vb7Xq29%LmZ"
# The canary pair holds hyphens of its own: a separator that is also one of its characters.
PAIRS = ((KEY, SECRET), (CANARY_KEY, CANARY_SECRET))


def token(key: str, secret: str) -> str:
    return base64.b64encode(f"{key}:{secret}".encode()).decode()


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


_STAMPS = re.compile(
    r"\[?(?:\d{4}-\d\d-\d\d[T ])?\d\d:\d\d:\d\d(?:[.,]\d+)?Z?\]?|\d+ \| |\\u000a|\\r|\\n"
)


def bare(text: str) -> str:
    """``text`` without timestamps, escaped line breaks and every mark a wrap, a prefix or a
    separator puts in (the secret's own marks left out alike)."""
    return "".join(c for c in _STAMPS.sub("", text) if c.isalnum() or c == "<")


def shows(text: str, key: str, secret: str) -> list[str]:
    forms = [bare(f) for f in (key, secret, token(key, secret))]
    return leaked_pieces(bare(text), forms)


def wrapped(form: str, width: int, end: str, start: str) -> str:
    return (end + start).join(form[n : n + width] for n in range(0, len(form), width))


# Continuation lines of other comment styles, of a unified diff (the tool prints plans as
# diffs), of a CI log's timestamps and of a gutter's line numbers; mixed with the old ones.
PREFIXES = (
    "// ",
    "//",
    "  // ",
    "-- ",
    "; ",
    " * ",
    "+ ",
    "- ",
    "  ",
    "+",
    "-",
    "+ > ",
    "// # ",
    "2026-05-01T12:34:56.1234567Z ",
    "[2026-05-01T12:34:56.123Z] ",
    "12:34:56 ",
    "[12:34:56] ",
    "2026-05-01 12:34:56,123 ",
    "12 | ",
)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_secret_wrapped_over_lines_with_other_prefixes_is_masked(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cut width from 3 to 12, each credential and their Basic token, wrapped over
    lines that each start with the prefix: no piece of 12 characters shows."""
    for key, secret in PAIRS:
        for form in (key, secret, token(key, secret)):
            for width in range(3, PIECE + 1):
                text = f"{prefix}error: {wrapped(form, width, chr(10), prefix)} (end)\n"
                shown = printed(text, key, secret, monkeypatch)
                assert shows(shown, key, secret) == [], (form, width, shown)


# A line break as a JSON string, a log line or a YAML dump escapes it, with or without the
# next line's indent or prefix after it.
BREAKS = ("\\n", "\\r\\n", "\\\\n", "\\u000a", "\\u000A", "\\n  ", "\\n> ", "\\n// ", "\u2028> ")


@pytest.mark.parametrize("cut", BREAKS)
def test_a_secret_split_by_an_escaped_line_break_is_masked(
    cut: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON error body that folded a long value: "abc\\ndef" with a backslash and an n,
    or ``\\u000a``, at every cut width, inside a JSON string and on its own."""
    for key, secret in PAIRS:
        for form in (key, secret, token(key, secret)):
            for width in range(3, PIECE + 1):
                value = wrapped(form, width, "", cut)
                for text in (f'{{"error": {{"message": "bad: {value}"}}}}\n', f"{value}\n"):
                    shown = printed(text, key, secret, monkeypatch)
                    assert shows(shown, key, secret) == [], (form, width, shown)


SEPARATORS = ("-", ".", "_", ":", ",", "/", "|", " - ", ". ", "', '", '", "', "-\n> ")
# ASCII's marks that start a credential's encoded forms, and marks beyond ASCII.
SEPARATORS += ("$", "%", "&", " & ", "·", " — ", "•", "、", "・", "→", "€")


@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_secret_with_a_separator_between_every_character_is_masked(
    separator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``C-a-n-a-r-y...``: the credential, its Basic token and a piece of 12 characters, with
    the same mark between every two characters (also when it is one of the secret's own,
    as the canary secret's hyphens are), in a sentence and as a JSON list of characters."""
    for key, secret in PAIRS:
        for form in (key, secret, token(key, secret), key[:PIECE], secret[-PIECE:]):
            spelled = separator.join(form)
            for text in (f"the key {spelled} was refused\n", f"chars: ['{spelled}']\n"):
                shown = printed(text, key, secret, monkeypatch)
                assert REDACTED in shown, (form, separator, shown)
                assert shows(shown, key, secret) == [], (form, separator, shown)


def test_a_json_list_of_the_characters_printed_indented_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A JSON list of the credential's characters as a pretty-printer writes it (one per
    line) and as a JSON string holds it (its quotes escaped): the run of quoted characters
    must be read with ``", "`` as its separator, not ``"`` with the commas kept as characters
    (a run starting at the list's "[" went as far, and the credential stayed readable)."""
    for key, secret in PAIRS:
        for form in (key, secret, key[:PIECE], secret[-PIECE:]):
            for listed in (json.dumps(list(form), indent=2), json.dumps(list(form))):
                for text in (listed, json.dumps({"message": listed})):
                    shown = printed(text + "\n", key, secret, monkeypatch)
                    assert REDACTED in shown, (form, shown)
                    assert shows(shown, key, secret) == [], (form, shown)


def test_escapes_prefixes_and_separators_combined_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What an attacker would try once each spelling alone is masked: a separated secret
    wrapped over diff lines, an escaped break followed by a timestamp, prefixes mixed from
    line to line, blanks after a prefix."""
    key, secret = PAIRS[1]
    dashed = "-".join(key)
    texts = [
        f"+ {dashed[:15]}\n+ {dashed[15:30]}\n- {dashed[30:]}\n",
        f'{{"log": "{key[:5]}\\n2026-05-01T12:34:56Z {key[5:10]}\\n// {key[10:]}"}}\n',
        f"// {secret[:5]}\n-- {secret[5:10]}\n+ >  {secret[10:15]}\n;   {secret[15:]}\n",
        f"{'.'.join(secret[:10])}\n  // {'.'.join(secret[10:])}\n",
    ]
    for text in texts:
        shown = printed(text, key, secret, monkeypatch)
        assert shows(shown, key, secret) == [], (text, shown)
    # A separated run wrapped where its separator's blank is lost: masked whole, not only
    # from the wrap on.
    spaced = " - ".join(key)
    shown = printed(f"x {spaced[:29]}\n> {spaced[30:]} y\n", key, secret, monkeypatch)
    assert shown == f"x {REDACTED} y\n", shown


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


# Ordinary text with the same marks: hyphenated words, dates, UUIDs, versions, a diff, a CI
# log, JSON with escaped line breaks, a C comment, SQL; nothing masked, nothing moved.
ORDINARY = [
    "Café · Bäckerei — 20 % off & more • 周末大促，全场八折！ → €9.99 $5 ★★★\n",
    "a well-known, up-to-date, state-of-the-art e-mail re-sent to co-workers\n",
    "2026-05-01 2026-05-01T12:34:56.1234567Z 12:34:56 1.2.3.4 10.0.0.1 v1.2.3-rc.4\n",
    "550e8400-e29b-41d4-a716-446655440000 6ba7b810-9dad-11d1-80b4-00c04fd430c8\n",
    "C-a-n-a-r-y K-e-y is spelled out, as is m.a.s.t.e.r k.e.y\n",
    "2026-05-01T12:34:56.1234567Z + create promo\n2026-05-01T12:34:57.0000000Z   ~ update x\n",
    "--- a/schedules/promo.yaml\n+++ b/schedules/promo.yaml\n@@ -1,3 +1,3 @@\n-name: a\n+name: b\n",
    '{"alert": "line one\\nline two\\r\\nline three\\u000aend", "k": "a-b-c-d-e-f-g"}\n',
    "/*\n * Canary Key rotation\n * master key\n */\n// done\n-- SELECT 1;\n; ini comment\n",
    '["C", "a", "n", "a", "r", "y"] [\'x\', \'y\', \'z\']\n',
    "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_with_these_marks_is_left_alone(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, secret in PAIRS:
        assert printed(text, key, secret, monkeypatch) == text
        for line in text.splitlines(keepends=True):
            assert printed(line, key, secret, monkeypatch) == line


# What the tool's own escapers write for a character that shows nothing: `responses.harmless`
# and a bytes repr (`\x01`, `\x7f`), a JSON string (`\u0001`, `\ufeff`, `\b`, `\f`, escaped
# twice inside another JSON string), a YAML double-quoted scalar (`\x7F`, `\N`, `\L`, `\P`, `\e`,
# `\a`, `\v`, `\0`, `\_`), a bytes repr of a zero-width space's UTF-8 (`\xe2\x80\x8b`).
ESCAPED_HIDDEN = [
    "\\x01", "\\x1b", "\\x7f", "\\x7F", "\\x85", "\\u0001", "\\u001F", "\\ufeff", "\\uFEFF",
    "\\u200b", "\\u2028", "\\u202e", "\\U000e0041", "\\b", "\\f", "\\r", "\\t", "\\e", "\\a",
    "\\v", "\\0",
    "\\N", "\\L", "\\P", "\\_", "\\\\u0001", "\\\\x01", "\\xe2\\x80\\x8b", "\\xc2\\xad",
    "\\udb40\\udc41", "\\ud834\\udd73",
]  # fmt: skip


@pytest.mark.parametrize("hidden", ESCAPED_HIDDEN)
def test_a_secret_with_an_escaped_hidden_character_between_its_characters_is_masked(
    hidden: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server puts a control or an invisible character between a credential's characters;
    an escaper writes it as text (a plan's change line, `remote show`, a name made harmless, an
    HTTP parser's quote of a header): read as nothing, as the character itself is."""
    for key, secret in PAIRS:
        for value in (secret, key, secret[: PIECE + 2], secret[::-1]):
            text = f'~ alert: "{hidden.join(value)}" -> "x"\n'
            shown = printed(text, key, secret, monkeypatch)
            assert not leaked_pieces(shown.replace(hidden, ""), [key, secret]), (hidden, shown)
            assert shown.startswith('~ alert: "'), shown
            assert shown.endswith('" -> "x"\n'), shown


def test_what_the_tools_escapers_make_of_a_spread_secret_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every character that shows nothing, put between the secret's characters, through each
    escaper that writes server text: a plan's change line, a name made harmless, a YAML dump."""
    from reconciler.manifests.export import dump_yaml
    from reconciler.remote.responses import harmless
    from reconciler.render.describe import value_text

    hidden = [*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0))]
    hidden += ["\u00ad", "\u200b", "\u2028", "\u2029", "\u2060", "\ufeff", "\u202e", "\u2067"]
    for key, secret in PAIRS:
        for c in hidden:
            if c == "\n":
                continue  # a raw line break: the line-continuation looks (other tests)
            spread = c.join(secret)
            for make in (value_text, harmless, lambda v: dump_yaml({"alert": v})):
                text = make(spread)
                shown = printed(text + "\n", key, secret, monkeypatch)
                assert secret not in shown
                bare = re.sub(r"\\+(?:x..|u....|U........|.)", "", shown)
                assert not leaked_pieces(bare, [secret]), (repr(c), make, shown)


@pytest.mark.parametrize(
    "text",
    [
        'C:\\new\\table\\x01 and \\N \\L \\P are YAML escapes; "\\u0041\\u0042" is AB\n',
        '{"alert": "line\\u2028two\\ttab\\u00adhy", "path": "C:\\\\build\\\\release"}\n',
        "illegal header line: bytearray(b'X-Trace: \\x01\\x02abc')\n",
    ],
)
def test_ordinary_text_with_escapes_is_left_alone(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, secret in PAIRS:
        assert printed(text, key, secret, monkeypatch) == text


# Characters that show nothing beyond the scrubber's first list: a Hebrew point, a musical
# format control, an interlinear annotation mark, an Arabic number sign, a combining enclosing
# circle, the Ogham space mark.
RAW_HIDDEN = ["\u05b0", "\U0001d173", "\ufff9", "\u0600", "\u20dd", "\u1680", "\U000e0041"]


@pytest.mark.parametrize("hidden", RAW_HIDDEN)
def test_a_secret_with_any_format_character_or_mark_between_its_characters_is_masked(
    hidden: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raw, and as the tool's escapers write it."""
    from reconciler.manifests.export import dump_yaml
    from reconciler.render.describe import value_text

    for key, secret in PAIRS:
        spread = hidden.join(secret)
        for text in (spread, value_text(spread), dump_yaml({"alert": spread}), repr(spread)):
            shown = printed(f"{text}\n", key, secret, monkeypatch)
            bare = re.sub(r"\\+(?:x..|u....|U........|.)", "", shown.replace(hidden, ""))
            assert not leaked_pieces(bare, [secret]), (repr(hidden), shown)


def _visible_marks() -> list[str]:
    """Every mark and symbol beyond ASCII that Unicode's compatibility folding leaves without a
    letter or digit (those that fold to some, "™" or a circled letter, are written in
    docs/threat-model.md as not caught)."""
    import unicodedata

    return [
        c
        for c in map(chr, range(0xA0, sys.maxunicode + 1))
        if unicodedata.category(c)[0] in "PS"
        and not any(f.isalnum() for f in unicodedata.normalize("NFKC", c))
    ]


def test_a_secret_with_any_visible_mark_between_its_characters_is_masked() -> None:
    """``C·a·n``, ``C—a—n``, ``C$a$n``: any mark beyond ASCII (about 7600 of them), and ASCII's
    "$", "%" and "&", between every two characters of a credential or of a piece of 12 of
    them. The pre-test's anchors passed over ASCII's other marks only, so the look without
    separators never saw these."""
    from reconciler.redact import Scrubber

    key, secret = PAIRS[0]
    scrub = Scrubber([key, secret, token(key, secret)])
    marks = _visible_marks()
    assert len(marks) > 7000
    shown = {
        mark: text
        for mark in [*marks, "$", "%", "&"]
        for form in (key, secret[-PIECE:])
        if REDACTED not in (text := scrub(f"x {mark.join(form)} y"))
    }
    assert shown == {}


def test_a_piece_of_a_secret_of_digits_and_marks_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A piece whose anchor is half digits with a mark between two of them ("2024-05"): the
    digits of such an anchor were allowed only a line's wrap between them, so the anchor did
    not find its own text and the piece showed."""
    secret = "2024-05-17T10:20:30Zq8Rn4Tw"
    for piece in (secret[:PIECE], secret[3 : 3 + PIECE]):
        shown = printed(f"x {piece} y\n", "CanaryKeyA7Q2x9Z4w8K1mP3d", secret, monkeypatch)
        assert shown == f"x {REDACTED} y\n", piece


def test_escapes_and_references_pass_the_pre_test_only_when_they_spell_a_credential() -> None:
    """Read as the characters they stand for: a secret spelled in character references or
    escapes (mixed, padded, escaped twice) still passes the pre-test and is masked, while
    ordinary text full of them (an HTML-escaped push, a Windows path, JSON escapes) no longer
    passes it and is not searched in every look."""
    from reconciler.redact import Scrubber

    key, secret = PAIRS[0]
    scrub = Scrubber([key, secret, token(key, secret)])
    spelled = [
        "".join(f"&#{ord(c)};" for c in secret),
        "".join(f"&#x{ord(c):X}" for c in key),
        "".join(f"\\u{ord(c):04x}" if n % 2 else c for n, c in enumerate(secret)),
        "".join(f"\\\\u{ord(c):04X}" for c in key),
        "".join(f"\\x{ord(c):02x}" for c in secret),
        "".join(f"&#000{ord(c)}" + ("\\u200b" if n % 3 else "") for n, c in enumerate(key)),
    ]
    for text in spelled:
        assert scrub.may_hold(text), text
        assert REDACTED in scrub(f"x {text} y"), text
    ordinary = [
        "Caf&#233; &amp; cr&#xE8;me br&#251;l&#233;e &#127881; \\u00e9\\u00e8 \\U0001F600\n",
        'C:\\Users\\xavier\\Documents {"a": "line\\nnext \\"quoted\\" \\/ \\u0041BC"}\n',
        "".join(f"&#{ord(c)};" for c in "an ordinary sentence, spelled in references") + "\n",
    ]
    for text in ordinary:
        assert not scrub.may_hold(text), text
        assert scrub(text) == text


# A line break of another kind (U+2028, NEL, an escaped one), or a line prefix, before a CI
# log's timestamp or a line number: the pre-test left those out only right after a "\n".
STAMPED_BREAKS = (
    "\u20282026-05-01T12:34:56Z ",
    "\u2028[12:34:56] ",
    "\x8512 | ",
    "\n> 12:34:56 ",
    "\n- [12:34:56] ",
    "\n// 12:34:56 ",
    "\n| 12 | ",
    "\\n> 12:34:56 ",
)


@pytest.mark.parametrize("brk", STAMPED_BREAKS)
def test_a_secret_broken_before_every_anchor_by_a_stamped_line_is_masked(
    brk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A break three characters into every anchor of six, so no anchor shows whole on a line."""
    for key, secret in PAIRS:
        for form in (key, secret):
            cut = [form[:3]] + [form[n : n + 6] for n in range(3, len(form), 6)]
            shown = printed(f"msg: {brk.join(cut)} end\n", key, secret, monkeypatch)
            assert REDACTED in shown, (form, shown)
            assert shows(shown, key, secret) == [], (form, shown)


def _refs(text: str) -> str:
    return "".join(f"&#{ord(c)};" for c in text)


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _math(text: str) -> str:
    """Capital letters as mathematical bold capitals, written as references."""
    return "".join(f"&#{0x1D400 + ord(c) - 65};" if "A" <= c <= "Z" else c for c in text)


# A credential in another case and then escaped, a piece of one in references, characters that
# show nothing written as references between its characters, mathematical letters escaped.
READ_SPELLINGS = {
    "references of the lower-cased key": lambda k, s: _refs(k.lower()),
    "escapes of the upper-cased secret": lambda k, s: _escaped(s.upper()),
    "references of the case-swapped secret": lambda k, s: _refs(s.swapcase()),
    "every other character a reference, lower-cased": lambda k, s: "".join(
        f"&#{ord(c)};" if n % 2 else c for n, c in enumerate(k.lower())
    ),
    "references of a piece of 12": lambda k, s: _refs(k[:PIECE]),
    "escapes of a piece of 15": lambda k, s: _escaped(k[5:20]),
    "a plain piece, then the rest in references": lambda k, s: k[:PIECE] + _refs(k[PIECE:]),
    "zero-width spaces as references": lambda k, s: "&#8203;".join(k),
    "soft hyphens by name": lambda k, s: "&shy;".join(k),
    "zero-width joiners by name": lambda k, s: "&zwj;".join(s),
    "combining accents as references": lambda k, s: "&#769;".join(k),
    "mathematical capitals as references": lambda k, s: _math(k),
    "mathematical capitals as JSON surrogates": lambda k, s: "".join(
        "\\ud835\\udc02" if c == "C" else c for c in k
    ),
}


def _read_back(text: str) -> str:
    """What a reader makes of ``text``: references and escapes read, folded, what shows
    nothing left out."""
    import html
    import unicodedata

    text = html.unescape(text)
    text = re.sub(
        r"\\u(d[89ab]..)\\u(d[c-f]..)",
        lambda m: chr(0x10000 + ((int(m[1], 16) - 0xD800) << 10) + int(m[2], 16) - 0xDC00),
        text,
    )
    text = re.sub(
        r"\\(?:u(....)|U(........)|x(..))", lambda m: chr(int(m[1] or m[2] or m[3], 16)), text
    )
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", text))
    return "".join(c for c in text if not unicodedata.category(c).startswith(("M", "C")))


@pytest.mark.parametrize("spelling", READ_SPELLINGS)
def test_a_credential_spelled_in_references_or_escapes_any_way_is_masked(
    spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read as the characters they stand for, in looks of their own: no piece of 12 characters
    of either credential, in any case, is left to read back."""
    for key, secret in PAIRS:
        text = READ_SPELLINGS[spelling](key, secret)
        shown = printed(f"x {text} y\n", key, secret, monkeypatch)
        assert REDACTED in shown, shown
        assert leaked_pieces(_read_back(shown), [key, secret]) == [], shown


# Several timestamps or line numbers, mixed with prefix marks, at the start of each line.
REPEATED_PREFIXES = ("1: 2: ", "12:34 12:34 ", "[12:34] [12:34] ", "> 1 | 2: ", "- [12:34] 3 | ")


@pytest.mark.parametrize("prefix", REPEATED_PREFIXES)
def test_a_secret_in_pieces_of_five_after_repeated_line_numbers_is_masked(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces shorter than an anchor, each line after the first starting with two numbers or
    stamps: the pre-test left out one only. The secret's own "+" at a line's start after
    them was eaten as a diff's sign, so its last twelve characters showed."""
    for key, secret in PAIRS:
        for form in (key, secret):
            text = f"\n{prefix}".join(form[n : n + 5] for n in range(0, len(form), 5)) + "\n"
            shown = printed(text, key, secret, monkeypatch)
            assert REDACTED in shown, (form, shown)
            assert shows(shown, key, secret) == [], (form, shown)


def test_a_secret_in_pieces_far_apart_across_a_block_cut_is_masked() -> None:
    """A long output is searched in blocks of lines; pieces of five characters with 70 blank
    lines between them, one just after a cut: blank lines join the lines around them, so the
    lines looked at around a cut are those with a letter or a digit."""
    from reconciler.redact import Scrubber

    key, secret = PAIRS[0]
    filler = [
        f"  ~ update promo_{n:04d}  (id 6ba7b810-9dad-11d1-80b4-00c04fd430c8)\n" for n in range(131)
    ]
    pieces = [key[n : n + 5] + "\n" + "\n" * 70 for n in range(0, len(key), 5)]
    tail = [
        f"  ~ update later_{n:04d}  (id 6ba7b810-9dad-11d1-80b4-00c04fd430c8)\n"
        for n in range(1000)
    ]
    text = "".join(filler + pieces + tail)
    assert len(text) > 64_000
    shown = Scrubber([key, secret, token(key, secret)])(text)
    assert REDACTED in shown
    assert shows(shown, key, secret) == []
