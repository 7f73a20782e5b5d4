"""Layer files: ``_defaults.yaml``, ``extends`` bases and overlay files, each read once as one
YAML mapping, with every problem recorded at the file, line and column where it was written.

Files whose name starts with ``_`` are layers (defaults or bases), never schedules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import Problem
from reconciler.manifests import yamlread
from reconciler.manifests.yamlpaths import PathKey, Position

DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")
LAYER_PREFIX = "_"
EXTENDS = "extends"

ReadText = Callable[[Path, str, list[Problem]], str | None]


def is_layer_file(path: Path | str) -> bool:
    """Whether the file is a defaults or base file (its name starts with ``_``)."""
    return os.path.basename(path).startswith(LAYER_PREFIX)


@dataclass
class LayerFile:
    """One mapping of a layer file (a whole file, or one patch of an overlay file) and where
    its values were written."""

    display: str
    data: dict[str, Any]
    positions: Mapping[PathKey, Position]
    empty: frozenset[PathKey] = frozenset()  # keys written with no value (the reader's)


@dataclass
class LayerFiles:
    """The layer files of one load, each read once, and every problem the layers found, in the
    order they were found."""

    read_text: ReadText
    problems: list[Problem] = field(default_factory=list)
    # The bases some `extends:` reached (real paths, case folded as the file system compares).
    extended: set[str] = field(default_factory=set)
    _read: dict[str, LayerFile | None] = field(default_factory=dict)
    _files: dict[tuple[str, str], LayerFile | None] = field(default_factory=dict)

    def layer_file(self, path: Path, display: str, kind: str) -> LayerFile | None:
        """The defaults (``kind`` "defaults") or base ("base") file at ``path``; ``None`` when
        it is unusable (its problem recorded the first time it is asked for).

        A text is read once, however many names lead to it, but checked once for each kind it
        is asked for: a ``_defaults.yaml`` that is a link to a base holding ``extends:`` is a
        defaults file using ``extends``, even when the base was read first."""
        real = os.path.realpath(path)
        key = os.path.normcase(real)
        if (key, kind) in self._files:
            return self._files[(key, kind)]
        if key not in self._read:
            self._read[key] = self.read_mapping(path, display, f"a {kind} file")
        loaded = self._read[key]
        if loaded is not None and "name" in loaded.data:
            line, col = key_at(loaded.positions, ("name",))
            self.problems.append(
                Problem(
                    display,
                    line,
                    col,
                    "name: a file whose name starts with '_' is a defaults or base file, not a "
                    "schedule, so it may not give a name; rename the file without the leading "
                    "'_' if it is a schedule, or drop `name:`",
                )
            )
            loaded = None
        if loaded is not None and kind == "defaults" and EXTENDS in loaded.data:
            line, col = key_at(loaded.positions, (EXTENDS,))
            # Through a link, the text is the base's: say so, relative to the link.
            target = Path(os.path.relpath(real, os.path.realpath(path.parent))).as_posix()
            through = f" (a link to {target})" if os.path.islink(path) else ""
            self.problems.append(
                Problem(
                    display,
                    line,
                    col,
                    f"{EXTENDS}: a defaults file applies to its whole directory and cannot "
                    f"extend a base{through}; put `extends:` into the manifests",
                )
            )
            loaded = None
        self._files[(key, kind)] = loaded
        return loaded

    def read_mapping(self, path: Path, display: str, what: str) -> LayerFile | None:
        """One YAML mapping from the file, or ``None`` after recording why not."""
        text = self.read_text(path, display, self.problems)
        if text is None:
            return None
        documents, syntax = yamlread.load_all(text)
        for s in syntax:
            self.problems.append(Problem(display, s.line, s.col, s.message, s.severity))
        if any(s.severity == "error" for s in syntax):
            return None
        for document in documents:
            for n, (where, message) in enumerate(document.problems):
                line, col = document.places.get(n) or key_at(document.positions, where)
                prefix = ".".join(str(step) for step in where)
                self.problems.append(
                    Problem(display, line, col, f"{prefix}: {message}" if prefix else message)
                )
        if len(documents) != 1 or not isinstance(documents[0].data, dict):
            self.problems.append(
                Problem(display, 1, 1, f"{what} holds exactly one YAML mapping (one document)")
            )
            return None
        if documents[0].problems:
            return None
        document = documents[0]
        return LayerFile(display, document.data, document.positions, frozenset(document.empty))


def root_of(roots: list[Path], path: Path) -> Path:
    """The manifest directory ``path`` is in (its own directory for a file named alone)."""
    for root in roots:
        if within(path, root):
            return root
    return path.parent


def within(path: Path, root: Path) -> bool:
    """Whether ``path`` is spelled as ``root`` or a path below it: ``root/a/b``, not
    ``root/a/../../other`` (the system resolves ``..`` after a link, so it is not read as
    leading back into ``root``)."""
    try:
        rest = path.relative_to(root)
    except ValueError:
        return False
    return os.pardir not in rest.parts


def inside(real: str, root: str) -> bool:
    """Whether the real path ``real`` is ``root`` or below it."""
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def key_at(positions: Mapping[PathKey, Position], path: PathKey) -> tuple[int, int]:
    """Line and column of the key at ``path``, or of the nearest enclosing key written."""
    probe = path
    while probe and probe not in positions:
        probe = probe[:-1]
    position = positions.get(probe)
    return (position[0], position[1]) if position is not None else (1, 1)


def value_pos(positions: Mapping[PathKey, Position], path: PathKey) -> tuple[int, int]:
    """Line and column of the value at ``path``, else as :func:`key_at`."""
    position = positions.get(path)
    return (position[2], position[3]) if position is not None else key_at(positions, path)
