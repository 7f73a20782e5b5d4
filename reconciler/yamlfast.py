"""A fast reader for the plain block-style YAML that manifests are written in.

Why it exists: ruamel.yaml has no C loader here, and its pure-Python loaders take 1.4 s (safe)
to 1.9 s (round-trip) for 1000 manifests, more than the whole time budget of ``reconciler
validate``. This reader handles the common subset (block mappings and sequences, plain and
quoted one-line scalars, one-line flow sequences of scalars, comments, ``---`` documents) and
refuses everything else by raising ``Unsupported``; ``manifests.py`` then uses ruamel.yaml for
that file. It never guesses: for any text it accepts, it returns exactly what ruamel.yaml's
loader (with the reconciler's resolver, which keeps timestamps as strings) returns, together
with the same line/column positions. ``tests/test_manifests_fastyaml.py`` checks this against
ruamel.yaml on generated documents.

Positions are 1-based ``(key_line, key_col, value_line, value_col)`` per path; a sequence item
has its own position twice; the root ``()`` is the document's first node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PathKey = tuple[str | int, ...]
MAX_DEPTH = 50  # manifests nest about 6 levels; deeper text goes to ruamel.yaml (no recursion)
Position = tuple[int, int, int, int]


class Unsupported(Exception):
    """The text uses YAML this reader does not handle (or is not valid YAML at all)."""


@dataclass(slots=True)
class FastDocument:
    """One YAML document: its data and where each of its nodes starts."""

    data: dict[str, Any]
    positions: dict[PathKey, Position]


# Characters this reader accepts anywhere in the text. Excluded on purpose: tabs and CR (YAML
# gives them subtle meanings), NEL/LS/PS (YAML line breaks), BOM, and everything ruamel.yaml's
# reader rejects as non-printable. Any of them sends the file to ruamel.yaml.
_UNSUPPORTED_CHAR = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)

# A mapping key: a plain word-ish key (letters/digits/_/./-, single inner spaces) or a simple
# quoted key, then ':' followed by the end of the line or a space.
_KEY = re.compile(
    r"""(?P<key>[^\W\d][\w.\-]*(?:[ ][\w.\-]+)*|"[^"\\]*"|'[^']*')[ ]*:(?:[ ]+(?P<rest>.*))?$"""
)

# Plain scalars that resolve to something other than a string (YAML 1.2 as ruamel.yaml does
# it; patterns from ruamel/yaml/resolver.py). Timestamps are deliberately absent: the
# reconciler reads them as the strings they are written as (API.md 2.1 wants the string).
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = frozenset({"~", "null", "Null", "NULL"})
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_OTHER_NUMBER = re.compile(
    r"""^(?:
     [-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_PLAIN_FORBIDDEN_START = frozenset("?:,[]{}#&*!|>'\"%@`")
_FLOW_PLAIN_STOP = re.compile(r"[,\[\]{}]")

_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")

Line = tuple[int, int, str]  # (1-based line number, indent, content without indent)


def load_all(text: str) -> list[FastDocument]:
    """Every document of ``text``; ``Unsupported`` if any part is outside the subset.

    Only documents whose root is a mapping are accepted; an empty text, an empty document or
    any other root is ``Unsupported`` (the full loader explains what is wrong).
    """
    if _UNSUPPORTED_CHAR.search(text):
        raise Unsupported("character outside the fast subset")
    segments: list[list[Line]] = [[]]
    explicit = [False]
    for number, raw in enumerate(text.split("\n"), 1):
        content = raw.lstrip(" ")
        if not content or content[0] == "#":
            continue
        if raw.startswith(("---", "...", "%")):
            if raw.startswith("---") and (len(raw) == 3 or raw[3] == " "):
                rest = raw[3:].strip(" ")
                if rest and rest[0] != "#":
                    raise Unsupported("content after a document marker")
                segments.append([])
                explicit.append(True)
                continue
            if raw.startswith(("...", "%")):
                raise Unsupported("document end marker or directive")
        segments[-1].append((number, len(raw) - len(content), content.rstrip(" ")))
    documents: list[FastDocument] = []
    for lines, is_explicit in zip(segments, explicit, strict=True):
        if not lines:
            if is_explicit:
                raise Unsupported("empty document")
            continue
        documents.append(_Parser(lines).document())
    if not documents:
        raise Unsupported("no documents")
    return documents


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


class _Parser:
    """Recursive descent over the content lines of one document."""

    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines
        self.i = 0
        self.positions: dict[PathKey, Position] = {}

    def document(self) -> FastDocument:
        number, indent, content = self.lines[0]
        if _is_item(content):
            raise Unsupported("root is not a mapping")
        data = self.mapping(indent, ())
        if self.i != len(self.lines):
            raise Unsupported("text after the root mapping")
        self.positions[()] = (number, indent + 1, number, indent + 1)
        return FastDocument(data, self.positions)

    def mapping(self, indent: int, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        lines = self.lines
        while self.i < len(lines):
            number, ind, content = lines[self.i]
            if ind < indent:
                break
            if ind > indent or _is_item(content):
                raise Unsupported("unexpected indentation")
            match = _KEY.match(content)
            if match is None:
                raise Unsupported("not a simple mapping entry")
            key = match.group("key")
            if key[0] in "\"'":
                key = key[1:-1]
            elif key in _BOOL or key in _NULL:
                raise Unsupported("key that is not a string")
            if key in out:
                raise Unsupported("duplicate key")  # the full loader reports it with both places
            self.i += 1
            child = (*path, key)
            rest = match.group("rest")
            if rest is None or rest[0] == "#":
                value, line, col = self.nested(indent, child, same_indent_sequence=True)
            else:
                col = ind + match.start("rest") + 1
                value = self.inline(rest, number, col, child)
                line = number
                if self.i < len(lines) and lines[self.i][1] > indent:
                    raise Unsupported("continuation line")
            out[key] = value
            self.positions[child] = (number, ind + 1, line, col)
        return out

    def sequence(self, indent: int, path: PathKey) -> list[Any]:
        out: list[Any] = []
        lines = self.lines
        while self.i < len(lines):
            number, ind, content = lines[self.i]
            if ind < indent or not _is_item(content):
                break
            if ind > indent:
                raise Unsupported("unexpected indentation")
            child = (*path, len(out))
            offset = 1
            while offset < len(content) and content[offset] == " ":
                offset += 1
            rest = content[offset:]
            if not rest or rest[0] == "#":
                self.i += 1
                value, line, col = self.nested(indent, child, same_indent_sequence=False)
                if value is None:
                    raise Unsupported("empty sequence item")
            elif len(path) > MAX_DEPTH:
                raise Unsupported("nested too deeply")
            elif _is_item(rest) or _KEY.match(rest):
                # "- key: value" / "- - item": a block whose lines sit at the column of `rest`
                lines[self.i] = (number, ind + offset, rest)
                line, col = number, ind + offset + 1
                if _is_item(rest):
                    value = self.sequence(ind + offset, child)
                else:
                    value = self.mapping(ind + offset, child)
            else:
                self.i += 1
                line, col = number, ind + offset + 1
                value = self.inline(rest, number, col, child)
                if self.i < len(lines) and lines[self.i][1] > indent:
                    raise Unsupported("continuation line")
            out.append(value)
            self.positions[child] = (line, col, line, col)
        return out

    def nested(
        self, indent: int, path: PathKey, *, same_indent_sequence: bool
    ) -> tuple[Any, int, int]:
        """The block value after ``key:`` or ``-``: deeper lines, or a sequence at the key's
        own indent (YAML allows ``key:\\n- item``); ``None`` when there is none."""
        if len(path) > MAX_DEPTH:
            raise Unsupported("nested too deeply")  # ruamel.yaml reports it with a position
        if self.i < len(self.lines):
            number, ind, content = self.lines[self.i]
            if ind > indent:
                if _is_item(content):
                    return self.sequence(ind, path), number, ind + 1
                return self.mapping(ind, path), number, ind + 1
            if ind == indent and same_indent_sequence and _is_item(content):
                return self.sequence(ind, path), number, ind + 1
        return None, 0, 0

    def inline(self, text: str, line: int, col: int, path: PathKey) -> Any:
        """A value written on the same line as its key or dash."""
        first = text[0]
        if first in "\"'":
            value, end = _quoted(text, 0)
            _expect_comment_or_end(text, end)
            return value
        if first == "[":
            return self.flow_sequence(text, line, col, path)
        if first == "{":
            if text == "{}" or (text.startswith("{}") and text[2:].lstrip(" ").startswith("#")):
                _expect_comment_or_end(text, 2)
                return {}
            raise Unsupported("flow mapping")
        if first in _PLAIN_FORBIDDEN_START or (first == "-" and (len(text) == 1 or text[1] == " ")):
            raise Unsupported("indicator")
        cut = text.find(" #")
        if cut != -1:
            text = text[:cut].rstrip(" ")
        if ": " in text or text.endswith(":"):
            raise Unsupported("colon in a plain scalar")
        return _resolve(text)

    def flow_sequence(self, text: str, line: int, col: int, path: PathKey) -> list[Any]:
        out: list[Any] = []
        j = _skip_spaces(text, 1)
        if text.startswith("]", j):
            _expect_comment_or_end(text, j + 1)
            return out
        while True:
            if j >= len(text):
                raise Unsupported("flow sequence continues on the next line")
            start = j
            first = text[j]
            if first in "\"'":
                value, j = _quoted(text, j)
            elif first in _PLAIN_FORBIDDEN_START or (
                first == "-"
                and text[j + 1 : j + 2]
                in (
                    "",
                    " ",
                )
            ):
                raise Unsupported("indicator in a flow sequence")
            else:
                stop = _FLOW_PLAIN_STOP.search(text, j)
                end = stop.start() if stop else len(text)
                plain = text[j:end].rstrip(" ")
                if not plain or " #" in plain or ":" in plain or stop is None:
                    raise Unsupported("complex flow scalar")
                value = _resolve(plain)
                j = end
            item_col = col + start
            self.positions[(*path, len(out))] = (line, item_col, line, item_col)
            out.append(value)
            j = _skip_spaces(text, j)
            if text.startswith(",", j):
                j = _skip_spaces(text, j + 1)
                if text.startswith("]", j):
                    raise Unsupported("trailing comma")
                continue
            if text.startswith("]", j):
                _expect_comment_or_end(text, j + 1)
                return out
            raise Unsupported("malformed flow sequence")


def _skip_spaces(text: str, j: int) -> int:
    while j < len(text) and text[j] == " ":
        j += 1
    return j


def _expect_comment_or_end(text: str, end: int) -> None:
    rest = text[end:]
    if rest.strip(" ") and not (rest[0] == " " and rest.lstrip(" ").startswith("#")):
        raise Unsupported("text after a value")


def _quoted(text: str, start: int) -> tuple[str, int]:
    """A single- or double-quoted scalar starting at ``start``; returns (value, end index)."""
    quote = text[start]
    k = start + 1
    chunks: list[str] = []
    if quote == "'":
        while True:
            q = text.find("'", k)
            if q == -1:
                raise Unsupported("multi-line quoted scalar")
            if text.startswith("'", q + 1):
                chunks.append(text[k : q + 1])
                k = q + 2
                continue
            chunks.append(text[k:q])
            return "".join(chunks), q + 1
    while True:
        q = text.find('"', k)
        if q == -1:
            raise Unsupported("multi-line quoted scalar")
        b = text.find("\\", k, q)
        if b == -1:
            chunks.append(text[k:q])
            return "".join(chunks), q + 1
        chunks.append(text[k:b])
        code = text[b + 1 : b + 2]
        if code in _ESCAPES:
            chunks.append(_ESCAPES[code])
            k = b + 2
        elif code in _HEX_ESCAPES:
            digits = text[b + 2 : b + 2 + _HEX_ESCAPES[code]]
            if len(digits) != _HEX_ESCAPES[code] or not set(digits) <= _HEX:
                raise Unsupported("bad escape")
            point = int(digits, 16)
            if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
                raise Unsupported("escape outside Unicode scalar values")
            chunks.append(chr(point))
            k = b + 2 + len(digits)
        else:
            raise Unsupported("unknown escape")


def _resolve(text: str) -> Any:
    """The value of a plain scalar, as ruamel.yaml resolves it (strings for timestamps)."""
    first = text[0]
    if first in "tTfF":
        return _BOOL.get(text, text)
    if first in "nN~":
        return None if text in _NULL else text
    if first in "-+0123456789.":
        if _DECIMAL.fullmatch(text) and len(text) < 100:
            return int(text)
        if _OTHER_NUMBER.match(text):
            raise Unsupported("number in a form the fast reader leaves to ruamel.yaml")
        return text
    if text in ("<<", "="):
        raise Unsupported("merge or value key")
    return text
