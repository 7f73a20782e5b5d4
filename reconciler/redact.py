"""Keep the configured credentials out of every message the reconciler prints.

One job: replace any value equal to a configured credential (the AppKey and Master Secret in
the environment variables the configuration names, and their Basic-auth token) in a text about
to be shown. Errors quote user files (a manifest that is a copy of ``.env``, a mistyped key
that happens to be the secret); whatever their source, a credential never reaches the
terminal, a CI log or a pull-request annotation.

``scrubbed_output`` applies this to every write to stdout and stderr while a command runs (a
task name, an alert text or a file name equal to a credential is as much a leak as an error
message), in every spelling ``Scrubber`` knows, with one compiled pattern.
"""

from __future__ import annotations

import base64
import bisect
import html
import html.entities
import itertools
import json
import os
import re
import string
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from reconciler import readings
from reconciler.formsearch import FormSearch, caseless
from reconciler.limits import REMOTE_TEXT_MAX_CHARS, SEARCH_BUDGET
from reconciler.printable import inert, never_raw
from reconciler.settings import APP_KEY_ENV, MASTER_SECRET_ENV

DEFAULT_VARIABLES = (APP_KEY_ENV.default, MASTER_SECRET_ENV.default)
REDACTED = "<redacted>"
# The YAML tag `reconciler export` puts on a value it redacted: the manifest reader refuses it,
# so a file nobody fixed can never send the placeholder to users as a push's text.
REDACTED_TAG = "!redacted"
# Shorter values would redact ordinary words; no real AppKey (24 characters) or Master Secret
# is this short.
MIN_SECRET_LENGTH = 6

_variables: dict[str, None] = dict.fromkeys(DEFAULT_VARIABLES)


def watch(names: Iterable[str]) -> None:
    """Also treat the values of these environment variables as credentials.

    Called with the ``app_key_env`` / ``master_secret_env`` of every configured environment.
    """
    global _output_scrubber
    for name in names:
        if name not in _variables:
            _variables[name] = None
            _output_scrubber = None  # rebuilt with the new values on the next write


def secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The credential values to hide, longest first (so no longer one is hidden only in part)."""
    env = os.environ if environ is None else environ
    values = [env.get(name, "").strip() for name in _variables]
    found = [v for v in values if len(v) >= MIN_SECRET_LENGTH]
    tokens = [_basic(a, b) for a in found for b in found if a != b]  # their Basic-auth value
    return sorted(set(found + tokens), key=len, reverse=True)


Where = tuple[tuple[Any, ...], bool]  # a path of keys and indexes; whether a key at its end


def scrub_tree(
    value: Any,
    scrub: Callable[[str], str],
    found: list[Where] | None = None,
    *,
    mark: Callable[[str], str] = str,
    path: tuple[Any, ...] = (),
) -> Any:
    """``value`` (JSON-like) with ``scrub`` applied to every key and text in it, each changed
    one passed through ``mark``; ``found`` gets where each was (keys included: an extras key
    can hold a credential as well as a text)."""
    if isinstance(value, str):
        cleaned = scrub(value)
        if cleaned == value:
            return value
        if found is not None:
            found.append((path, False))
        return mark(cleaned)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = scrub(key) if isinstance(key, str) else key
            if name != key:
                if found is not None:
                    found.append(((*path, key), True))
                name = mark(name)
            out[name] = scrub_tree(item, scrub, found, mark=mark, path=(*path, name))
        return out
    if isinstance(value, list):
        return [
            scrub_tree(item, scrub, found, mark=mark, path=(*path, n))
            for n, item in enumerate(value)
        ]
    return value


def _basic(app_key: str, secret: str) -> str:
    """The value of a Basic ``Authorization`` header for the two."""
    return base64.b64encode(f"{app_key}:{secret}".encode()).decode("ascii")


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every configured credential replaced by ``<redacted>``."""
    for value in secrets(environ):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


# A text longer than any one value of a schedule from the server (``REMOTE_TEXT_MAX_CHARS``)
# with room to spare: a command's whole output (a plan, a report), searched in blocks of lines
# (``Scrubber._blocks``).
_WHOLE = 4 * REMOTE_TEXT_MAX_CHARS
_BLOCK_LINES = 128
# What a text masked unsearched past ``SEARCH_BUDGET`` says after the mask.
UNSEARCHED = (
    " (not shown: this command met more text like the credentials than it searches; "
    "a server echoing them? check --endpoint and any proxy in between)"
)
MIN_DERIVED = 6  # the shortest encoded spelling of a secret that is masked
PIECE = 12  # the shortest piece of a secret that is masked on its own
ANCHOR = PIECE // 2  # what the pre-test looks for (see Scrubber)


def secret_forms(secret: str, *, pieces: bool = True) -> tuple[set[str], set[str]]:
    """The spellings of ``secret`` a server could echo: (case-insensitive ones, exact ones).

    Raw and URL-encoded (``%2f`` and ``%2F`` alike; ``+`` or ``%20`` for a space) are matched in
    any case: a secret upper-cased by a proxy still gives most of it away. Base64 (standard and
    URL-safe alphabet, with and without padding, also URL-encoded) is matched exactly: another
    case is another value.
    """
    raw = secret.encode()
    loose = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    # Every byte escaped, letters and digits too (some encoders do; ``quote`` leaves them).
    loose.add("".join(f"%{b:02X}" for b in raw))
    loose.add(raw.hex())  # a dump of the bytes (HTML character references: ``_referenced``)
    # Both of those of the secret in another case too: a byte's escape or hex is no letter
    # the search could take in another case.
    for cased in {secret.lower(), secret.upper()} - {secret}:
        loose |= {"".join(f"%{b:02X}" for b in cased.encode()), cased.encode().hex()}
    exact: set[str] = set()
    base32 = base64.b32encode(raw).decode()
    loose |= {base32, base32.rstrip("=")}  # base32 ignores case
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        for form in (encoded, encoded.rstrip("=")):
            exact.add(form)
            loose.add(quote(form, safe=""))
    # Inside a longer encoded text (a dump of the request's headers) the secret starts 0, 1 or
    # 2 bytes into a group of three: the characters that hold only its bits differ for each.
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(bytes(shift) + raw).decode()
            exact.add(encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6])
    # What escapers make of it: a JSON string (a quote, a backslash, a tab in the secret),
    # HTML (a markdown comment), a GitHub workflow command's message and property values.
    loose |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    loose |= {html.escape(secret), html.escape(secret, quote=False)}
    workflow = secret.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    loose |= {workflow, workflow.replace(":", "%3A").replace(",", "%2C")}
    loose.add(secret[::-1])  # written backwards
    spelled = {secret, *_recased(secret)}
    loose |= spelled
    # Any piece of PIECE characters of it gives most of it away (a message cut short, a
    # server that echoes a prefix): every such piece is masked wherever it shows.
    if pieces:
        loose |= {s[n : n + PIECE] for s in spelled for n in range(len(s) - PIECE + 1)}
    # Derived spellings of a tiny secret (a test's "s" is "cw" in base64) would mask half of
    # every message; the secret itself is always masked.
    loose = {f for f in loose if f == secret or len(f) >= MIN_DERIVED}
    exact = {f for f in exact if len(f) >= MIN_DERIVED}
    return loose, exact - loose


def _recased(secret: str) -> set[str]:
    """``secret`` as Unicode's full case mappings write it, and as ``readings.fold`` leaves it,
    where the pattern's case-insensitive match (one character for one) would not find it: a server
    lower-casing "İ" writes "i" and a combining dot (as Java and JavaScript do), upper-casing
    "ß" writes "SS"; a folded text shows the secret's own compatibility characters folded
    too ("¸" is a space and a cedilla). Nothing for a secret of printable ASCII."""
    cased = {secret.lower(), secret.upper(), secret.casefold()}
    variants = cased | {readings.fold(c) for c in (*cased, secret)}
    same = re.compile(f"(?i:{re.escape(secret)})")
    return {v for v in variants if v and not same.fullmatch(v)}


class Scrubber:
    """Masks every form of a set of secrets (see ``secret_forms``) in a text.

    Each secret is given on its own: the Basic token (base64 of ``appkey:secret``) is one of
    them (``Credentials.secrets``), so its forms are covered like those of each half.
    """

    def __init__(self, secrets: Sequence[str], *, mask: str = REDACTED) -> None:
        self._mask = mask
        loose: set[str] = set()
        exact: set[str] = set()
        # A Basic token's pieces are base64 of the credentials' pieces, which are masked as
        # such: its own would only slow every write (see the pre-test below).
        tokens = {_basic(a, b) for a in secrets for b in secrets if a != b}
        for secret in secrets:
            if secret:
                more_loose, more_exact = secret_forms(secret, pieces=secret not in tokens)
                loose |= more_loose
                exact |= more_exact
        # Longest first where several start at the same place (``FormSearch``), so a token is
        # masked whole before any shorter form inside it. Last, character references and
        # escapes: one starts with "&#" or "\\", which no secret's other form does unless the
        # secret itself does, and then that literal form is found first.
        kept = sorted({s for s in secrets if len(s) >= MIN_DERIVED}, key=lambda s: (-len(s), s))
        self._forms: tuple[set[str], set[str], list[str]] | None = (
            (loose, exact - loose, [_referenced(kept)] if kept else []) if loose or exact else None
        )
        # Compiled on first need (a few tens of ms): the pre-test below clears most texts.
        self._compiled: FormSearch | None = None
        # Characters of text that passed the pre-test and were searched (``SEARCH_BUDGET``).
        self._searched = 0
        # A pre-test without case-insensitive alternatives: those give the pattern no
        # first-character prefilter, so it costs ~4 us on every line (a plan of 1000 creates
        # writes 17 000). For ASCII text, lower() folds case exactly as the pattern does. Two
        # patterns of plain alternatives beat a substring test per form (there are ~30).
        #
        # The pre-test looks for a few characters every form starts with, not the forms
        # themselves (over a hundred, with the pieces: ten times slower): the first ANCHOR of
        # each form, and of each secret every ANCHOR characters, since any piece of PIECE
        # characters holds one of those. Each is found with anything that shows no letter
        # between its characters (``_SPREAD``): blanks (a secret spelled with a space between
        # its characters), line breaks with the next line's indent or prefix (a quote's, a
        # comment's, a diff's), a shell's "\" at a line's end, a separator ("C-a-n"). That
        # costs the search little (a branch still starts with a literal character) and spares
        # folding the common text first.
        raw = [s.lower() for s in secrets if s]
        folded = {
            s.lower()[n : n + ANCHOR]
            for s in secrets
            if s and s not in tokens
            for n in range(0, len(s) - ANCHOR + 1, ANCHOR)
        }
        folded |= {s.lower()[:ANCHOR] for s in tokens & set(secrets)}
        folded |= {f.lower()[:ANCHOR] for f in loose if not any(f.lower() in s for s in raw)}
        plain = {f[:ANCHOR] for f in exact - loose}
        self._folded = _any_of(sorted(folded), spread=True)
        self._exact = _any_of(sorted(plain - folded), spread=True)
        self._pretest = all(f.isascii() for f in (*folded, *plain))

    @property
    def active(self) -> bool:
        """Whether there is anything to mask (no credential is configured: nothing)."""
        return self._forms is not None

    @property
    def _pattern(self) -> FormSearch | None:
        if self._compiled is None and self._forms is not None:
            self._compiled = FormSearch(*self._forms)
        return self._compiled

    def __call__(self, text: str) -> str:
        if self._forms is None or not self._may_hold(text):
            return text
        if len(text) > _WHOLE and "\n" in text:
            return "".join(
                self._scrub(block) if self._may_hold(block) else block
                for block in self._blocks(text)
            )
        return self._scrub(text)

    def _blocks(self, text: str) -> Iterator[str]:
        """``text`` (a command's whole output: a plan, a report) in blocks of ``_BLOCK_LINES``
        lines, each searched on its own: a plan of a thousand schedules passes the pre-test by
        chance now and then (a piece of a schedule id like a piece of a hexadecimal key), and
        only the block around it is searched, not the whole plan in every look. Never cut
        where the 32 lines with a letter or a digit either side of the cut may hold a form (a
        value wrapped over lines)."""
        lines = text.splitlines(keepends=True)
        # Lines with a letter or a digit: blank lines and lines of marks alone join the lines
        # around them (``readings.JOINS``), so they do not count towards the lines looked at.
        shows = [n for n, line in enumerate(lines) if any(c.isalnum() for c in line)]
        start = 0
        for cut in range(_BLOCK_LINES, len(lines), _BLOCK_LINES):
            at = bisect.bisect_left(shows, cut)
            first = shows[max(0, at - _BLOCK_LINES // 4)] if at else cut
            last = shows[min(len(shows), at + _BLOCK_LINES // 4) - 1] + 1 if shows else cut
            if not self._may_hold("".join(lines[max(start, first) : max(last, cut)])):
                yield "".join(lines[start:cut])
                start = cut
        yield "".join(lines[start:])

    def _scrub(self, text: str) -> str:
        """``text``, which passed the pre-test, searched and masked."""
        # Past the budget a text is masked whole, unsearched: what holds the credentials is
        # never shown, and a server's answers built to pass the pre-test cost one command a
        # few seconds at most, not a minute for each copy of them it prints.
        self._searched += len(text)
        if self._searched > SEARCH_BUDGET:
            return self._mask + UNSEARCHED
        pattern = self._pattern
        assert pattern is not None
        # Folded first: a form the plain match would cut into pieces is masked whole. A line
        # with a blank may spell a secret with blanks between its characters, a line with a
        # backslash may break it with an escaped line break, a separated run with a mark.
        if (
            readings.hides(text)
            or " " in text
            or "\\" in text
            or "&" in text
            or readings.SEPARATED.search(text)
        ):
            text = self._unfold(text, pattern)
        return pattern.sub(text, self._mask)

    def _may_hold(self, text: str, *, read: bool = True) -> bool:
        """False only when ``text`` certainly holds no form of a secret.

        ``read=False``: a text with an escape or a character reference passes (for a look of a
        text that passed: reading them again for each look cost more than the search).

        Every spelling the pattern knows comes down to a plain form once Unicode's
        compatibility forms are folded (fullwidth, mathematical letters), what shows nothing
        is dropped (``readings.fold``), and character references and escapes are read
        (``readings.READ``).
        """
        escaped = "\\" in text  # a test of the text before a search of it: a tenth of the time
        if not self._pretest:
            return True
        # An ASCII text is searched as it is: the anchors pass over its controls, blanks, line
        # breaks and marks (``_SPREAD``). One search: a second, over the text with every blank
        # left out, cost 18 ms on the 950 kB of a 1000-create plan.
        shown = text if text.isascii() else self._shown(text)
        if shown is None or self._folded.search(shown.lower()) or self._exact.search(shown):
            return True
        # What the anchors' gaps cannot hold: a character written as an escape or a character
        # reference (a line break in a JSON string, a whole secret as "&#99;&#97;..."), a CI
        # log's timestamp or a line number at a line's start. An "n" or a digit between two
        # characters could be a secret's own, and a gap taking either would try every way of
        # reading a run of them: the few texts that have them are searched again, escapes and
        # references read as the characters they stand for (one-letter escapes as line
        # breaks), the timestamps and numbers left out (a line of a plan, which ends at its
        # only line break, never is). Before, any escape or reference passed the pre-test:
        # a text of them built for the search cost every look's search, 0.8 s a megabyte.
        referenced = "&#" in text or ("&" in text and ";" in text)
        if not read and (referenced or (escaped and readings.READ.search(text))):
            return True
        numbered = ("\n" in text[:-1] or not text.isascii()) and readings.NUMBERED.search(text)
        if escaped or referenced or numbered:
            spelled_out = readings.READ.sub(readings.read, text) if escaped or referenced else text
            if not spelled_out.isascii():  # U+2028, U+2029 and NEL break lines too
                spelled_out = spelled_out.translate(readings.OTHER_BREAKS)
            return self._anchored(readings.UNNUMBERED.sub("", spelled_out))
        return False

    def _anchored(self, text: str) -> bool:
        """Whether ``text`` shows an anchor (with ``_SPREAD`` between its characters)."""
        shown = text if text.isascii() else self._shown(text)
        return shown is None or bool(
            self._folded.search(shown.lower()) or self._exact.search(shown)
        )

    def _shown(self, text: str) -> str | None:
        """``text`` folded for the pre-test (``readings.fold``, controls kept), what folding adds
        to its length charged to the budget (U+FDFA is 18 letters: ordinary text, Chinese too, folds
        to as many characters or fewer); None, for "it may hold one", once the budget is spent
        and folding would change the text (a text folding leaves as it is is tried as ever)."""
        if self._searched > SEARCH_BUDGET and not unicodedata.is_normalized("NFKC", text):
            return None
        shown = readings.fold(text, controls=False)
        self._searched += max(0, len(shown) - len(text))
        return shown

    def _unfold(self, text: str, pattern: FormSearch) -> str:
        """``text`` with the forms masked that show only once it is folded: a secret in
        mathematical letters, with combining marks or NULs between its characters, a base64
        text folded over lines, a value wrapped over quoted lines (``readings.JOINS``) or over
        lines continued otherwise (``readings.WIDE_JOINS``), a secret with blanks or a separator
        between its characters.

        For each way of joining lines, two looks: line breaks left out with what continues
        them (a secret's own spaces kept), then every blank left out as well; and each of them
        with the separators of a separated run (``readings.SEPARATED``) left out too."""
        joins = readings.joins(text) if "\n" in text else []
        ways = [joins]
        if readings.WIDE_BREAK.search(text):
            # Also without a diff's "+" and "-": a line number before a secret's own "+" at
            # a line's start ("1: +Vb7X") left it to neither way.
            for pattern_of_joins in (readings.WIDE_JOINS, readings.WIDE_JOINS_KEEPING_SIGNS):
                wide = readings.joins(text, pattern_of_joins)
                if wide not in ways:
                    ways.append(wide)
        # An escaper writes what shows nothing as text ("\x01", "\u200b", YAML's "\N"): the
        # character itself would be dropped by folding, so its escape is left out too, in
        # looks of their own (a "\x01" can also be a secret's own four characters). Then
        # every escape and character reference read as what it stands for, in looks of their
        # own again: a credential whose case changed and was then escaped, a piece of one in
        # references, mathematical letters or "&#8203;" between its characters.
        hidden = readings.hidden_escapes(text) if "\\" in text else []
        read = readings.read_spans(text) if "\\" in text or "&" in text else []
        plain = list(ways)
        if hidden:
            ways += [readings.merged(way, hidden) for way in plain]
        if read and read != hidden:
            ways += [readings.merged(way, read) for way in plain]
        passes: list[tuple[list[readings.Span], bool, bool]] = []
        for way in ways:
            folded = readings.fold(readings.joined(text, way))
            # Each look costs the budget its own length: folding can make a text far longer
            # (U+FDFA is 18 letters), and every look of it is searched and may be mapped back
            # character by character.
            self._searched += len(folded)
            if self._searched > SEARCH_BUDGET:
                return self._mask + UNSEARCHED
            bare = folded.translate(readings.BLANKS)
            looks = [(False, False, folded), (True, False, bare)]
            if readings.SEPARATED.search(folded):
                # Blanks kept (a secret's own space between quotes) and left out (a run wrapped
                # with the blank of its separator lost at the line's end).
                looks += [
                    (False, True, readings.unseparated(folded)),
                    (True, True, readings.unseparated(bare)),
                ]
            # Each look is first put to the pre-test (a fiftieth of the pattern's time): most
            # of a long text that passed it passed for one of its looks only.
            passes += [
                (way, drop, sep)
                for drop, sep, look in looks
                if self._may_hold(look, read=False) and pattern.search(look)
            ]
        if not passes:
            return text
        spans: list[tuple[int, int]] = []
        for way, drop_blanks, unseparated in passes:
            self._searched += len(text)  # mapped back one character at a time
            if self._searched > SEARCH_BUDGET:
                return self._mask + UNSEARCHED
            chars, owner, ends = readings.folded_chars(text, way, drop_blanks=drop_blanks)
            if unseparated:
                indexes = [i for r in readings.separated("".join(chars)) for i in r]
                chars = [chars[i] for i in indexes]
                owner, ends = [owner[i] for i in indexes], [ends[i] for i in indexes]
            # Overlaps included: a secret's own space lost at a wrap leaves two forms that
            # overlap ("master" then "secret"), and masking only the first would leave the end
            # of the other showing.
            found = pattern.spans("".join(chars), overlapping=True)
            spans += [(owner[start], ends[end - 1]) for start, end in found]
        if not spans:  # folded whole, the text composed otherwise: none of it is shown
            return self._mask
        parts: list[str] = []
        done = 0
        for start, end in sorted(spans):  # in order, in one pass (a text may hold thousands)
            if start >= done:  # else it overlaps the last one (another look found it too)
                parts += [text[done:start], self._mask]
            done = max(end, done)
        parts.append(text[done:])
        return "".join(parts)

    def may_hold(self, text: str) -> bool:
        """False only when ``text`` certainly holds no start of a form of a secret: the search's
        pre-test alone (the first characters of every form and every few of a secret's own,
        character references and escapes read), fast on any text. For a text cut from a longer one,
        where a form that runs past the cut is never whole and so never masked."""
        return self._forms is not None and self._may_hold(text)

    def finds(self, text: str) -> bool:
        """Whether ``text`` holds any form of a secret."""
        return self.first(text) is not None

    def first(self, text: str) -> int | None:
        """Where the first form of a secret in ``text`` starts, or None."""
        if self._forms is None or not self._may_hold(text):
            return None
        masked = self(text)
        if masked == text:
            return None
        # The first character that differs: where the first masked form started.
        return next(
            (i for i, (a, b) in enumerate(zip(text, masked, strict=False)) if a != b),
            min(len(text), len(masked)),
        )


# Characters that show nothing (zero-width spaces and joiners, a soft hyphen, direction marks,
# a byte-order mark): put between a secret's characters they leave it readable and unmatched.
_INVISIBLE = "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*"


# The characters a JSON string escapes with a letter or themselves, as it writes them.
_JSON_ESCAPED = {c: json.dumps(c)[1:-1] for c in '"\\/\b\f\n\r\t'} | {"/": "\\/"}


def _referenced(secrets: Sequence[str]) -> str:
    """A pattern for any of ``secrets`` (the first that matches, in order) with any of its
    characters written otherwise than plainly: as an HTML character reference (an error page
    that escapes what it echoes: decimal or hexadecimal, ``x`` or ``X``, with leading zeros),
    as a JSON ``\\u`` escape or a JSON string's own escape (``\\"`` for a quote), in its
    fullwidth form (the same text after Unicode's compatibility normalisation), mixed with
    plain characters as an escaper leaves them, with invisible characters between them; in any
    case (as the secret's plain forms): written for a ``caseless`` text (``FormSearch``).

    It starts with a class of every first character of those spellings, and each secret's
    branch with a look back at that character: a pattern starting so is searched only from
    where one of them is (a fifth of the time), with each secret's pattern written once."""
    leads: set[str] = set()
    branches = []
    for secret in secrets:
        first: dict[str, list[str]] = {}
        for lead, rest in _spellings(secret[0]):
            first.setdefault(lead, []).append(rest)
        leads |= first.keys()
        start = "|".join(
            f"(?<={re.escape(lead)})(?:{'|'.join(rests)})" for lead, rests in first.items()
        )
        others = [
            "(?:" + "|".join(re.escape(lead) + rest for lead, rest in _spellings(c)) + ")"
            for c in secret[1:]
        ]
        branches.append(f"(?:{start})" + "".join(_INVISIBLE + other for other in others))
    lead_class = "".join(map(re.escape, sorted(leads)))
    return f"[{lead_class}](?:{'|'.join(branches)})"


def _spellings(c: str) -> list[tuple[str, str]]:
    """The spellings of ``c`` that ``_referenced`` knows, each as its first character and a
    pattern of the rest (for a ``caseless`` text)."""
    codes = [ord(c)]
    if 0x21 <= ord(c) <= 0x7E:
        codes.append(ord(c) + 0xFEE0)  # "Ａ" for "A"
    spellings = [(caseless(chr(code)), "") for code in codes]
    if c in _JSON_ESCAPED:  # a JSON string's own escape: a quote as \"
        spellings.append(("\\", re.escape(_JSON_ESCAPED[c][1:])))
    for code in codes:
        # the ";" may be left out where no digit follows (browsers read it so)
        spellings += [("&", f"#0*{code}(?:;|(?![0-9]))"), ("&", f"#x0*{code:x}(?:;|(?![0-9a-f]))")]
        if code <= 0xFFFF:
            spellings.append(("\\", f"\\\\?u{code:04x}"))  # escaped once or twice
        spellings.append(("\\", f"\\\\?u{code:08x}"))  # "\\U" in a caseless text
        if code <= 0xFF:
            spellings.append(("\\", f"x{code:02x}"))
    return spellings


def _any_of(forms: Sequence[str], *, spread: bool = False) -> re.Pattern[str]:
    """A pattern finding any of ``forms`` (none: one that never matches); ``spread``: also
    with anything in ``_SPREAD`` between their characters."""
    if not spread:
        return re.compile("|".join(map(re.escape, forms)) if forms else r"(?!)")
    branches = {_spread(form) for form in forms}
    return re.compile("|".join(sorted(branches)) if branches else r"(?!)")


# What the pre-test's anchors pass over between their characters: anything but a letter or a
# digit. Controls (line breaks, tabs, NULs), blanks, ASCII's marks (what starts or ends a quoted
# line's continuation, "> ", "| ", "# ", "// ", "-- ", a diff's "+ ", a shell's "\" at the end
# of the line) and every other mark or symbol (a separator between every character, "C-a-n",
# "C$a$n", "C·a·n", "C—a—n": the look without separators finds those, so the pre-test must let
# them through). Anywhere, not only at a line's start: the pre-test may pass a text the pattern
# then clears, never the other way round. A line break written as an escape and a line's
# timestamp or number: ``Scrubber._may_hold``.
_SPREAD = r"[\W_]*"
_MARKS = string.punctuation  # a mark an anchor starts with stays its first character
_QUOTING_MARKS = ">|#\\"  # what the narrow gap passes over besides blanks and controls
_NARROW = "[\\x00-\\x20\\x7f" + re.escape(_QUOTING_MARKS) + "]*"


def _spread(anchor: str) -> str:
    """A pattern of ``anchor`` with anything in ``_SPREAD`` between its characters.

    Its own characters of that kind are left out of it (kept, a greedy repeat before one of
    them would backtrack over a long run of blanks), unless that leaves fewer than three: such
    an anchor is looked for as it is. A mark it starts with stays its first character (a
    separator or a wrap leaves it in place; "/" is rarer than the letter after it, which the
    search would otherwise try on every word). Between two digits next to each other in an
    anchor of half digits or more, only what wraps a line (``_NARROW``): dates, times and
    version numbers would show it in every plan. Two digits the anchor has a mark between
    ("2024-05", "%32%30") have ``_SPREAD`` between them, or the anchor would not find itself."""
    lead = anchor[:1] if anchor[:1] in _MARKS and anchor[:1] not in _QUOTING_MARKS else ""
    kept = [(0, lead)] if lead else []
    kept += [(at, c) for at, c in enumerate(anchor) if at >= len(lead) and c.isalnum()]
    if len(kept) < 3:
        return re.escape(anchor)
    digits = 2 * sum(c.isdigit() for _, c in kept) >= len(kept)
    parts = [re.escape(kept[0][1])]
    for n, ((at, before), (next_at, c)) in enumerate(itertools.pairwise(kept)):
        if n == 0 and lead:
            # Not the mark itself: in a long run of it, the search would start at each one
            # and take the rest of the run (a megabyte of "-": minutes).
            gap = f"(?:[^\\w{re.escape(lead)}]|_)*" if lead != "_" else r"\W*"
        elif digits and before.isdigit() and c.isdigit() and next_at == at + 1:
            gap = _NARROW
        else:
            gap = _SPREAD
        parts += [gap, re.escape(c)]
    return "".join(parts)


def clip(text: str, limit: int, *, marker: str = "...") -> str:
    """``text`` with every credential masked (in every spelling ``Scrubber`` knows), then cut
    to at most ``limit`` characters, ``marker`` included.

    Masked first: a cut through a secret leaves a piece that nothing recognises afterwards
    (the output streams' scrubber included), and the piece can be all of it but one
    character."""
    text = output_scrubber()(text)
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


# The scrubber of the output streams: built on the first write, again after ``watch`` named new
# variables, and afresh for every command (``scrubbed_output``).
_output_scrubber: Scrubber | None = None


def output_scrubber() -> Scrubber:
    """The scrubber of every configured credential, in all its spellings, with ``REDACTED``."""
    global _output_scrubber
    if _output_scrubber is None:
        _output_scrubber = Scrubber(secrets())
    return _output_scrubber


class ScrubbingStream:
    """A text stream that writes to ``target`` with every configured credential redacted.

    Each write is scrubbed whole (``click.echo`` writes a message and its newline at once);
    everything else (``fileno``, ``isatty``, ``encoding``...) is the target's. There is no
    ``buffer``: bytes written to it would pass unscrubbed, and without it click writes text.
    """

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def write(self, text: str) -> int:
        scrubber = _output_scrubber or output_scrubber()
        shown = inert(never_raw(scrubber(text)))
        try:
            self._target.write(shown)
        except UnicodeEncodeError:
            # A console that cannot show every character (a Windows code page, LC_ALL=C): the
            # others as escapes, not a traceback in the middle of a command (a Chinese name is
            # a valid schedule name). The encoder failed before anything was written.
            encoding = getattr(self._target, "encoding", None) or "ascii"
            self._target.write(shown.encode(encoding, "backslashreplace").decode(encoding))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._target, name)


@contextmanager
def scrubbed_output() -> Iterator[None]:
    """Run the block with ``sys.stdout`` and ``sys.stderr`` passing through ``ScrubbingStream``.

    The credentials are read afresh (the environment may differ from the last command's, as in
    tests that run several commands in one process).
    """
    global _output_scrubber
    _output_scrubber = None
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, ScrubbingStream):
        sys.stdout = ScrubbingStream(sys.stdout)
    if not isinstance(sys.stderr, ScrubbingStream):
        sys.stderr = ScrubbingStream(sys.stderr)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):  # a failed flush was reported in the block
                stream.flush()
        sys.stdout, sys.stderr = saved
