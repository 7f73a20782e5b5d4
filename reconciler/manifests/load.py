"""Find, read and load manifest files into validated ``Schedule`` models, with every problem.

``load_manifests`` never stops at the first problem: it reads every file, validates every
document and reports each problem with ``file:line:col``. Files are parsed by ``yamlread``
(libyaml, with the project's YAML 1.2 scalar rules), whatever YAML style they are written in.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from reconciler import files, redact
from reconciler.errors import ManifestError, Problem
from reconciler.manifests import layers, yamlread
from reconciler.manifests.messages import describe_error
from reconciler.manifests.models import Schedule, name_warning
from reconciler.manifests.yamlread import Document, PathKey, Position, prefixed, value_at

if TYPE_CHECKING:
    from reconciler.planning.inputs import Desired

MAX_FILE_BYTES = files.MAX_MANIFEST_BYTES
SUFFIXES = (".yaml", ".yml")


@dataclass
class Manifest:
    """One validated schedule document and where it starts."""

    schedule: Schedule
    path: str
    line: int
    col: int
    # Where each field was written in the manifest's own file, for problems found after
    # loading (policies); ``stack`` knows the layer (defaults, base, overlay) of every value.
    positions: Mapping[PathKey, Position] | None = None
    stack: layers.Stack | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.schedule.name

    @cached_property
    def body(self) -> dict[str, Any]:
        """The canonical API body (``schedule.to_api()``)."""
        return self.schedule.to_api()

    @property
    def protected(self) -> bool:
        """``lifecycle.prevent_destroy``."""
        return self.schedule.protected

    @property
    def previous_names(self) -> tuple[str, ...]:
        """``lifecycle.previous_names``."""
        return self.schedule.previous_names

    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass
class ManifestSet:
    """Everything loaded from the given paths: the valid manifests and every problem."""

    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    duplicates: set[str] = field(default_factory=set)  # names used by more than one manifest

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def failing(self, *, strict: bool = False) -> list[Problem]:
        """The problems that make the set unusable (warnings too under ``strict``)."""
        return list(self.problems) if strict else self.errors

    def raise_for_errors(self, strict: bool = False) -> None:
        """Raise ``ManifestError`` listing every problem if any error (or, strict, warning)."""
        if self.failing(strict=strict):
            raise ManifestError([p.strictly() for p in self.problems] if strict else self.problems)

    def desired(self) -> list[Desired]:
        """The manifests as planner input, in load order."""
        # Here, not at the top: `validate` loads manifests and never plans, so it does not pay
        # for importing the planner.
        from reconciler.planning.inputs import Desired

        return [
            Desired(
                name=m.name,
                body=m.body,
                protected=m.protected,
                source=f"{m.path}:{m.line}",
                previous_names=m.previous_names,
            )
            for m in self.manifests
        ]

    def by_name(self) -> dict[str, Manifest]:
        return {m.name: m for m in self.manifests}


def load_manifests(
    paths: Sequence[Path], *, now: datetime, tz: ZoneInfo, overlay: Path | None = None
) -> ManifestSet:
    """Load every manifest under ``paths`` (directories are searched for *.yaml / *.yml),
    each merged with its defaults and bases and, given ``overlay``, that directory's patches
    (``reconciler.manifests.layers``)."""
    files, problems = find_manifest_files(paths)
    stacker = layers.Stacker.for_paths(paths, _read, overlay)
    files = stacker.take_layer_files(files)
    result = ManifestSet(files=len(files))
    result.problems.extend(problems)
    context = {"now": now, "tz": tz}
    names: dict[str, list[tuple[str, int, int]]] = {}
    for path, display in files:
        loaded = _load_file(path, display, context, stacker)
        result.manifests.extend(loaded.manifests)
        result.problems.extend(loaded.problems)
        for name, line, col in loaded.names:
            names.setdefault(name, []).append((display, line, col))
    result.problems.extend(_duplicate_names(names))
    result.duplicates = {name for name, places in names.items() if len(places) > 1}
    result.problems.extend(stacker.finish())
    # A default's problem is found once per manifest under it; it is reported once.
    result.problems = list(dict.fromkeys(result.problems))
    # Messages quote the files (a key, a value); a file holding a credential (a link to .env,
    # a pasted secret) must not put it into the terminal, the CI log or an annotation.
    result.problems = [
        p if (text := redact.redact(p.message)) == p.message else replace(p, message=text)
        for p in result.problems
    ]
    order = {display: n for n, (_, display) in enumerate(files)}
    result.problems.sort(key=lambda p: (order.get(p.path, -1), p.line or 0, p.col or 0))
    return result


def find_manifest_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """The files to load (path, display name), in a stable order, and unusable paths.

    Symbolic links inside a searched directory are followed while they stay inside it (a
    linked sub-directory's schedules are as much part of the tree as any other); one that
    leads outside is an error, never skipped: skipping would plan its schedules as deletes,
    and following would read any file the link names (``x.yaml -> ../.env``) into messages.
    A file reached twice (through a link and directly) is loaded once.
    """
    found: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def add(path: Path, display: str) -> None:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen:
            seen.add(key)
            found.append((path, display))

    for given in paths:
        if given.is_dir():
            _walk(given, add, problems)
        elif given.exists():
            add(given, given.as_posix())
        elif given.is_symlink():
            problems.append(Problem(given.as_posix(), None, None, _BROKEN_LINK))
        else:
            problems.append(Problem(given.as_posix(), None, None, "no such file or directory"))
    return found, problems


_BROKEN_LINK = "is a symbolic link to nothing (its target does not exist)"
# A file or directory name with a control character: printed in a problem, a plan or a CI log,
# "x\n::error::y.yaml" starts a line GitHub Actions runs as a workflow command.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NAME = (
    "its name holds a control character (a line break, an escape); such names are not read: "
    "rename it"
)


def _shown(path: str) -> str:
    """``path`` with its control characters escaped (Python's ``\\n``, ``\\x1b``), for a message."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], Path(path).as_posix())
MAX_DIRECTORY_DEPTH = 64  # levels of sub-directories searched below a manifest directory


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _walk(
    given: Path, add: Callable[[Path, str], None], problems: list[Problem]
) -> None:
    """Every manifest file under ``given``, following links that stay inside it."""
    root = os.path.realpath(given)
    visited: set[str] = set()

    def outside(full: str, kind: str) -> Problem:
        return Problem(
            Path(full).as_posix(),
            None,
            None,
            f"is a symbolic link to a {kind} outside {given.as_posix()}; manifests are read "
            "only inside the manifest directory (copy it in, or point `manifests:` at the "
            "directory that holds it)",
        )

    base_depth = os.path.normpath(given).count(os.sep)
    for dirpath, dirs, names in os.walk(given, followlinks=True):
        visited.add(os.path.realpath(dirpath))
        if os.path.normpath(dirpath).count(os.sep) - base_depth >= MAX_DIRECTORY_DEPTH:
            # Not walked further: the walk recurses once per level (RecursionError near 1000)
            # and each level costs more than the last; no real manifest tree is this deep.
            if any(not d.startswith(".") for d in dirs):
                problems.append(
                    Problem(
                        Path(dirpath).as_posix(),
                        None,
                        None,
                        f"holds directories more than {MAX_DIRECTORY_DEPTH} levels below "
                        f"{given.as_posix()}; manifests are not searched that deep (move them "
                        "higher up, or remove the nested directories)",
                    )
                )
            dirs[:] = []
        keep: list[str] = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            full = os.path.join(dirpath, d)
            if _CONTROL.search(d):
                problems.append(Problem(_shown(full), None, None, _CONTROL_NAME))
                continue
            if os.path.islink(full):
                real = os.path.realpath(full)
                if not _inside(real, root):
                    problems.append(outside(full, "directory"))
                    continue
                if real in visited:  # a loop, or a directory that is walked anyway
                    continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(names):
            if not name.endswith(SUFFIXES) or name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            if _CONTROL.search(name):
                problems.append(Problem(_shown(full), None, None, _CONTROL_NAME))
                continue
            if os.path.islink(full):
                if not os.path.exists(full):
                    problems.append(Problem(Path(full).as_posix(), None, None, _BROKEN_LINK))
                    continue
                if not _inside(os.path.realpath(full), root):
                    problems.append(outside(full, "file"))
                    continue
            add(Path(full), Path(full).as_posix())


@dataclass
class _FileResult:
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    names: list[tuple[str, int, int]] = field(default_factory=list)


def _load_file(
    path: Path, display: str, context: dict[str, Any], stacker: layers.Stacker
) -> _FileResult:
    result = _FileResult()
    text = _read(path, display, result.problems)
    if text is None:
        return result
    documents, syntax = yamlread.load_all(text)
    for s in syntax:
        result.problems.append(Problem(display, s.line, s.col, s.message, s.severity))
    if not documents and not result.problems:
        result.problems.append(
            Problem(display, 1, 1, "file is empty: it should hold at least one schedule")
        )
    for number, document in enumerate(documents, 1):
        _validate(document, number, len(documents), (path, display), context, result, stacker)
    return result


def _read(path: Path, display: str, problems: list[Problem]) -> str | None:
    """The file's text, or ``None`` after adding the reason it cannot be used."""
    try:
        # Regular files only (a FIFO would block forever) and at most the cap.
        data = files.read_regular(path, limit=MAX_FILE_BYTES)
    except files.UnusableFileError as exc:
        message = (
            "file is larger than 1 MiB; a manifest file holds a few schedules — split it"
            if exc.errno == errno.EFBIG
            else f"cannot read the file: {files.reason(exc)}"
        )
        problems.append(Problem(display, None, None, message))
        return None
    except OSError as exc:
        problems.append(Problem(display, None, None, f"cannot read the file: {exc.strerror}"))
        return None
    nul = data.find(b"\x00")
    if nul != -1:
        line, col = _byte_position(data, nul)
        problems.append(
            Problem(display, line, col, "file contains a NUL byte; is it a binary file?")
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        problems.append(
            Problem(
                display,
                line,
                col,
                f"file is not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            )
        )
        return None
    return text.removeprefix("\ufeff")


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    col = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, col


def _validate(
    document: Document,
    number: int,
    count: int,
    file: tuple[Path, str],
    context: dict[str, Any],
    result: _FileResult,
    stacker: layers.Stacker,
) -> None:
    path_of_file, display = file
    data = document.data
    positions = document.positions
    root = positions.get(())
    label = f"document {number}: " if count > 1 else ""
    for path, message in document.problems:
        line, col = _locate(positions, data, path)
        result.problems.append(Problem(display, line, col, prefixed(path, message)))
    if data is None and document.problems:
        return  # the document could not be converted; said above
    if not isinstance(data, dict):
        where: tuple[int | None, int | None] = (root[0], root[1]) if root else (None, None)
        if data is None:
            message = (
                f"{label}empty document: it should be a schedule (name, enabled, trigger, push)"
            )
        else:
            message = (
                f"{label}is {_kind(data)}, but a schedule is a mapping with name, enabled, "
                "trigger and push"
            )
        result.problems.append(Problem(display, *where, message))
        return
    stack = stacker.stack(data, positions, path_of_file, display)
    if stack is None:
        return  # a defaults or base file under it is unusable; said there, once
    data = stack.data
    name = data.get("name")
    if isinstance(name, str):
        _, line, col = stack.locate(("name",))
        result.names.append((name, line, col))
        warning = name_warning(name)
        if warning:
            result.problems.append(Problem(display, line, col, f"name: {warning}", "warning"))
    try:
        schedule = Schedule.model_validate(data, context=context)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path, message = describe_error(error, data)
            # At the file the value was written in: a default's, a base's, the overlay's.
            result.problems.append(Problem(*stack.locate(path), message))
        return
    if document.problems:
        return
    line, col = (root[0], root[1]) if root else (1, 1)
    result.manifests.append(Manifest(schedule, display, line, col, positions, stack))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return f"the value {value!r}"


_INDEX = re.compile(r"\[(\d+)\]")


def _locate(positions: Mapping[PathKey, Position], data: Any, path: PathKey) -> tuple[int, int]:
    """Line and column for a path: the value for scalars, the key for containers, and the
    nearest enclosing key for a path that does not exist (a missing key)."""
    probe = path
    while probe and probe not in positions:
        probe = probe[:-1]
    position = positions.get(probe)
    if position is None:
        return 1, 1
    key_line, key_col, value_line, value_col = position
    if probe != path or not probe:
        return key_line, key_col
    value = value_at(data, path)
    if isinstance(value, dict | list) or value is None:
        return key_line, key_col
    return value_line, value_col


def _duplicate_names(names: dict[str, list[tuple[str, int, int]]]) -> list[Problem]:
    problems: list[Problem] = []
    for name, places in names.items():
        if len(places) < 2:
            continue
        for n, (display, line, col) in enumerate(places):
            others = ", ".join(f"{p}:{ln}:{c}" for i, (p, ln, c) in enumerate(places) if i != n)
            problems.append(
                Problem(
                    display,
                    line,
                    col,
                    f"name: {name!r} is also used at {others}; the name identifies a schedule "
                    "and must be unique across all manifests",
                )
            )
    return problems
