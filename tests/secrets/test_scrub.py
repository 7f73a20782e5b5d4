"""A server that echoes the credentials, in any encoding, anywhere in any answer, never gets them
into a message, a hint, a traceback or a log line.

The forms checked are computed here, independently of the scrubber: the AppKey, the Master
Secret and their Basic token (base64 of ``appkey:secret``), each raw, upper- and lower-cased,
URL-encoded (both hex cases, ``+`` or ``%20`` for spaces), in base64 (standard and URL-safe,
with and without padding) and base32, as HTML character references and JSON escapes, in
fullwidth letters, and with invisible characters between its characters. Not only the whole
form must be absent: no piece of 12 characters of it may show either (a cut through a secret
leaks the piece before the cut).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import sys
import traceback
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reconciler.config.connection import ClientSettings, Credentials
from reconciler.errors import ReconcilerError
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import read_inventory
from tests.reliability.campaign import FULL

PIECE = 12  # the shortest piece of a secret that counts as a leak

_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Printable ASCII and a little more, without '*' (the mask itself).
_SECRET_ALPHABET = st.characters(
    min_codepoint=32, max_codepoint=0x24F, blacklist_characters="*", blacklist_categories=("Cs",)
)
_FILLER = st.text(
    alphabet=st.sampled_from(list("abcdefgh XYZ<>/=:\n\t\"'{}-_.%+0123456789")), max_size=3000
)


def b64_forms(raw: bytes) -> list[str]:
    out = []
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        out += [encoded, encoded.rstrip("=")]
    return out


def encodings(value: str) -> list[str]:
    """Every spelling of ``value`` a server could echo (see the module docstring)."""
    forms = [value, value.upper(), value.lower(), quote(value, safe=""), quote_plus(value, safe="")]
    forms += [f.lower() for f in forms[3:]]  # %2f as well as %2F
    raw = value.encode()
    b64 = b64_forms(raw)
    dumps = [raw.hex(), raw.hex().upper(), "".join(f"&#{ord(c)};" for c in value)]
    dumps.append("".join(f"&#x{ord(c):X};" for c in value))
    # An error page's escaper: zero-padded, upper-case X, and every other character left plain.
    dumps.append("".join(f"&#{ord(c):07d};" for c in value))
    dumps.append("".join(f"&#X{ord(c):06x};" for c in value))
    dumps.append("".join(c if i % 2 else f"&#{ord(c)};" for i, c in enumerate(value)))
    # JSON escapes (both hex cases), the fullwidth form (NFKC gives the secret back), and
    # invisible characters between the characters; base32 (in either case).
    dumps.append("".join(f"\\u{ord(c):04x}" for c in value))
    dumps.append("".join(f"\\u{ord(c):04X}" for c in value))
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in value)
    dumps += [fullwidth, "".join(f"\\u{ord(c):04x}" for c in fullwidth)]
    dumps += ["\u200b".join(value), "\u00ad".join(value), "\u2060".join(value)]
    base32 = base64.b32encode(raw).decode()
    dumps += [base32, base32.lower(), base32.rstrip("=")]
    # Look-alikes that fold back to it (mathematical letters; marks, selectors, fillers or
    # NULs, as UTF-16 read as UTF-8 gives, between its characters), byte escapes, escapes
    # escaped again, references without ";", backwards, split over two lines, MIME-folded
    # base64, and a piece of it on its own (a message cut short, an echoed prefix).
    dumps.append("".join(_bold(c) for c in value))
    dumps += ["".join(c + "\u0332" for c in value), "\ufe0f".join(value)]
    dumps += ["\u3164".join(value), "\u180b".join(value), "\x00".join(value)]
    dumps.append("".join(f"\\x{b:02x}" for b in raw))
    dumps.append("".join(f"\\\\u{ord(c):04x}" for c in value))
    dumps.append("".join(f"&#{ord(c)}" for c in value))
    half = len(value) // 2
    dumps += [value[::-1], value[:half] + "\n" + value[half:], value[:16], value[-16:]]
    dumps.append(base64.encodebytes(b"Authorization: Basic " + raw).decode())
    return forms + b64 + [quote(f, safe="") for f in b64] + dumps


def _bold(c: str) -> str:
    """``c`` as a mathematical bold letter or digit (NFKC folds it back)."""
    if "A" <= c <= "Z":
        return chr(0x1D400 + ord(c) - ord("A"))
    if "a" <= c <= "z":
        return chr(0x1D41A + ord(c) - ord("a"))
    if "0" <= c <= "9":
        return chr(0x1D7CE + ord(c) - ord("0"))
    return c


def embedded(value: str) -> list[tuple[str, str]]:
    """``value`` inside a longer base64 text (a dump of request headers), 0, 1 or 2 bytes into
    a group of three, with more after it: (the echoed text, the characters only ``value``'s
    bits make, which must not show)."""
    raw = value.encode()
    out = []
    for pad in (b"", b"x", b"xy", b"Authorization: Basic "):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(pad + raw + b"\r\nHost: x").decode()
            bits = 8 * len(pad)
            out.append((text, text[-(-bits // 6) : (bits + 8 * len(raw)) // 6]))
    return out


def all_forms(key: str, secret: str) -> list[str]:
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    forms = [f for v in (key, secret, token) for f in encodings(v)]
    return forms + [core for v in (key, secret, token) for _, core in embedded(v)]


def leaked_pieces(text: str, forms: list[str]) -> list[str]:
    """Pieces of ``PIECE`` characters of any form found in ``text`` (case-insensitive for the
    forms that are not base64: those are checked exactly)."""
    lowered = text.lower()
    found = []
    for form in forms:
        exact = _is_base64ish(form)  # once a form: each piece's test is a substring search
        for i in range(max(1, len(form) - PIECE + 1)):
            piece = form[i : i + PIECE]
            if piece in text or (not exact and piece.lower() in lowered):
                found.append(piece)
    return found


def _is_base64ish(form: str) -> bool:
    return all(c.isalnum() or c in "+/=-_%" for c in form)


class Kind:
    """How the echo is wrapped: which answer, on which call."""

    def __init__(self, name: str, answer: Callable[[str], httpx.Response]) -> None:
        self.name = name
        self.answer = answer

    def __repr__(self) -> str:
        return self.name


KINDS = [
    Kind("html 502", lambda body: httpx.Response(502, text=f"<html>{body}</html>")),
    Kind("html title", lambda body: httpx.Response(500, text=f"<title>{body}</title>")),
    Kind("text 404", lambda body: httpx.Response(404, text=body)),
    Kind(
        "json message",
        lambda body: httpx.Response(400, json={"error": {"code": 1, "message": body}}),
    ),
    Kind("json top-level", lambda body: httpx.Response(403, json={"code": 2, "message": body})),
    Kind("json odd shape", lambda body: httpx.Response(400, json={"detail": body})),
    Kind("200 not json", lambda body: httpx.Response(200, text=body)),
    Kind(
        "page with the echo as an id",
        lambda body: httpx.Response(
            200,
            json={
                "total_count": 1,
                "total_pages": 1,
                "schedules": [{"schedule_id": body, "name": "x", "enabled": True}],
            },
        ),
    ),
    Kind(
        "page with the echo as a name, twice",
        lambda body: httpx.Response(
            200,
            json={
                "total_count": 2,
                "total_pages": 1,
                "schedules": [
                    {"schedule_id": "a1", "name": body, "enabled": True},
                    {"schedule_id": "a1", "name": "other", "enabled": True},
                ],
            },
        ),
    ),
]


def everything_shown(exc: BaseException, logs: list[str]) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc), *logs]
    if isinstance(exc, ReconcilerError):
        parts.append(str(exc.hint))
    return "\n".join(parts)


class _Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _run_read(creds: Credentials, answer: httpx.Response) -> tuple[BaseException, list[str]]:
    logs = _Logs()
    root = logging.getLogger("reconciler")
    before = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(logs)

    async def go() -> None:
        client = EngageLabClient(
            ClientSettings(
                base_url="https://pushapi-sgp.engagelab.com",
                credentials=creds,
                rate_limit=1e6,
                max_retries=0,
            ),
            transport=httpx.MockTransport(lambda request: answer),
            rng=random.Random(0),
        )
        async with client:
            await read_inventory(client)

    try:
        asyncio.run(go())
    except ReconcilerError as exc:
        return exc, logs.lines
    finally:
        root.removeHandler(logs)
        root.setLevel(before)
    raise AssertionError("the echoing answer was accepted")


@settings(
    max_examples=600 if FULL else 120,
    deadline=None,
    derandomize=not FULL,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    key=st.text(alphabet=_KEY_ALPHABET, min_size=24, max_size=24),
    secret=st.text(alphabet=_SECRET_ALPHABET, min_size=PIECE, max_size=40).filter(
        lambda s: s.strip() == s and s.strip() != ""
    ),
    which=st.sampled_from(["key", "secret", "token"]),
    form=st.integers(min_value=0, max_value=30),
    before=_FILLER,
    after=_FILLER,
    kind=st.sampled_from(KINDS),
)
# Found unseeded: "İ" lower-cased by the server is "i" and a combining dot, and "¸" folds to a
# space and a cedilla (form 2: lower-cased); a quote JSON-escaped as \" and a control written
# \x7f, with zero-width spaces between the characters (form 26).
@example(
    key="0" * 24, secret="00000İ00000¸0", which="secret", form=2, before="", after="", kind=KINDS[0]
)
@example(
    key="0" * 24,
    secret='00000A00000"\x7f',
    which="secret",
    form=26,
    before="",
    after="",
    kind=KINDS[3],
)
def test_an_echoed_secret_in_any_encoding_at_any_offset_never_shows(
    key: str, secret: str, which: str, form: int, before: str, after: str, kind: Kind
) -> None:
    """Property: a credential echoed in any of its encodings, at any offset of an answer of
    any length and kind, shows nowhere (message, hint, traceback, debug log), whole or cut."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    value = {"key": key, "secret": secret, "token": token}[which]
    spellings = encodings(value) + [text for text, _ in embedded(value)]
    body = before + spellings[form % len(spellings)] + after
    forms = all_forms(key, secret)
    # filler that is itself a piece of a form ("000..." around a key of zeros) cannot be told
    # from a leak
    assume(leaked_pieces(f"{before}\x00{after}", forms) == [])
    exc, logs = _run_read(Credentials(app_key=key, master_secret=secret), kind.answer(body))
    # A secret that is a piece of the tool's own words ("RECONCILER.E" in the traceback's
    # "reconciler.errors") cannot be told from a leak either.
    assume(leaked_pieces(_own_words(exc), forms) == [])
    shown = everything_shown(exc, logs)
    assert leaked_pieces(shown, forms) == []


def _own_words(exc: BaseException) -> str:
    """What a traceback of ``exc`` shows that is the tool's, not the answer's: each frame's
    file, function and line of code, and the name of each exception in the chain."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__module__}.{type(seen).__qualname__}")
        for frame in traceback.extract_tb(seen.__traceback__):
            parts += [frame.filename, frame.name, frame.line or ""]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


KEY = "CanaryKey7Q2x9Z4w8K1mP3d"
SECRET = "canary/master secret+Vb7Xq29%LmZ"


def test_a_token_straddling_the_quote_limit_is_masked_whole() -> None:
    """The Basic token placed across the 200th character of a long HTML page: no piece of it
    is quoted (the answer is scrubbed before it is shortened)."""
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    for offset in range(150, 200):  # the token starts 171 to 220 characters in
        body = "x" * offset + f"Authorization: Basic {token} " + "y" * 5000
        exc, logs = _run_read(Credentials(KEY, SECRET), httpx.Response(502, text=body))
        assert leaked_pieces(everything_shown(exc, logs), all_forms(KEY, SECRET)) == []


def test_a_secret_deep_in_a_megabyte_answer_is_masked() -> None:
    """A megabyte answer opening with whitespace (collapsed away in the quote), then the
    secrets URL-encoded: none of it shows."""
    body = " \n" * 700 + quote(SECRET, safe="") + " " + quote(KEY, safe="").lower()
    body += " " * 1_000_000
    exc, logs = _run_read(Credentials(KEY, SECRET), httpx.Response(400, text=body))
    assert leaked_pieces(everything_shown(exc, logs), all_forms(KEY, SECRET)) == []


def test_thousands_of_hidden_pieces_in_one_text_are_each_masked() -> None:
    """A hostile answer repeats a 12-character piece of the AppKey with zero-width spaces
    between its characters, and the same piece split over two lines, thousands of times: each
    copy is masked, what lies between them is kept as it was (the masks are put back into
    the original text, in one pass)."""
    from reconciler.redact import REDACTED, Scrubber

    scrub = Scrubber(Credentials(KEY, SECRET).secrets())
    hidden = "\u200b".join(KEY[:12])
    split = KEY[:6] + "\n" + KEY[6:12]
    text = "".join(f"<{n}|{hidden}|{split}|>" for n in range(3000))
    shown = scrub(text)
    assert shown == "".join(f"<{n}|{REDACTED}|{REDACTED}|>" for n in range(3000))


def test_a_letter_hidden_in_any_decomposable_character_is_folded() -> None:
    """Folding drops the marks a character decomposes into, whatever its block: the Angstrom
    sign is A with a ring, like U+00C5, and the not-equal sign is "=" with a slash (base64
    padding). A hand-listed range of accented letters had left those two showing the
    credential around a 12-character piece."""
    from reconciler.redact import REDACTED, Scrubber

    key, secret = "CanaryKeyA7Q2x9Z4w8K1mP3d", "canary/master secret+Vb7Xq29%LmZ"
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    assert token.endswith("=")
    scrub = Scrubber(Credentials(key, secret).secrets())
    for hidden in (key.replace("A", "\u212b"), token[:-1] + "\u2260"):
        assert scrub(f"echo: {hidden} end") == f"echo: {REDACTED} end"


def test_folding_a_character_is_folding_its_decomposition() -> None:
    """Every character whose compatibility decomposition differs from it folds as that
    decomposition with its marks dropped: the fast paths of ``_fold`` leave out nothing."""
    import sys
    import unicodedata

    from reconciler.readings import _LOOK_ALIKE, _dropped
    from reconciler.readings import fold as _fold

    wrong = []
    for code in range(0x80, sys.maxunicode + 1):
        c = chr(code)
        if unicodedata.is_normalized("NFKD", c):
            continue
        bare = _dropped().sub("", unicodedata.normalize("NFKD", c))
        expected = unicodedata.normalize("NFKC", bare).translate(_LOOK_ALIKE)
        if _fold(c) != expected:
            wrong.append(f"U+{code:04X}")
    assert wrong == []


@pytest.mark.parametrize("controls", [True, False])
def test_what_folding_drops_is_the_same_on_either_of_its_paths(controls: bool) -> None:
    """Folding drops what shows nothing by a class of the Basic Multilingual Plane when the text
    has no character beyond it, and by a table otherwise (either is several times faster than
    the one class of every range): both drop exactly what that class matches, every code
    point."""
    from reconciler.readings import _dropped, without_hidden

    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    plane = everything[:0x10000]
    reference = _dropped(controls=controls)
    assert without_hidden(plane, controls=controls) == reference.sub("", plane)
    assert without_hidden(everything, controls=controls) == reference.sub("", everything)


def _wrapped(form: str, width: int, indent: str) -> str:
    """``form`` cut every ``width`` characters onto lines starting with ``indent``."""
    return ("\n" + indent).join(form[n : n + width] for n in range(0, len(form), width))


def test_a_secret_wrapped_over_indented_lines_is_masked() -> None:
    """An error message that wraps a long value over lines and indents the rest (a server's
    formatter, a proxy's error page): pieces shorter than 12 characters each, joined only
    once the line breaks and indents are left out. Every cut width from 3 to 12 and several
    indents, for each credential and their Basic token."""
    from reconciler.redact import Scrubber

    key, secret = "CanaryKeyA7Q2x9Z4w8K1mP3d", "canary/master secret+Vb7Xq29%LmZ"
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    scrub = Scrubber(Credentials(key, secret).secrets())
    for form in (key, secret, token):
        for width in range(3, PIECE + 1):
            for indent in ("", " ", "  ", "\t", "    "):
                shown = scrub(f"error: {_wrapped(form, width, indent)} (end)")
                joined = "".join(shown.split())
                assert leaked_pieces(joined, [form.replace(" ", "")]) == [], (width, indent)


def test_a_secret_with_every_byte_percent_encoded_is_masked() -> None:
    """``%48%6F...``: an encoder that escapes letters and digits too, in either hex case."""
    from reconciler.redact import REDACTED, Scrubber

    key, secret = "CanaryKeyA7Q2x9Z4w8K1mP3d", "Hostile-Secret-Value-XYZ"
    scrub = Scrubber(Credentials(key, secret).secrets())
    for value in (key, secret):
        every = "".join(f"%{b:02X}" for b in value.encode())
        for form in (every, every.lower()):
            assert scrub(f"secret {form} end") == f"secret {REDACTED} end"


def test_past_the_search_budget_a_text_like_the_credentials_is_masked_unsearched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Texts that pass the pre-test are searched up to ``SEARCH_BUDGET`` characters in all; past
    it each such text is masked whole, unsearched, and says why, while ordinary text is still
    left as it is. A hostile server's answers cost one command that much search at most."""
    from reconciler import redact
    from reconciler.redact import REDACTED, UNSEARCHED, Scrubber

    monkeypatch.setattr(redact, "SEARCH_BUDGET", 20_000)  # a fiftieth: the same, sooner
    scrub = Scrubber(Credentials(KEY, SECRET).secrets())
    like = f"near {SECRET[:6]} - {KEY[6:12]} x " * 50  # pieces of six: passes, holds no form
    assert scrub.may_hold(like)
    assert scrub(like) == like  # searched: nothing to mask
    for _ in range(redact.SEARCH_BUDGET // len(like)):
        scrub(like)
    assert scrub(like) == REDACTED + UNSEARCHED
    assert scrub(f"{SECRET} and more") == REDACTED + UNSEARCHED
    ordinary = "an ordinary line with nothing like a credential in it\n"
    assert scrub(ordinary) == ordinary
    # Another scrubber (the next command's) searches again.
    assert Scrubber(Credentials(KEY, SECRET).secrets())(like) == like


def test_a_long_output_is_searched_only_in_the_blocks_that_may_hold_a_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan of thousands of lines that passes the pre-test by chance on one line (a schedule
    id with a piece like a piece of the key) is searched only in the block of lines around it:
    the budget is not spent on the rest, and nothing is masked. A credential wrapped over the
    lines where a block would be cut is still masked whole."""
    from reconciler import redact
    from reconciler.redact import REDACTED, UNSEARCHED, Scrubber

    monkeypatch.setattr(redact, "SEARCH_BUDGET", 150_000)
    scrub = Scrubber(Credentials(KEY, SECRET).secrets())
    line = "  ~ update promo_{n:04d}  (id 6ba7b810-9dad-11d1-80b4-00c04fd430c8)\n"
    lines = [line.format(n=n) for n in range(8000)]
    lines[5100] = f"  ~ update near (id {'-'.join(KEY[6:12])})\n"  # passes, holds no form
    plan = "".join(lines)
    assert len(plan) > 3 * redact.SEARCH_BUDGET
    assert scrub.may_hold(plan)
    assert scrub(plan) == plan
    wrapped = lines[:]
    wrapped[127:129] = [f"  > {SECRET[:16]}\n", f"  > {SECRET[16:]}\n"]  # across a cut
    shown = Scrubber(Credentials(KEY, SECRET).secrets())("".join(wrapped))
    assert leaked_pieces(shown, all_forms(KEY, SECRET)) == []
    assert REDACTED in shown
    assert UNSEARCHED not in shown
