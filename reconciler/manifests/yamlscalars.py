"""The project's YAML 1.2 rules for scalars: what a plain scalar means, and what a scalar with
an explicit core tag must look like.

PyYAML's own resolver and constructors implement YAML 1.1 (``yes`` is true, ``017`` is octal,
``1:30`` is 90, timestamps become datetimes), so they are not used: the composer (``yamlread``)
tags a plain untagged scalar ``PLAIN`` and a quoted or block one ``STR``, and the functions here
give it its value by the rules ruamel.yaml's YAML 1.2 loader applies (``tests/test_yaml_reader.py``
compares the two on generated documents; ``docs/yaml.md`` lists them and the few deliberate
differences):

- ``null``/``Null``/``NULL``/``~``/nothing is null; ``true``/``True``/``TRUE`` and the three
  ``false`` spellings are booleans; ``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` are text;
- integers: decimal (a leading zero is still decimal), ``0x``, ``0o``, ``0b``, with ``_``
  allowed between digits; floats with a ``.`` or an exponent (``.inf``/``.nan`` are read here
  and refused by the converter: JSON cannot carry them); ``1:30`` (YAML 1.1 sexagesimal) is text;
- a plain ``2027-01-01 00:00:00`` stays the text it is written as (the API wants that text);
- quoted and block scalars are text; explicit core tags (``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``) are honoured, and a value that does not fit its tag is an error;
  any other tag gives a value JSON cannot carry (:class:`NotJson`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yaml.nodes import Node, ScalarNode

from reconciler import redact
from reconciler.manifests.yamlpaths import LoadStopped, SyntaxProblem

CORE = "tag:yaml.org,2002:"
STR = CORE + "str"
SEQ = CORE + "seq"
MAP = CORE + "map"
PLAIN = "?plain"  # what the composer is told a plain untagged scalar is; resolved here
MERGE_KEY = "<<"

BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
NULL = frozenset({"", "~", "null", "Null", "NULL"})
# ruamel.yaml's YAML 1.2 patterns (ruamel/yaml/resolver.py); timestamps are left out on purpose.
INT = re.compile(r"[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+")
FLOAT = re.compile(
    r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)""",
    re.X,
)
_NUMBER_START = frozenset("-+0123456789.")
# A plain scalar starting with none of these (nor empty) is text by every rule above.
NOT_TEXT_START = frozenset(["", "~", "n", "N", "t", "T", "f", "F", "<", *_NUMBER_START])
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
# how a value of these tags is named in the message refusing it (its Python type)
_TAG_NAMES = {"binary": "bytes", "datetime": "datetime", "date": "date"}


@dataclass(frozen=True, slots=True)
class NotJson:
    """A value JSON (and so the API) cannot carry: a timestamp, binary data, a set, a custom
    tag. Not an error that stops the file: the converter reports it at its path."""

    tag: str  # the YAML tag, or "datetime"/"date" for a timestamp

    def message(self) -> str:
        if self.tag == redact.REDACTED_TAG:
            return (
                "`reconciler export` held this value back (the remote task holds the AppKey or "
                "Master Secret here): write the intended text in its place, without the "
                f"{redact.REDACTED_TAG} tag"
            )
        name = _TAG_NAMES.get(self.tag.removeprefix(CORE), f"{tag_name(self.tag)}-tagged")
        return f"a YAML {name} value cannot be sent to the API; write it as text in quotes"


def node_start(node: Node) -> tuple[int, int]:
    """Where a node starts: 1-based line and column (libyaml's marks are 0-based)."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def tag_name(tag: str) -> str:
    """A tag as it is written (``!!int``), for messages. A tag's ``%XX`` escapes are read as the
    characters they stand for (``!x%0A::error::...`` holds a line break), so any character that
    is not printable ASCII is spelled out as Python writes it in a literal."""
    shown = "!!" + tag.removeprefix(CORE) if tag.startswith(CORE) else tag
    return shown if shown.isascii() and shown.isprintable() else repr(shown)[1:-1]


def plain_value(node: ScalarNode) -> Any:
    """The value of a plain scalar by the YAML 1.2 rules of the module docstring."""
    value: str = node.value
    if not value or value[0] not in _NUMBER_START:
        if value in NULL:
            return None
        return BOOL.get(value, value)
    if INT.fullmatch(value):
        return _int(node, value, explicit=False)
    if FLOAT.fullmatch(value):
        number = _float(value)
        if number is None:  # "._", "-._e+1": the pattern's shape without a digit
            raise _unreadable(node, CORE + "float", explicit=False)
        return number
    return value


def scalar_value(node: ScalarNode) -> Any:
    """The value of any scalar by its tag: text, a plain scalar's value, a core tag's value, or
    ``NotJson``; ``LoadStopped`` for a value that does not fit its core tag."""
    tag = node.tag
    if tag == STR:
        return node.value
    if tag == PLAIN:
        return plain_value(node)
    if tag == CORE + "int":
        if not INT.fullmatch(node.value):
            raise _unreadable(node, tag, explicit=True)
        return _int(node, node.value, explicit=True)
    if tag == CORE + "float":
        if FLOAT.fullmatch(node.value) and (number := _float(node.value)) is not None:
            return number
        if INT.fullmatch(node.value):
            return float(_int(node, node.value, explicit=True))
        raise _unreadable(node, tag, explicit=True)
    if tag == CORE + "bool":
        if node.value not in BOOL:
            raise _unreadable(node, tag, explicit=True)
        return BOOL[node.value]
    if tag == CORE + "null":
        return None
    if not _fits(node.value, tag):
        raise _unreadable(node, tag, explicit=True)
    if tag == CORE + "timestamp":  # named as the Python value it would be
        return NotJson("datetime" if len(node.value) > 10 else "date")
    return NotJson(tag)


def _unreadable(node: Node, tag: str, *, explicit: bool) -> LoadStopped:
    """The error for a scalar that cannot be read as ``tag`` (a load error, as the YAML
    library reports it: it stops the file)."""
    shown = repr(redact.clip(str(node.value), 40))
    advice = "fix the value or remove the tag" if explicit else "quote it as text"
    line, col = node_start(node)
    return LoadStopped(
        SyntaxProblem(
            line, col, f"invalid YAML: {shown} cannot be read as {tag_name(tag)}; {advice}"
        )
    )


def _float(value: str) -> float | None:
    """The number a float-looking scalar spells, or None when it spells none ("._")."""
    text = value.replace("_", "").lower()
    if text.endswith((".inf", ".nan")):  # Python spells them inf and nan
        text = text.replace(".", "")
    try:
        return float(text)
    except ValueError:
        return None


def _fits(value: str, tag: str) -> bool:
    """Whether a scalar is a valid !!timestamp or !!binary (so that a value that does not fit
    its tag is reported as such; one that does is still refused, as any non-JSON value)."""
    if tag == CORE + "timestamp":
        match = _TIMESTAMP.fullmatch(value)
        if match is None:
            return False
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
        try:
            datetime(year, month, day, hour, minute, second)
        except ValueError:
            return False
        return True
    if tag == CORE + "binary":
        try:
            base64.b64decode(value.encode("ascii"), validate=False)
        except (UnicodeEncodeError, binascii.Error):
            return False
    return True


def _int(node: ScalarNode, value: str, *, explicit: bool) -> int:
    digits = value.replace("_", "")
    sign = 1
    if digits[:1] in ("-", "+"):
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    base = {"0b": 2, "0x": 16, "0o": 8}.get(digits[:2], 10)
    try:
        return sign * int(digits[2:] if base != 10 else digits, base)
    except ValueError:  # "0x_", or more digits than Python converts
        raise _unreadable(node, CORE + "int", explicit=explicit) from None
