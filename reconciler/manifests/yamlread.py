"""Reading manifests' YAML: libyaml parses, this module applies the project's YAML 1.2 rules.

libyaml (PyYAML's C parser and composer, ``yaml.cyaml.CParser``) turns the text into a node
tree for every YAML style (block, flow/JSON, anchors and aliases, block scalars, several
documents), each node with its start mark. PyYAML's own resolver and constructors implement
YAML 1.1 (``yes`` is true, ``017`` is octal, ``1:30`` is 90, timestamps become datetimes), so
they are not used: the composer is handed a resolver that only says "plain" or "text", and this
module gives every plain scalar its value by the rules below, the rules ruamel.yaml's YAML 1.2
loader applies (``tests/test_yaml_reader.py`` compares the two on generated documents;
``docs/yaml.md`` lists them and the few deliberate differences):

- ``null``/``Null``/``NULL``/``~``/nothing is null; ``true``/``True``/``TRUE`` and the three
  ``false`` spellings are booleans; ``yes``, ``no``, ``on``, ``off``, ``y``, ``n`` are text;
- integers: decimal (a leading zero is still decimal), ``0x``, ``0o``, ``0b``, with ``_``
  allowed between digits; floats with a ``.`` or an exponent; ``.inf``/``.nan`` are refused
  (JSON cannot carry them); ``1:30`` (YAML 1.1 sexagesimal) is text;
- a plain ``2027-01-01 00:00:00`` stays the text it is written as (the API wants that text);
- quoted and block scalars are text; explicit core tags (``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``) are honoured, and a value that does not fit its tag is an error;
- a key twice in one mapping is an error; ``<<`` merges mappings as YAML's merge key does.

Positions are 1-based ``(key_line, key_col, value_line, value_col)`` per path (columns count
characters, as libyaml's marks do); a sequence item has its own position twice; the root ``()``
is the document's first node. Nesting deeper than ``MAX_DEPTH`` and more than ``MAX_NODES``
values after alias expansion are refused (alias bombs).
"""

from __future__ import annotations

import base64
import binascii
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from yaml._yaml import CParser  # ImportError without libyaml: there is no slow fallback
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PathKey = tuple[str | int, ...]
Position = tuple[int, int, int, int]


def dotted_path(path: PathKey) -> str:
    """``("trigger", "periodical", "point", 1)`` -> ``trigger.periodical.point[1]``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


def prefixed(path: PathKey, message: str) -> str:
    """``message`` after the dotted path it is about (``trigger.single.time: ...``)."""
    dotted = dotted_path(path)
    return f"{dotted}: {message}" if dotted else message


def value_at(data: Any, path: PathKey) -> Any:
    """The value at ``path`` in loaded YAML data, or None where the path leads nowhere."""
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data

MAX_NODES = 50_000  # after alias expansion; a manifest has a few dozen
MAX_DEPTH = 100

_CORE = "tag:yaml.org,2002:"
_STR = _CORE + "str"
_SEQ = _CORE + "seq"
_MAP = _CORE + "map"
_PLAIN = "?plain"  # what the composer is told a plain untagged scalar is; resolved here
_MERGE_KEY = "<<"

_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
# ruamel.yaml's YAML 1.2 patterns (ruamel/yaml/resolver.py); timestamps are left out on purpose.
_INT = re.compile(r"[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+")
_FLOAT = re.compile(
    r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)""",
    re.X,
)
_NUMBER_START = frozenset("-+0123456789.")
# A plain scalar starting with none of these (nor empty) is text by every rule above.
_NOT_TEXT_START = frozenset(["", "~", "n", "N", "t", "T", "f", "F", "<", *_NUMBER_START])
_MERGE_EXPECTED = "a mapping or list of mappings"
_REUSED_ANCHOR = "invalid YAML: an anchor is defined twice"  # replaced by a warning, see load_all
_REUSED_ANCHOR_CONTEXT = "found duplicate anchor; first occurrence"
_BRACKETS = re.compile(r"[\[\]{}]")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
# how a value of these tags is named in the message refusing it (its Python type)
_TAG_NAMES = {"binary": "bytes", "datetime": "datetime", "date": "date"}


@dataclass(slots=True)
class Document:
    """One YAML document: plain data, positions, and values it could not represent."""

    data: Any
    positions: Positions
    problems: list[tuple[PathKey, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SyntaxProblem:
    """Why the text is not (loadable) YAML, and where."""

    line: int | None
    col: int | None
    message: str
    severity: str = "error"


class Positions(Mapping[PathKey, Position]):
    """Where each node of a document starts, by path; looked up in the node tree on demand.

    A valid document needs two positions (its root and its name), so they are not all
    computed up front; iterating (or ``len``) computes them all once."""

    __slots__ = ("_all", "_root", "restore")

    def __init__(self, root: Node, only_root: bool = False) -> None:
        self._root = root
        self._all: dict[PathKey, Position] | None = None
        self.restore: dict[int, int] | None = None  # characters swapped by _hide_breaks
        if only_root:
            self._all = {(): _point(root)}

    def __getitem__(self, path: PathKey) -> Position:
        if self._all is not None:
            return self._all[path]
        node = self._root
        position = _point(node)
        for step in path:
            if type(node) is MappingNode and type(step) is str:
                for key_node, value_node in node.value:
                    if self._is_key(key_node, step):
                        k, v = key_node.start_mark, value_node.start_mark
                        position = (k.line + 1, k.column + 1, v.line + 1, v.column + 1)
                        node = value_node
                        break
                else:
                    raise KeyError(path)
            elif type(node) is SequenceNode and type(step) is int and 0 <= step < len(node.value):
                node = node.value[step]
                position = _point(node)
            else:
                raise KeyError(path)
        return position

    def _is_key(self, node: Node, text: str) -> bool:
        if self.restore is not None and type(node) is ScalarNode:
            return _is_text_key(node, node.value) and node.value.translate(self.restore) == text
        return _is_text_key(node, text)

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def _everything(self) -> dict[PathKey, Position]:
        if self._all is None:
            found: dict[PathKey, Position] = {(): _point(self._root)}
            self._walk(self._root, (), [], found)
            self._all = found
        return self._all

    def _walk(
        self, node: Node, path: PathKey, stack: list[int], found: dict[PathKey, Position]
    ) -> None:
        if id(node) in stack or len(stack) >= MAX_DEPTH:
            return
        stack.append(id(node))
        if type(node) is MappingNode:
            for key_node, value_node in node.value:
                if type(key_node) is ScalarNode and _is_text_key(key_node, key_node.value):
                    key = key_node.value
                    child = (*path, key if self.restore is None else key.translate(self.restore))
                    k, v = key_node.start_mark, value_node.start_mark
                    found[child] = (k.line + 1, k.column + 1, v.line + 1, v.column + 1)
                    self._walk(value_node, child, stack, found)
        elif type(node) is SequenceNode:
            for n, item in enumerate(node.value):
                found[(*path, n)] = _point(item)
                self._walk(item, (*path, n), stack, found)
        stack.pop()


def _point(node: Node) -> Position:
    line, col = _at(node)
    return line, col, line, col


def _is_text_key(node: Node, text: str) -> bool:
    """Whether ``node`` is the mapping key ``text`` (a key that is not text never is)."""
    if type(node) is not ScalarNode or node.value != text:
        return False
    if node.tag == _STR:
        return True
    return node.tag == _PLAIN and text != _MERGE_KEY and type(_plain(node)) is str


class _Parser(CParser):
    """libyaml's parser and composer with a resolver that leaves plain scalars to this module.

    The composer calls these for every untagged node (and for the non-specific ``!``)."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _MAP if kind is MappingNode else _SEQ

    # The composer also calls these two around every node (for path-based resolvers, unused
    # here). Built-in callables that ignore their arguments cost a third of a Python method.
    descend_resolver = operator.is_  # (parent, index) -> a bool nobody reads
    ascend_resolver = tuple  # () -> ()

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.warnings: list[SyntaxProblem] = []

    def warn_reused_anchor(self, anchor: str, first: Node, again: Node) -> None:
        line, col = _at(again)
        before = _at(first)
        self.warnings.append(
            SyntaxProblem(
                line,
                col,
                f"YAML warning: the anchor {anchor!r} is defined again (first on line {before[0]}, "
                f"column {before[1]}); the aliases after this refer to this value",
                "warning",
            )
        )


class _Abort(Exception):
    """The text cannot be loaded past this point (as a syntax error would stop it)."""

    def __init__(self, problem: SyntaxProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def load_all(text: str) -> tuple[list[Document], list[SyntaxProblem]]:
    """The documents of ``text`` up to the first syntax error, and that error if any."""
    too_deep = flow_too_deep(text)
    if too_deep is not None:
        return [], [too_deep]
    restore: dict[int, int] | None = None
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        text, restore = _hide_breaks(text)
    documents, problems = _load(text, _compose_c)
    if problems and problems[0].message.startswith(_REUSED_ANCHOR):
        # libyaml's composer refuses an anchor defined twice; YAML lets the later one win.
        documents, problems = _load(text, _compose_events)
    if restore is not None:
        _restore(documents, problems, restore)
    return documents, problems


def _load(
    text: str, compose: Callable[[_Parser], Iterator[Node]]
) -> tuple[list[Document], list[SyntaxProblem]]:
    documents: list[Document] = []
    problems: list[SyntaxProblem] = []
    parser = _Parser(text)
    try:
        for root in compose(parser):
            documents.append(_Converter().document(root))
    except _Abort as exc:
        problems.append(exc.problem)
    except yaml.MarkedYAMLError as exc:
        problems.append(_marked(exc, text))
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, _char_index(text, exc.position))
        problems.append(SyntaxProblem(line, col, f"invalid YAML: {exc.reason}"))
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml marks its errors
        problems.append(SyntaxProblem(None, None, f"invalid YAML: {exc}"))
    finally:
        parser.dispose()
    problems.extend(parser.warnings)
    return documents, problems


def _compose_c(parser: _Parser) -> Iterator[Node]:
    """Documents composed by libyaml's composer (compiled code: the fast path)."""
    while parser.check_node():
        root: Any = parser.get_node()  # never None after check_node()
        yield root


def _compose_events(parser: _Parser) -> Iterator[Node]:
    """Documents composed here from libyaml's events, an anchor defined again replacing the
    earlier one (with a warning), as YAML specifies. Only used when libyaml's composer refuses
    a reused anchor."""
    get = parser.get_event
    get()  # stream start
    while not isinstance(parser.peek_event(), yaml.StreamEndEvent):
        get()  # document start
        anchors: dict[str, Node] = {}
        stack: list[tuple[Node, list[Node]]] = []
        root: Node | None = None
        while True:
            event: Any = get()
            node: Node
            start: Any = event.start_mark
            end: Any = event.end_mark
            if isinstance(event, yaml.DocumentEndEvent):
                break
            if isinstance(event, yaml.CollectionEndEvent):
                container, items = stack.pop()
                if isinstance(container, MappingNode):
                    container.value.extend(zip(items[::2], items[1::2], strict=True))
                node = container
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {event.anchor!r}", start
                    )
                node = anchors[event.anchor]
            else:
                tag = event.tag
                if isinstance(event, yaml.ScalarEvent):
                    if tag is None or tag == "!":
                        tag = _PLAIN if event.implicit[0] else _STR
                    node = ScalarNode(tag, event.value, start, end, "")
                else:
                    kind = (
                        MappingNode if isinstance(event, yaml.MappingStartEvent) else SequenceNode
                    )
                    if tag is None or tag == "!":
                        tag = _MAP if kind is MappingNode else _SEQ
                    node = kind(tag, [], start, end)
                    stack.append((node, []))
                if event.anchor is not None:
                    if event.anchor in anchors:
                        parser.warn_reused_anchor(event.anchor, anchors[event.anchor], node)
                    anchors[event.anchor] = node
                if isinstance(event, yaml.CollectionStartEvent):
                    continue
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        assert root is not None  # a document always has a root node (maybe an empty scalar)
        yield root
    get()  # stream end


def _hide_breaks(text: str) -> tuple[str, dict[int, int]]:
    """NEL, LS and PS are line breaks to libyaml (YAML 1.1) but ordinary characters in YAML
    1.2: swap them for private-use characters the text does not hold (one character each, so
    every column stays), to be swapped back in the values."""
    free = (c for c in range(0xE000, 0xF900) if chr(c) not in text)
    hide = {ord(c): next(free) for c in "\x85\u2028\u2029"}
    return text.translate(hide), {v: k for k, v in hide.items()}


def _restore(
    documents: list[Document], problems: list[SyntaxProblem], table: dict[int, int]
) -> None:
    def back(value: Any) -> Any:
        if isinstance(value, str):
            return value.translate(table)
        if isinstance(value, dict):
            return {back(k): back(v) for k, v in value.items()}
        if isinstance(value, list):
            return [back(v) for v in value]
        return value

    for document in documents:
        document.data = back(document.data)
        document.problems = [(back(path), back(message)) for path, message in document.problems]
        document.positions.restore = table
    problems[:] = [SyntaxProblem(p.line, p.col, back(p.message), p.severity) for p in problems]


def flow_too_deep(text: str) -> SyntaxProblem | None:
    """Refuse [ / { nesting deeper than ``MAX_DEPTH`` at the bracket that goes too deep.

    Brackets inside strings count too, which only matters for text holding over a hundred
    unclosed brackets."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match[0] in "[{" else -1
        if depth > MAX_DEPTH:
            line, col = _line_col(text, match.start())
            return SyntaxProblem(
                line, col, f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
            )
    return None


def _marked(exc: yaml.MarkedYAMLError, text: str) -> SyntaxProblem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    problem = exc.problem or "syntax error"
    if problem == "exceeded maximum nesting depth":  # libyaml's own limit (1000 levels)
        return SyntaxProblem(line, col, f"invalid YAML: nested more than {MAX_DEPTH} levels deep")
    if problem == "found duplicate anchor" or exc.context == _REUSED_ANCHOR_CONTEXT:
        return SyntaxProblem(line, col, _REUSED_ANCHOR)
    if problem == "found unknown escape character" and mark is not None and col is not None:
        # libyaml marks the backslash; the character after it is what is wrong
        char = text[mark.index + 1 : mark.index + 2]
        return SyntaxProblem(
            line,
            col + 1,
            f"invalid YAML: found unknown escape character {char!r} in a quoted scalar",
        )
    if problem == "found invalid Unicode character escape code" and exc.context_mark is not None:
        # "\ud800": a lone surrogate is not text; shown at the scalar, like a wrong value
        start = exc.context_mark
        return SyntaxProblem(
            start.line + 1,
            start.column + 1,
            "invalid YAML: the quoted text escapes a lone surrogate or a number beyond Unicode; "
            "it is not valid text",
        )
    # libyaml says "did not find expected X"; "expected X" reads better (and as before)
    problem = problem.removeprefix("did not find ")
    context = f" {exc.context}" if exc.context else ""
    return SyntaxProblem(line, col, f"invalid YAML: {problem}{context}".rstrip())


def _char_index(text: str, byte_offset: int) -> int:
    """libyaml reports reader errors at a byte offset of the UTF-8 text."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _at(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _unreadable(node: Node, tag: str, *, explicit: bool) -> _Abort:
    """The error for a scalar that cannot be read as ``tag`` (a load error, as the YAML
    library reports it: it stops the file)."""
    value = str(node.value)
    shown = repr(value if len(value) <= 40 else value[:37] + "...")
    advice = "fix the value or remove the tag" if explicit else "quote it as text"
    line, col = _at(node)
    return _Abort(
        SyntaxProblem(
            line, col, f"invalid YAML: {shown} cannot be read as {_tag_name(tag)}; {advice}"
        )
    )


def _plain(node: ScalarNode) -> Any:
    """The value of a plain scalar by the YAML 1.2 rules of the module docstring."""
    value: str = node.value
    if not value or value[0] not in _NUMBER_START:
        if value in _NULL:
            return None
        return _BOOL.get(value, value)
    if _INT.fullmatch(value):
        return _int(node, value, explicit=False)
    if _FLOAT.fullmatch(value):
        return _float(value)
    return value


def _float(value: str) -> float:
    text = value.replace("_", "").lower()
    if text.endswith((".inf", ".nan")):  # Python spells them inf and nan
        text = text.replace(".", "")
    return float(text)


def _fits(value: str, tag: str) -> bool:
    """Whether a scalar is a valid !!timestamp or !!binary (so that a value that does not fit
    its tag is reported as such; one that does is still refused, as any non-JSON value)."""
    if tag == _CORE + "timestamp":
        match = _TIMESTAMP.fullmatch(value)
        if match is None:
            return False
        year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
        try:
            datetime(year, month, day, hour, minute, second)
        except ValueError:
            return False
        return True
    if tag == _CORE + "binary":
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
        raise _unreadable(node, _CORE + "int", explicit=explicit) from None


class _Converter:
    """Nodes of one document to plain data, collecting positions and problems on the way.

    The loops handle text keys and scalar values inline: they are nearly every node of a
    manifest, and a method call per node would cost as much as libyaml's parsing."""

    def __init__(self) -> None:
        self.problems: list[tuple[PathKey, str]] = []
        self.nodes = 0
        self.stack: list[int] = []

    def document(self, root: Node) -> Document:
        try:
            data = self.convert(root, ())
        except _TooBig:
            return Document(
                None,
                Positions(root, only_root=True),
                [((), f"document has more than {MAX_NODES} values (alias expansion?)")],
            )
        return Document(data, Positions(root), self.problems)

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig

    def convert(self, node: Node, path: PathKey) -> Any:
        self.count()
        if type(node) is ScalarNode:
            return self.scalar(node, path)
        return self.container(node, path)

    def container(self, node: Any, path: PathKey) -> Any:
        if id(node) in self.stack or len(self.stack) >= MAX_DEPTH:
            self.problems.append((path, "recursive alias or nesting too deep"))
            return None
        tag = node.tag
        if tag.startswith(_CORE) and tag not in (_MAP, _SEQ):
            return self.unsupported(tag, path)
        self.stack.append(id(node))
        try:
            if type(node) is MappingNode:
                return self.mapping(node, path)
            return self.sequence(node, path)
        finally:
            self.stack.pop()

    def mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        others: set[Any] = set()  # keys that are not text, for the duplicate check
        merge: Node | None = None
        # The fast tests compare tags by identity: the composer stores the very string the
        # resolver returned. An explicit tag is another string and takes the general path.
        plain, text, not_text = _PLAIN, _STR, _NOT_TEXT_START
        for key_node, value_node in node.value:
            tag = key_node.tag
            if type(key_node) is ScalarNode and (
                tag is text or (tag is plain and key_node.value[:1] not in not_text)
            ):
                key: Any = key_node.value
            elif tag == _PLAIN and key_node.value == _MERGE_KEY:
                if merge is not None:
                    raise _duplicate(node, key_node, "merge key", _MERGE_KEY)
                merge = value_node
                continue
            else:
                key = self.key(key_node)
            if key in out or key in others:
                raise _duplicate(node, key_node, "key", key)
            if type(key) is not str:
                others.add(key)
                self.problems.append(
                    (path, f'key {key!r} is not text; quote it, e.g. "{key}": ...')
                )
                continue
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise _TooBig
            if type(value_node) is ScalarNode:
                tag = value_node.tag
                if tag is text or (tag is plain and value_node.value[:1] not in not_text):
                    out[key] = value_node.value
                else:
                    out[key] = self.scalar(value_node, (*path, key))
            else:
                out[key] = self.container(value_node, (*path, key))
        if merge is not None:
            self.merge(node, merge, path, out, others)
        return out

    def merge(
        self, node: MappingNode, value: Node, path: PathKey, out: dict[str, Any], others: set[Any]
    ) -> None:
        """Add the keys a ``<<`` merge key brings in (YAML's merge key: the mapping's own keys
        win, then earlier merged mappings over later ones). Merged keys have no position of
        their own: a problem in one is shown at the mapping."""
        for key_node, value_node in self.merged_pairs(value, (id(node),)):
            key = self.key(key_node)
            if key in out or key in others:
                continue
            if type(key) is not str:
                others.add(key)
                self.problems.append(
                    (path, f'key {key!r} is not text; quote it, e.g. "{key}": ...')
                )
                continue
            out[key] = self.convert(value_node, (*path, key))

    def merged_pairs(self, value: Node, within: tuple[int, ...]) -> list[tuple[Node, Node]]:
        sources = value.value if type(value) is SequenceNode else [value]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if type(source) is not MappingNode:
                kind = "scalar" if type(source) is ScalarNode else "sequence"
                expected = "a mapping" if type(value) is SequenceNode else _MERGE_EXPECTED
                line, col = _at(source)
                raise _Abort(
                    SyntaxProblem(
                        line,
                        col,
                        f"invalid YAML: expected {expected} for merging, but found {kind} "
                        "while constructing a mapping",
                    )
                )
            if id(source) in within or len(within) >= MAX_DEPTH:
                line, col = _at(source)
                raise _Abort(SyntaxProblem(line, col, "invalid YAML: a mapping merges itself"))
            inner: Node | None = None
            for key_node, value_node in source.value:
                if key_node.tag == _PLAIN and key_node.value == _MERGE_KEY:
                    inner = value_node
                else:
                    pairs.append((key_node, value_node))
            if inner is not None:
                pairs.extend(self.merged_pairs(inner, (*within, id(source))))
        return pairs

    def key(self, node: Node) -> Any:
        """A mapping key as a hashable value (a text key is the usual case)."""
        if type(node) is ScalarNode:
            if node.tag == _STR:
                return node.value
            return self.scalar(node, None)
        if type(node) is SequenceNode:
            return tuple(self.key(item) for item in node.value)
        return repr({self.key(k): self.key(v) for k, v in node.value})

    def sequence(self, node: SequenceNode, path: PathKey) -> list[Any]:
        return [self.convert(item, (*path, n)) for n, item in enumerate(node.value)]

    def scalar(self, node: ScalarNode, path: PathKey | None) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _PLAIN:
            value = _plain(node)
        elif tag == _CORE + "int":
            if not _INT.fullmatch(node.value):
                raise _unreadable(node, tag, explicit=True)
            value = _int(node, node.value, explicit=True)
        elif tag == _CORE + "float":
            if _FLOAT.fullmatch(node.value):
                value = _float(node.value)
            elif _INT.fullmatch(node.value):
                value = float(_int(node, node.value, explicit=True))
            else:
                raise _unreadable(node, tag, explicit=True)
        elif tag == _CORE + "bool":
            if node.value not in _BOOL:
                raise _unreadable(node, tag, explicit=True)
            value = _BOOL[node.value]
        elif tag == _CORE + "null":
            value = None
        else:
            if not _fits(node.value, tag):
                raise _unreadable(node, tag, explicit=True)
            if tag == _CORE + "timestamp":  # named as the Python value it would be
                tag = "datetime" if len(node.value) > 10 else "date"
            return self.unsupported(tag, path)
        if type(value) is float and not math.isfinite(value):
            if path is None:
                return value  # a key: reported as a key that is not text
            self.problems.append((path, f"{value} is not a finite number"))
            return None
        return value

    def unsupported(self, tag: str, path: PathKey | None) -> None:
        if path is not None:
            name = _TAG_NAMES.get(tag.removeprefix(_CORE), f"{_tag_name(tag)}-tagged")
            self.problems.append(
                (path, f"a YAML {name} value cannot be sent to the API; write it as text in quotes")
            )
        return None


def _duplicate(mapping: Node, key_node: Node, what: str, key: Any) -> _Abort:
    line, col = _at(key_node)
    return _Abort(
        SyntaxProblem(
            line,
            col,
            f'invalid YAML: found duplicate {what} "{key}" (the mapping starts on line '
            f"{mapping.start_mark.line + 1}); a key may appear once per mapping",
        )
    )


class _TooBig(Exception):
    pass
