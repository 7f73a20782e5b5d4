"""Reading manifests' YAML: libyaml parses and composes, the project's rules give the values.

libyaml (PyYAML's C parser and composer, ``yaml.cyaml.CParser``) turns the text into a node
tree for every YAML style (block, flow/JSON, anchors and aliases, block scalars, several
documents), each node with its start mark. Its composer is handed a resolver that only says
"plain" or "text"; ``yamlconvert`` turns each document's nodes into data and positions, giving
every scalar its value by the YAML 1.2 rules of ``yamlscalars`` (``docs/yaml.md`` lists them).

This module is what libyaml does not do as YAML 1.2 says: an anchor defined twice (the later
one wins, with a warning), NEL/LS/PS as ordinary characters, flow nesting bounded before
libyaml recurses, and its error messages turned into ``file:line:col`` problems.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml._yaml import CParser  # ImportError without libyaml: there is no slow fallback
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.manifests.yamlconvert import MAX_DEPTH, Document, to_document
from reconciler.manifests.yamlpaths import LoadStopped, SyntaxProblem
from reconciler.manifests.yamlscalars import MAP, PLAIN, SEQ, STR, node_start

_REUSED_ANCHOR = "invalid YAML: an anchor is defined twice"  # replaced by a warning, see load_all
_REUSED_ANCHOR_CONTEXT = "found duplicate anchor; first occurrence"
_BRACKETS = re.compile(r"[\[\]{}]")
_ALIAS = re.compile(r"\*([^\s,\[\]{}]+)")
# where libyaml stops at "\uD83D\uDE00": at the first escape's digits
_SURROGATE_PAIR = re.compile(r"([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


class _Parser(CParser):
    """libyaml's parser and composer with a resolver that leaves plain scalars to ``yamlscalars``.

    The composer calls these for every untagged node (and for the non-specific ``!``)."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return MAP if kind is MappingNode else SEQ

    # The composer also calls these two around every node (for path-based resolvers, unused
    # here). Built-in callables that ignore their arguments cost a third of a Python method.
    descend_resolver = operator.is_  # (parent, index) -> a bool nobody reads
    ascend_resolver = tuple  # () -> ()

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.warnings: list[SyntaxProblem] = []

    def warn_reused_anchor(self, anchor: str, first: Node, again: Node) -> None:
        line, col = node_start(again)
        before = node_start(first)
        self.warnings.append(
            SyntaxProblem(
                line,
                col,
                f"YAML warning: the anchor {anchor!r} is defined again (first on line {before[0]}, "
                f"column {before[1]}); the aliases after this refer to this value",
                "warning",
            )
        )


def load_all(text: str) -> tuple[list[Document], list[SyntaxProblem]]:
    """The documents of ``text`` up to the first syntax error, and that error if any."""
    too_deep = flow_too_deep(text)
    if too_deep is not None:
        return [], [too_deep]
    restore: dict[int, int] | None = None
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        hidden = _hide_breaks(text)
        if hidden is None:
            return [], [
                SyntaxProblem(
                    None,
                    None,
                    "the file holds NEL, LS or PS line separators and every private-use "
                    "character (U+E000 to U+F8FF), so they cannot be read as ordinary "
                    "characters; remove the separators",
                )
            ]
        text, restore = hidden
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
            documents.append(to_document(root))
    except LoadStopped as exc:
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
                else:
                    container.value.extend(items)
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
                        tag = PLAIN if event.implicit[0] else STR
                    node = ScalarNode(tag, event.value, start, end, "")
                else:
                    kind = (
                        MappingNode if isinstance(event, yaml.MappingStartEvent) else SequenceNode
                    )
                    if tag is None or tag == "!":
                        tag = MAP if kind is MappingNode else SEQ
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


def _hide_breaks(text: str) -> tuple[str, dict[int, int]] | None:
    """NEL, LS and PS are line breaks to libyaml (YAML 1.1) but ordinary characters in YAML
    1.2: swap them for private-use characters the text does not hold (one character each, so
    every column stays), to be swapped back in the values. None if the text holds all of
    them but two (a 19 KB file can)."""
    used = set(text)
    free = [c for c in range(0xE000, 0xF900) if chr(c) not in used][:3]
    if len(free) < 3:
        return None
    hide = dict(zip(map(ord, "\x85\u2028\u2029"), free, strict=True))
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
        document.empty = [tuple(back(step) for step in path) for path in document.empty]
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


# libyaml's words for a character no token starts with, and for a tab where it indents: both
# say nothing of the tab (invisible in most editors) or of the quotes the other ones need.
_CANNOT_START = frozenset(
    {
        "found character that cannot start any token",
        "found a tab character that violates indentation",
    }
)
_TAB = (
    "invalid YAML: a tab character here; YAML indents with spaces only (replace the tab with "
    "spaces, or put a value holding one in quotes)"
)


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
        pair = _SURROGATE_PAIR.match(text, exc.problem_mark.index) if exc.problem_mark else None
        if pair is not None:
            # JSON writers escape a character beyond the BMP as two surrogates (json.dumps
            # does for every emoji); YAML's \u is one character, so the pair is two halves
            high, low = int(pair[1], 16), int(pair[2], 16)
            char = chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            return SyntaxProblem(
                start.line + 1,
                start.column + 1,
                f"invalid YAML: the quoted text escapes {char!r} as a UTF-16 surrogate pair "
                f"(\\u{pair[1]}\\u{pair[2]}, as JSON tools write it); YAML escapes it as "
                f"\\U{ord(char):08X}, or write the character itself",
            )
        return SyntaxProblem(
            start.line + 1,
            start.column + 1,
            "invalid YAML: the quoted text escapes a lone surrogate or a number beyond Unicode; "
            "it is not valid text",
        )
    if problem in _CANNOT_START and mark is not None and line is not None:
        char = text[mark.index : mark.index + 1]
        if char == "\t":
            return SyntaxProblem(line, col, _TAB)
        if char in "@`":
            return SyntaxProblem(
                line,
                col,
                f"invalid YAML: a value cannot start with {char!r} (YAML reserves it): "
                "put the value in quotes",
            )
    if problem == "found undefined alias" and mark is not None:
        # libyaml does not name it; the reader's own composer does (the same words for both)
        alias = _ALIAS.match(text, mark.index)
        if alias is not None:
            problem = f"found undefined alias {alias[1]!r}"
    # libyaml says "did not find expected X"; "expected X" reads better (and as before)
    problem = problem.removeprefix("did not find ")
    context = f" {exc.context}" if exc.context else ""
    return SyntaxProblem(line, col, f"invalid YAML: {problem}{context}".rstrip())


def _char_index(text: str, byte_offset: int) -> int:
    """libyaml reports reader errors at a byte offset of the UTF-8 text."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _line_col(text: str, index: int) -> tuple[int, int]:
    """Line and column of ``text[index]``, counting line breaks as libyaml does (CRLF, CR or
    LF: its marks count a lone CR as a break too)."""
    breaks = text.count("\n", 0, index) + text.count("\r", 0, index) - text.count("\r\n", 0, index)
    start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
    return breaks + 1, index - start + 1
