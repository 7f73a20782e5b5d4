"""Load manifest files into validated ``Schedule`` models, with every problem.

``load_manifests`` never stops at the first problem: it reads every file ``find`` names,
validates every document and reports each problem with ``file:line:col``. Files are parsed by
``yamlread`` (libyaml, with the project's YAML 1.2 scalar rules), whatever YAML style they are
written in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from reconciler import redact, stopping
from reconciler.errors import ManifestError, Problem
from reconciler.manifests import layers, yamlread
from reconciler.manifests.find import find_manifest_files, placed, read_manifest
from reconciler.manifests.messages import describe_error
from reconciler.manifests.models import Schedule, name_warning
from reconciler.manifests.yamlconvert import Document
from reconciler.manifests.yamlpaths import PathKey, Position, prefixed, value_at
from reconciler.planning.canonical import name_key

if TYPE_CHECKING:
    from reconciler.planning.inputs import Desired


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

    def api_body(self) -> dict[str, Any]:
        """``body``, as a function (``Desired`` makes it on first use)."""
        return self.body

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
            Desired.of_canonical(  # Manifest.body is canonical
                name=m.name,
                # Made on first use (Desired): while the read's first page is on its way.
                body=m.api_body,
                protected=m.protected,
                source=f"{m.path}:{m.line}",
                previous_names=m.previous_names,
            )
            for m in self.manifests
        ]

    def by_name(self) -> dict[str, Manifest]:
        return {m.name: m for m in self.manifests}


def load_manifests(
    paths: Sequence[Path],
    *,
    now: datetime,
    tz: ZoneInfo,
    overlay: Path | None = None,
    every_schedule: bool = True,
    home: Path | None = None,
) -> ManifestSet:
    """Load every manifest under ``paths`` (directories are searched for *.yaml / *.yml),
    each merged with its defaults and bases and, given ``overlay``, that directory's patches
    (``reconciler.manifests.layers``). ``every_schedule=False``: ``paths`` hold some of the
    schedules only, so an overlay's patch of another one is no problem. ``home``: the manifest
    directory; a path named inside it (however spelled) takes the defaults and bases it would
    take there, and is named there (``find.placed``)."""
    refused: list[Problem] = []
    if home is not None:
        paths, refused = placed(paths, home)
    files, problems = find_manifest_files(paths, home)
    problems = [*refused, *problems]
    check = _CredentialCheck()
    stacker = layers.Stacker.for_paths(paths, check.read_layer, overlay, home)
    files = stacker.take_layer_files(files)
    result = ManifestSet(files=len(files))
    result.problems.extend(problems)
    context = {"now": now, "tz": tz}
    names: dict[str, list[tuple[str, int, int]]] = {}
    for path, display in files:
        # Between two files is a safe point to honour Ctrl-C or SIGTERM: thousands of files
        # take seconds, and nothing has been sent or written yet.
        stopping.check()
        loaded = _load_file(path, display, context, stacker, check)
        result.manifests.extend(loaded.manifests)
        result.problems.extend(loaded.problems)
        for name, line, col in loaded.names:
            names.setdefault(name, []).append((display, line, col))
    result.problems.extend(_duplicate_names(names))
    result.duplicates = {name for name, places in names.items() if len(places) > 1}
    result.problems.extend(_name_clashes(result.manifests, result.duplicates))
    result.problems.extend(stacker.finish(every_schedule=every_schedule))
    if every_schedule and not any(p.severity == "error" for p in result.problems):
        result.problems.extend(stacker.unused_bases())
    result.problems.extend(check.decoded(result.manifests))
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


@dataclass
class _FileResult:
    manifests: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    names: list[tuple[str, int, int]] = field(default_factory=list)


def _load_file(
    path: Path,
    display: str,
    context: dict[str, Any],
    stacker: layers.Stacker,
    check: _CredentialCheck,
) -> _FileResult:
    result = _FileResult()
    text = check.read(path, display, result.problems)
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


CREDENTIAL_IN_TEXT = (
    "holds a configured credential (the AppKey, the Master Secret or their Basic token, in "
    "some spelling): in a value a push would show it on users' devices, and plan files and "
    "the state would carry it; the file itself is meant for git. Remove it (and rotate the "
    "credential if it was committed); credentials come from the environment only"
)
CREDENTIAL_IN_PATH = (
    "the file's path holds a configured credential: plan files, annotations and calendars "
    "quote source paths. Rename the file"
)


class _CredentialCheck:
    """Where the files read hold a configured credential (``CREDENTIAL_IN_TEXT``).

    Each file's text is searched as it is read (the exact place, a comment included). A value
    can hide one from that search only through YAML's escapes (``\\U`` escapes, a line joined
    by a ``\\`` at its end), which need a backslash in the text: the schedules of such a
    file, or all of them when a layer file has one, are checked again as they would be sent.
    """

    def __init__(self) -> None:
        self.scrub = redact.output_scrubber()
        self.flagged: set[str] = set()  # files whose text holds one
        self.escaped: set[str] = set()  # schedule files with a backslash
        self.escaped_layer = False

    def read_layer(self, path: Path, display: str, problems: list[Problem]) -> str | None:
        return self.read(path, display, problems, layer=True)

    def read(
        self, path: Path, display: str, problems: list[Problem], *, layer: bool = False
    ) -> str | None:
        """The file's text (``read_manifest``), with a problem where its path or its text
        holds a credential."""
        if self.scrub.finds(display):
            problems.append(Problem(display, None, None, CREDENTIAL_IN_PATH))
        content = read_manifest(path, display, problems)
        if content is None or not self.scrub.active:
            return content
        if "\\" in content:
            if layer:
                self.escaped_layer = True
            else:
                self.escaped.add(display)
        at = self.scrub.first(content)
        if at is not None:
            line = content.count("\n", 0, at) + 1
            col = at - (content.rfind("\n", 0, at) + 1) + 1
            problems.append(Problem(display, line, col, CREDENTIAL_IN_TEXT))
            self.flagged.add(display)
        return content

    def decoded(self, manifests: Sequence[Manifest]) -> list[Problem]:
        """A problem for each schedule whose body as it would be sent (escapes decoded,
        defaults, bases and overlay merged) holds a credential its file's text did not show:
        at the field when the schedule's own file wrote it, else at the schedule."""
        found: list[Problem] = []
        for m in manifests:
            if m.path in self.flagged or not (self.escaped_layer or m.path in self.escaped):
                continue
            hits: list[redact.Where] = []
            redact.scrub_tree(m.body, self.scrub, hits)
            if not hits:
                continue
            at = hits[0][0]
            where = ".".join(map(str, at)) + ": " if at else ""
            if m.stack is not None:  # at the file that wrote the value: a layer's, or its own
                file, line, col = m.stack.locate(at)
                if file not in self.flagged:  # a layer's text showed it: said there already
                    found.append(Problem(file, line, col, f"{where}{CREDENTIAL_IN_TEXT}"))
                continue
            pos = m.positions.get(at) if m.positions is not None else None
            line, col = (pos[2], pos[3]) if pos is not None else (m.line, m.col)  # the value
            merged = "" if pos is not None else " (in it, or a default, base or overlay it takes)"
            found.append(Problem(m.path, line, col, f"{where}{CREDENTIAL_IN_TEXT}{merged}"))
        return found


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
    for n, (path, message) in enumerate(document.problems):
        line, col = document.places.get(n) or _locate(positions, data, path)
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
    stack = stacker.stack(data, positions, path_of_file, display, document.empty)
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
    mixed = _mixed_audience(stack)
    if mixed is not None:
        result.problems.append(mixed)
    try:
        schedule = Schedule.model_validate(data, context=context)
    except ValidationError as exc:
        # A value the YAML reader already refused (a tagged value, a number beyond 64 bits)
        # reaches the model as null: "must be text, got nothing" about it says nothing new.
        refused = {path for path, _ in document.problems}
        for error in exc.errors(include_url=False):
            path, message = describe_error(error, data)
            if path in refused:
                continue
            # At the file the value was written in: a default's, a base's, the overlay's; an
            # unknown key at the key, not at its value.
            unknown = error["type"] == "extra_forbidden"
            result.problems.append(Problem(*stack.locate(path, key=unknown), message))
        return
    if document.problems:
        return
    line, col = (root[0], root[1]) if root else (1, 1)
    result.manifests.append(Manifest(schedule, display, line, col, positions, stack))


def _mixed_audience(stack: layers.Stack) -> Problem | None:
    """A warning when ``push.to`` takes its keys from more than one layer.

    Layers merge key by key, and an audience is the union of its targets: an overlay's
    ``to: {tag: [qa]}`` over a manifest's ``to: {registration_id: [...]}`` sends to both, the
    production devices included, where whoever wrote the overlay meant "the QA devices only".
    A layer that means to replace the audience says ``key: null`` for the inherited targets.
    """
    push = stack.data.get("push")
    audience = push.get("to") if isinstance(push, dict) else None
    if not isinstance(audience, dict) or len(audience) < 2:
        return None
    owners = {key: stack.owner(("push", "to", key)) for key in audience}
    if len({id(layer) for layer in owners.values()}) < 2:
        return None
    ways = ", ".join(f"{key} from {layer.display}" for key, layer in sorted(owners.items()))
    name = stack.data.get("name")
    whose = f" of {name!r}" if isinstance(name, str) else ""
    return Problem(
        *stack.locate(("push", "to")),
        f"push.to{whose}: the audience combines keys from several files ({ways}) and is what "
        "they select together, not what the upper file says alone. If a layer means to "
        "replace the audience, give the keys it does not want as `key: null` there",
        "warning",
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return f"the value {value!r}"


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


def _field_at(m: Manifest, path: PathKey) -> tuple[str, int, int]:
    """Where a field of ``m`` was written (its value), in the file that wrote it (a default,
    a base or an overlay too), or where the schedule starts."""
    if m.stack is not None:
        return m.stack.locate(path)
    pos = m.positions.get(path) if m.positions is not None else None
    return (m.path, pos[2], pos[3]) if pos is not None else (m.path, m.line, m.col)


def _name_clashes(manifests: Sequence[Manifest], duplicates: set[str]) -> list[Problem]:
    """Names that the plan would refuse, found here so that no command reads the app first:
    two names that differ only in whitespace or character forms (the server may store both as
    one), and ``lifecycle.previous_names`` that hold another manifest's name or are listed by
    two manifests (one task can follow one manifest). Exact duplicates: ``_duplicate_names``."""
    problems: list[Problem] = []
    by_key: dict[str, list[Manifest]] = {}
    for m in manifests:
        if m.name not in duplicates:
            by_key.setdefault(name_key(m.name), []).append(m)
    for key, alike in by_key.items():
        if len(alike) < 2:
            continue
        for m in alike:
            others = ", ".join(
                f"{o.name!r} ({':'.join(map(str, _field_at(o, ('name',))))})"
                for o in alike
                if o is not m
            )
            problems.append(
                Problem(
                    *_field_at(m, ("name",)),
                    f"name: {m.name!r} differs from {others} only in whitespace or character "
                    f"forms; the server may store both as {key!r}, so the names must differ",
                )
            )
    named = {m.name: m for m in manifests}
    claimed: dict[str, list[tuple[Manifest, int]]] = {}
    for m in manifests:
        for n, old in enumerate(m.previous_names):
            claimed.setdefault(old, []).append((m, n))
            other = named.get(old)
            if other is not None and other is not m:
                problems.append(
                    Problem(
                        *_field_at(m, ("lifecycle", "previous_names", n)),
                        f"lifecycle.previous_names lists {old!r}, the name of the manifest at "
                        f"{other.where()}; a name belongs to one manifest: drop it here or "
                        "rename the other",
                    )
                )
    for old, listed in claimed.items():
        if len(listed) < 2:
            continue
        for m, n in listed:
            others = ", ".join(o.where() for o, _ in listed if o is not m)
            problems.append(
                Problem(
                    *_field_at(m, ("lifecycle", "previous_names", n)),
                    f"lifecycle.previous_names lists {old!r}, as the manifest at {others} "
                    "does; one task can follow one manifest: keep it in one of them",
                )
            )
    return problems


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
