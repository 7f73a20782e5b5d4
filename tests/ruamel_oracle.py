"""The oracle of the YAML reader's tests: manifests loaded by ruamel.yaml's YAML 1.2 loader.

This is how the reconciler read YAML before ``reconciler/manifests/yamlread.py`` (ruamel.yaml's
round-trip loader, a resolver that keeps timestamps as text, positions from its line/column
records). ``tests/test_yaml_reader.py`` checks that the libyaml-based reader gives the same
data, positions and problems. Pure Python and slow (about 2.4 ms a manifest): tests only.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from reconciler.manifests.yamlpaths import PathKey, Position

MAX_NODES = 50_000  # after alias expansion; a manifest has a few dozen
MAX_DEPTH = 100
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass
class FullDocument:
    """One YAML document: plain data, positions, and values it could not represent."""

    data: Any
    positions: dict[PathKey, Position]
    problems: list[tuple[PathKey, str]] = field(default_factory=list)


@dataclass(frozen=True)
class SyntaxProblem:
    """Why the text is not (loadable) YAML, and where."""

    line: int | None
    col: int | None
    message: str
    severity: str = "error"


def _yaml() -> Any:
    # A new loader each time: ruamel.yaml keeps a %YAML 1.1 directive's version for later
    # texts given to the same loader.
    from ruamel.yaml import YAML
    from ruamel.yaml.resolver import VersionedResolver

    class _Resolver(VersionedResolver):
        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            tag = super().resolve(kind, value, implicit)
            if str(tag) == "tag:yaml.org,2002:timestamp":
                return self.DEFAULT_SCALAR_TAG
            return tag

    yaml = YAML(typ="rt")
    yaml.Resolver = _Resolver
    return yaml


def load_all(text: str) -> tuple[list[FullDocument], list[SyntaxProblem]]:
    """The documents of ``text`` up to the first syntax error, and that error if any."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    documents: list[FullDocument] = []
    problems: list[SyntaxProblem] = []
    too_deep = _flow_too_deep(text)
    if too_deep is not None:
        return documents, [too_deep]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for raw in _yaml().load_all(text):
                documents.append(_convert(raw))
        except MarkedYAMLError as exc:
            problems.append(_marked(exc))
        except ReaderError as exc:
            line, col = _line_col(text, exc.position)
            problems.append(SyntaxProblem(line, col, f"invalid YAML: {exc.reason}"))
        except YAMLError as exc:
            problems.append(SyntaxProblem(None, None, f"invalid YAML: {exc}"))
        except RecursionError:
            line, col = _deepest_line(text)
            problems.append(SyntaxProblem(line, col, "invalid YAML: nested too deeply"))
        except Exception:
            # ruamel's constructors raise bare errors for explicitly tagged values that do not
            # fit their tag (KeyError for `!!bool maybe`, ValueError for `!!int one`).
            problems.append(_unconstructable(text))
    for warning in caught:
        mark = getattr(warning.message, "problem_mark", None)
        where: tuple[int | None, int | None] = (None, None)
        if mark is not None:
            where = (mark.line + 1, mark.column + 1)
        text_of = " ".join(str(warning.message).split())
        problems.append(SyntaxProblem(*where, f"YAML warning: {text_of}", "warning"))
    return documents, problems


def _flow_too_deep(text: str) -> SyntaxProblem | None:
    """Refuse absurd [ / { nesting before ruamel.yaml sees it: its scanner is quadratic in the
    nesting depth, so 1 MiB of "[" would take hours. Brackets inside strings count too, which
    only matters for text holding over a hundred unclosed brackets."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match[0] in "[{" else -1
        if depth > MAX_DEPTH:
            line, col = _line_col(text, match.start())
            return SyntaxProblem(
                line, col, f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
            )
    return None


def _deepest_line(text: str) -> tuple[int, int]:
    """The first most-indented line: where a too-deep block structure is."""
    best = (1, 1)
    deepest = -1
    for number, line in enumerate(text.split("\n"), 1):
        indent = len(line) - len(line.lstrip(" -"))
        if indent > deepest and line.strip(" -"):
            deepest, best = indent, (number, indent + 1)
    return best


def root_positions(text: str) -> list[tuple[int, int]]:
    """Where each document's root node starts (for documents that are not mappings)."""
    out: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for node in _yaml().compose_all(text):
            out.append((node.start_mark.line + 1, node.start_mark.column + 1))
    return out


def _unconstructable(text: str) -> SyntaxProblem:
    """The problem for a value ruamel.yaml could not construct, at the first such scalar."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    yaml = _yaml()
    try:
        stack = list(reversed(list(yaml.compose_all(text))))
    except Exception:  # only a best effort at finding the place
        stack = []
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode):
            try:
                yaml.constructor.construct_object(node, deep=True)
            except Exception:  # this is the node we are looking for
                tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
                value = str(node.value)
                shown = repr(value if len(value) <= 40 else value[:37] + "...")
                explicit = text.startswith("!", node.start_mark.index)
                advice = "fix the value or remove the tag" if explicit else "quote it as text"
                return SyntaxProblem(
                    node.start_mark.line + 1,
                    node.start_mark.column + 1,
                    f"invalid YAML: {shown} cannot be read as {tag}; {advice}",
                )
        elif isinstance(node, MappingNode):
            stack.extend(item for pair in reversed(node.value) for item in reversed(pair))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
    return SyntaxProblem(None, None, "invalid YAML: a value cannot be read as its tag says")


def _marked(exc: Any) -> SyntaxProblem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    problem = exc.problem or "syntax error"
    if type(exc).__name__ == "DuplicateKeyError" and exc.context_mark is not None:
        first = exc.context_mark.line + 1
        return SyntaxProblem(
            line,
            col,
            f"invalid YAML: {problem.split(' with value')[0]} (the mapping starts on line "
            f"{first}); a key may appear once per mapping",
        )
    context = f" {exc.context}" if exc.context else ""
    return SyntaxProblem(line, col, f"invalid YAML: {problem}{context}".rstrip())


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


class _Converter:
    """ruamel's round-trip objects to plain data, collecting positions on the way."""

    def __init__(self) -> None:
        self.positions: dict[PathKey, Position] = {}
        self.problems: list[tuple[PathKey, str]] = []
        self.nodes = 0
        self.stack: list[int] = []

    def convert(self, value: Any, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig
        if isinstance(value, dict):
            return self._container(value, path, self._mapping)
        if isinstance(value, list):
            return self._container(value, path, self._sequence)
        return self._scalar(value, path)

    def _container(self, value: Any, path: PathKey, how: Any) -> Any:
        if id(value) in self.stack or len(self.stack) >= MAX_DEPTH:
            self.problems.append((path, "recursive alias or nesting too deep"))
            return None
        self.stack.append(id(value))
        try:
            return how(value, path)
        finally:
            self.stack.pop()

    def _mapping(self, value: Any, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        marks = getattr(getattr(value, "lc", None), "data", None) or {}
        for key, item in value.items():
            if not isinstance(key, str):
                # the reader quotes the key as written; from the value here, which is the
                # same for the keys the corpus and fixtures hold (`1:`, `true:`, `null:`)
                written = "null" if key is None else str(key).lower()
                read = (
                    "null (no value)"
                    if key is None
                    else f"the boolean {written}"
                    if type(key) is bool
                    else f"the number {key}"
                )
                self.problems.append(
                    (path, f'key {written} must be text, but YAML reads it as {read}; quote it: '
                     f'"{written}":')
                )  # fmt: skip
                continue
            child = (*path, key)
            mark = marks.get(key)
            if mark is not None:
                self.positions[child] = (mark[0] + 1, mark[1] + 1, mark[2] + 1, mark[3] + 1)
            out[key] = self.convert(item, child)
        return out

    def _sequence(self, value: Any, path: PathKey) -> list[Any]:
        marks = getattr(getattr(value, "lc", None), "data", None) or {}
        out: list[Any] = []
        for n, item in enumerate(value):
            child = (*path, n)
            mark = marks.get(n)
            if mark is not None:
                self.positions[child] = (mark[0] + 1, mark[1] + 1, mark[0] + 1, mark[1] + 1)
            out.append(self.convert(item, child))
        return out

    def _scalar(self, value: Any, path: PathKey) -> Any:
        if value is None or isinstance(value, bool):
            return value
        kind = type(value).__name__
        if kind == "ScalarBoolean":  # an anchored true/false
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                self.problems.append((path, f"{value} is not a finite number"))
                return None
            return float(value)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # "\ud800" escapes a lone surrogate: not text
                self.problems.append((path, "contains an escaped lone surrogate; not valid text"))
                return None
            return str(value)
        self.problems.append(
            (path, f"a YAML {kind} value cannot be sent to the API; write it as text in quotes")
        )
        return None


class _TooBig(Exception):
    pass


def _convert(raw: Any) -> FullDocument:
    converter = _Converter()
    try:
        data = converter.convert(raw, ())
    except _TooBig:
        return FullDocument(
            None, {}, [((), f"document has more than {MAX_NODES} values (alias expansion?)")]
        )
    lc = getattr(raw, "lc", None)
    if lc is not None and lc.line is not None:
        converter.positions[()] = (lc.line + 1, lc.col + 1, lc.line + 1, lc.col + 1)
    return FullDocument(data, converter.positions, converter.problems)


def load(text: str) -> tuple[list[FullDocument], list[SyntaxProblem]]:
    """``load_all`` with the root position of every document (as the manifest loader used it)."""
    documents, problems = load_all(text)
    if any(not isinstance(d.data, dict) for d in documents):
        roots = root_positions(text) if not problems else []
        for n, document in enumerate(documents):
            if () not in document.positions and n < len(roots):
                line, col = roots[n]
                document.positions[()] = (line, col, line, col)
    return documents, problems
