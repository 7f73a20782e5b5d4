"""A composed YAML document (libyaml's node tree) into a ``Document``: plain data, where each
value starts, and the values it could not represent.

Scalars get their values by the rules of ``yamlscalars``. A key twice in one mapping is an
error; ``<<`` merges mappings as YAML's merge key does. Positions are 1-based
``(key_line, key_col, value_line, value_col)`` per path (columns count characters, as libyaml's
marks do); a sequence item has its own position twice; the root ``()`` is the document's first
node. Nesting deeper than ``MAX_DEPTH`` and more than ``MAX_NODES`` values after alias
expansion are refused (alias bombs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler import redact
from reconciler.manifests.yamlpaths import LoadStopped, PathKey, Position, SyntaxProblem
from reconciler.manifests.yamlscalars import (
    CORE,
    MAP,
    MERGE_KEY,
    NOT_TEXT_START,
    PLAIN,
    SEQ,
    STR,
    NotJson,
    node_start,
    plain_value,
    scalar_value,
    tag_name,
)

MAX_NODES = 50_000  # after alias expansion; a manifest has a few dozen
MAX_DEPTH = 100

_MERGE_EXPECTED = "a mapping or list of mappings"
# ``<<`` untagged, or tagged as YAML 1.1's merge type (``!!merge <<``), is the merge key
_MERGE_TAGS = frozenset({PLAIN, CORE + "merge"})
# The API's numbers: JSON integers that fit 64 bits (signed)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


@dataclass(slots=True)
class Document:
    """One YAML document: plain data, positions, and values it could not represent."""

    data: Any
    positions: Positions
    problems: list[tuple[PathKey, str]] = field(default_factory=list)
    # Problems reported where their path is not: a mapping key that is not text has no path of
    # its own, so its problem (by its index in ``problems``) is at the key's line and column.
    places: dict[int, tuple[int, int]] = field(default_factory=dict)
    # The values written as nothing at all (`options:` and no value): null like a written
    # `null` or `~`, but maybe not meant as one (the layers warn when it removes a value).
    empty: list[PathKey] = field(default_factory=list)


class Positions(Mapping[PathKey, Position]):
    """Where each node of a document starts, by path; looked up in the node tree on demand.

    A valid document needs two positions (its root and its name), so they are not all
    computed up front; iterating (or ``len``) computes them all once."""

    __slots__ = ("_all", "_root", "restore")

    def __init__(self, root: Node, only_root: bool = False) -> None:
        self._root = root
        self._all: dict[PathKey, Position] | None = None
        # characters the reader swapped before parsing (yamlread's hidden line breaks)
        self.restore: dict[int, int] | None = None
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
    line, col = node_start(node)
    return line, col, line, col


def _is_text_key(node: Node, text: str) -> bool:
    """Whether ``node`` is the mapping key ``text`` (a key that is not text never is)."""
    if type(node) is not ScalarNode or node.value != text:
        return False
    if node.tag == STR:
        return True
    return node.tag == PLAIN and text != MERGE_KEY and type(plain_value(node)) is str


def to_document(root: Node) -> Document:
    """The document composed as ``root``; ``LoadStopped`` where it cannot be read on."""
    return _Converter().document(root)


class _Converter:
    """Nodes of one document to plain data, collecting positions and problems on the way.

    The loops handle text keys and scalar values inline: they are nearly every node of a
    manifest, and a method call per node would cost as much as libyaml's parsing."""

    def __init__(self) -> None:
        self.problems: list[tuple[PathKey, str]] = []
        self.places: dict[int, tuple[int, int]] = {}
        self.empty: list[PathKey] = []
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
        return Document(data, Positions(root), self.problems, self.places, self.empty)

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
        if tag not in (MAP, SEQ):
            if tag.startswith(CORE):  # !!set, !!omap, !!pairs...
                return self.not_json(NotJson(tag), path)
            kind = "mapping" if type(node) is MappingNode else "list"
            self.problems.append(
                (path, f"a YAML {tag_name(tag)}-tagged {kind} cannot be sent to the API; "
                 "remove the tag")
            )  # fmt: skip
            return None
        self.stack.append(id(node))
        try:
            if type(node) is MappingNode:
                return self.mapping(node, path)
            return self.sequence(node, path)
        finally:
            self.stack.pop()

    def mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # keys that are not text, for the duplicate check: by type too, as `1` and `true` are
        # two keys (Python's 1 == True would take the second for the first again)
        others: set[tuple[type, Any]] = set()
        merge: Node | None = None
        # The fast tests compare tags by identity: the composer stores the very string the
        # resolver returned. An explicit tag is another string and takes the general path.
        plain, text, not_text = PLAIN, STR, NOT_TEXT_START
        for key_node, value_node in node.value:
            tag = key_node.tag
            if type(key_node) is ScalarNode and (
                tag is text or (tag is plain and key_node.value[:1] not in not_text)
            ):
                key: Any = key_node.value
            elif key_node.value == MERGE_KEY and tag in _MERGE_TAGS:
                if merge is not None:
                    raise _duplicate(node, key_node, "merge key", MERGE_KEY)
                merge = value_node
                continue
            else:
                key = self.key(key_node)
            if key in out or (type(key), key) in others:
                raise _duplicate(node, key_node, "key", key if type(key) is str else key_node.value)
            if type(key) is not str:
                others.add((type(key), key))
                self.not_text(key, key_node, path)
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
        self,
        node: MappingNode,
        value: Node,
        path: PathKey,
        out: dict[str, Any],
        others: set[tuple[type, Any]],
    ) -> None:
        """Add the keys a ``<<`` merge key brings in (YAML's merge key: the mapping's own keys
        win, then earlier merged mappings over later ones). Merged keys have no position of
        their own: a problem in one is shown at the mapping."""
        for key_node, value_node in self.merged_pairs(value, (id(node),)):
            key = self.key(key_node)
            if key in out or (type(key), key) in others:
                continue
            if type(key) is not str:
                others.add((type(key), key))
                self.not_text(key, key_node, path)
                continue
            out[key] = self.convert(value_node, (*path, key))

    def merged_pairs(
        self, value: Node, within: tuple[int, ...], seen: set[int] | None = None
    ) -> list[tuple[Node, Node]]:
        """The pairs a merge brings in, in precedence order. A mapping merged a second time
        (``<<: [*a, *a]``, or reached again through another merge) brings nothing the first
        time did not: it is skipped, so a chain of doubling merges stays linear. Every pair
        counts towards ``MAX_NODES`` all the same."""
        seen = set() if seen is None else seen
        sources = value.value if type(value) is SequenceNode else [value]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if type(source) is not MappingNode:
                kind = "scalar" if type(source) is ScalarNode else "sequence"
                expected = "a mapping" if type(value) is SequenceNode else _MERGE_EXPECTED
                line, col = node_start(source)
                raise LoadStopped(
                    SyntaxProblem(
                        line,
                        col,
                        f"invalid YAML: expected {expected} for merging, but found {kind} "
                        "while constructing a mapping",
                    )
                )
            if id(source) in within or len(within) >= MAX_DEPTH:
                line, col = node_start(source)
                raise LoadStopped(SyntaxProblem(line, col, "invalid YAML: a mapping merges itself"))
            if id(source) in seen:
                continue
            seen.add(id(source))
            inner: Node | None = None
            for key_node, value_node in source.value:
                if key_node.value == MERGE_KEY and key_node.tag in _MERGE_TAGS:
                    inner = value_node
                else:
                    self.count()
                    pairs.append((key_node, value_node))
            if inner is not None:
                pairs.extend(self.merged_pairs(inner, (*within, id(source)), seen))
        return pairs

    def key(self, node: Node) -> Any:
        """A mapping key: its text (nearly always), a JSON scalar that is not text, or an
        ``_Unusable`` key (a list, a mapping, a tagged value, a number beyond 64 bits). A list
        or mapping key is never expanded: it cannot be an alias bomb, a cycle or a deep
        recursion, and it is refused whatever it holds."""
        if type(node) is ScalarNode:
            if node.tag == STR:
                return node.value
            value = scalar_value(node)
            if type(value) is NotJson:
                return _Unusable(f"a {tag_name(node.tag)}-tagged value", node)
            if type(value) is int and not INT_MIN <= value <= INT_MAX:
                return _Unusable("a number beyond 64 bits", node)
            return value
        return _Unusable("a list" if type(node) is SequenceNode else "a mapping", node)

    def not_text(self, key: Any, node: Node, path: PathKey) -> None:
        """A mapping key that is not text: a problem of the mapping, at the key itself."""
        self.places[len(self.problems)] = node_start(node)
        self.problems.append((path, _not_text(key, node)))

    def sequence(self, node: SequenceNode, path: PathKey) -> list[Any]:
        return [self.convert(item, (*path, n)) for n, item in enumerate(node.value)]

    def scalar(self, node: ScalarNode, path: PathKey) -> Any:
        if not node.value and node.tag is PLAIN:
            # nothing written (a plain scalar is empty only then; `""` is quoted, `!!null` tagged)
            self.empty.append(path)
            return None
        value = scalar_value(node)
        if type(value) is float and not math.isfinite(value):
            self.problems.append((path, f"{value} is not a finite number"))
            return None
        if type(value) is int and not INT_MIN <= value <= INT_MAX:
            # Hex, octal and binary have no length limit in Python, and such a number could
            # not even be printed (over 4300 digits); the API's numbers are 64-bit at most.
            shown = redact.clip(node.value, 40)
            self.problems.append(
                (path, f"the number {shown} is beyond the 64-bit range of the API's numbers; "
                 "if it is an identifier, quote it as text")
            )  # fmt: skip
            return None
        if type(value) is NotJson:
            return self.not_json(value, path)
        return value

    def not_json(self, value: NotJson, path: PathKey) -> None:
        self.problems.append((path, value.message()))
        return None


def _duplicate(mapping: Node, key_node: Node, what: str, key: Any) -> LoadStopped:
    line, col = node_start(key_node)
    return LoadStopped(
        SyntaxProblem(
            line,
            col,
            f'invalid YAML: found duplicate {what} "{key}" (the mapping starts on line '
            f"{mapping.start_mark.line + 1}); a key may appear once per mapping",
        )
    )


class _TooBig(Exception):
    pass


class _Unusable:
    """A mapping key that is not text and is not shown as a value: named by what it is and
    where it starts. Hashed by identity: two of them are never "the same key"."""

    __slots__ = ("col", "line", "what")

    def __init__(self, what: str, node: Node) -> None:
        self.what = what
        self.line, self.col = node_start(node)


def _not_text(key: Any, node: Node) -> str:
    """The problem of a mapping key that is not text: what YAML read the key as, and the key
    as written in quotes (``1.50`` read as 1.5 stays ``"1.50"``)."""
    if type(key) is _Unusable:
        return (
            f"the key on line {key.line}, column {key.col} is {key.what}, not text; "
            "mapping keys must be text"
        )
    if key is None:
        read = "null (no value)"
    elif type(key) is bool:
        read = f"the boolean {str(key).lower()}"
    else:
        read = f"the number {key}"
    written = redact.clip(node.value, 40)
    return f'key {written} must be text, but YAML reads it as {read}; quote it: "{written}":'
