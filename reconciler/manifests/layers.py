"""Shared defaults, ``extends`` bases and environment overlays: the layers around a manifest.

A schedule's body is the deep merge of, lowest first (docs/layers.md):

1. every ``_defaults.yaml`` from the manifest root down to the manifest's own directory (the
   nearest directory wins);
2. the base files named by ``extends:`` (a base's own ``extends`` below it);
3. the manifest document itself;
4. the environment's overlay: its ``"*"`` patch, then the patch under the schedule's name;
5. the overlay's ``shift:``, which moves the trigger's date-times.

Mappings are merged key by key; every other value (lists included) replaces the one below.
Each value keeps the layer it came from, so a problem is reported at the file, line and column
where the value was written, and ``validate --explain`` can name the origin of every value.

Files whose name starts with ``_`` are layers (defaults or bases), never schedules.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import Problem
from reconciler.manifests import yamlread
from reconciler.manifests.yamlread import PathKey, Position, value_at
from reconciler.planning.timing import DATETIME_FORMAT, parse_api_datetime

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from reconciler.manifests.load import ManifestSet
    from reconciler.options import GlobalOptions

DEFAULTS_NAMES = ("_defaults.yaml", "_defaults.yml")
LAYER_PREFIX = "_"
EXTENDS = "extends"
# Bases one manifest may stack: far above any real hierarchy, far below the recursion limit (a
# generated chain of 1500 bases ended in RecursionError).
MAX_BASES = 32
SHIFT = "shift"
EVERY = "*"
# The trigger values a shift moves: the full date-times (times of day and weekdays stay, so a
# shift never changes which days a periodical schedule fires on).
SHIFTED_PATHS: tuple[PathKey, ...] = (
    ("trigger", "single", "time"),
    ("trigger", "periodical", "start"),
    ("trigger", "periodical", "end"),
    ("trigger", "intelligent", "backup_time"),
)
_SHIFT = re.compile(r"^([+-])(?:(\d{1,4})d)?(?:(\d{1,6})h)?(?:(\d{1,8})m)?$")
_SHIFT_HELP = 'a signed duration in days, hours and minutes, e.g. "+1d", "-2h", "+1d12h30m"'


def is_layer_file(path: Path | str) -> bool:
    """Whether the file is a defaults or base file (its name starts with ``_``)."""
    return os.path.basename(path).startswith(LAYER_PREFIX)


@dataclass(frozen=True)
class Layer:
    """One source of values: a file's mapping (or a computed one) and where its values are."""

    data: dict[str, Any]
    display: str
    kind: str  # "defaults", "base", "manifest", "overlay", "shift"
    positions: Mapping[PathKey, Position] | None = None
    at: tuple[int, int] | None = None  # computed layers: where every value was asked for
    leaves: frozenset[PathKey] | None = None  # computed layers own only these paths

    def owns(self, path: PathKey) -> bool:
        if self.leaves is not None:
            return path in self.leaves
        return _has(self.data, path)

    def position(self, path: PathKey) -> Position | None:
        if self.at is not None:
            return (*self.at, *self.at)
        assert self.positions is not None
        probe = path
        while probe and probe not in self.positions:
            probe = probe[:-1]
        return self.positions.get(probe)


@dataclass
class Stack:
    """A merged schedule body and the layers it was merged from (lowest first)."""

    data: dict[str, Any]
    layers: list[Layer]

    @property
    def top(self) -> Layer:
        return next(layer for layer in reversed(self.layers) if layer.kind == "manifest")

    def owner(self, path: PathKey) -> Layer:
        """The layer the value at ``path`` (present in ``data``) came from."""
        if path:
            for layer in reversed(self.layers):
                if layer.owns(path):
                    return layer
        return self.top

    def locate(self, path: PathKey) -> tuple[str, int, int]:
        """File, line and column for a problem at ``path``, as ``manifests._locate`` does for
        one file: the value for scalars, the key for containers, and the nearest enclosing key
        for a path that does not exist (a missing key)."""
        probe = path
        while probe and not _has(self.data, probe):
            probe = probe[:-1]
        layer = self.owner(probe)
        position = layer.position(probe)
        if position is None:
            return layer.display, 1, 1
        key_line, key_col, value_line, value_col = position
        value = value_at(self.data, probe)
        if probe != path or not probe or isinstance(value, dict | list) or value is None:
            return layer.display, key_line, key_col
        return layer.display, value_line, value_col

    def origin(self, path: PathKey) -> str:
        """``file:line`` where the value at ``path`` was written (``--explain``)."""
        layer = self.owner(path)
        position = layer.position(path)
        container = isinstance(value_at(self.data, path), dict | list)
        line = 1 if position is None else position[0] if container else position[2]
        note = " (shift)" if layer.kind == "shift" else ""
        return f"{layer.display}:{line}{note}"


def merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``high`` over ``low``: mappings merged key by key, anything else replaced; a null
    removes the value below it (so an overlay can swap ``to: {tag: ...}`` for another audience
    key, and a manifest can drop a default)."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            out[key] = merge(below, value)
        elif value is None and key in out:
            del out[key]  # `key: null` takes an inherited value away
        else:
            out[key] = value
    return out


def _has(data: Any, path: PathKey) -> bool:
    for step in path:
        in_map = isinstance(data, dict) and isinstance(step, str) and step in data
        in_list = isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data)
        if not (in_map or in_list):
            return False
        data = data[step]
    return True


def parse_shift(text: Any) -> timedelta | None:
    """``"+1d12h"`` -> 1.5 days; ``None`` for anything that is not a shift."""
    if not isinstance(text, str):
        return None
    match = _SHIFT.match(text.strip())
    if match is None or not any(match.group(2, 3, 4)):
        return None
    sign, days, hours, minutes = match.groups()
    delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
    return -delta if sign == "-" else delta


def shifted(data: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """The shift layer: each date-time of the trigger moved by ``delta`` (others left alone,
    their problems are reported where they were written)."""
    out: dict[str, Any] = {}
    for path in SHIFTED_PATHS:
        value = value_at(data, path)
        moment = parse_api_datetime(value) if isinstance(value, str) else None
        if moment is None:
            continue
        node = out
        for step in path[:-1]:
            node = node.setdefault(str(step), {})
        node[str(path[-1])] = (moment + delta).strftime(DATETIME_FORMAT)
    return out


def _paths_of(data: dict[str, Any], prefix: PathKey = ()) -> Iterable[PathKey]:
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            yield from _paths_of(value, path)
        else:
            yield path


# --------------------------------------------------------------------------- reading layer files


@dataclass
class _LayerFile:
    display: str
    data: dict[str, Any]
    positions: Mapping[PathKey, Position]


ReadText = Callable[[Path, str, list[Problem]], str | None]


@dataclass
class Stacker:
    """Builds the stack of every manifest of one load; reads each layer file once."""

    roots: list[Path]
    read_text: ReadText
    overlay: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    _files: dict[str, _LayerFile | None] = field(default_factory=dict)
    _defaults: dict[str, list[_LayerFile] | None] = field(default_factory=dict)
    _patches: dict[str, tuple[_LayerFile, str]] = field(default_factory=dict)
    _names: set[str] = field(default_factory=set)
    _every: _LayerFile | None = None

    @classmethod
    def for_paths(
        cls, paths: Sequence[Path], read_text: ReadText, overlay: Path | None = None
    ) -> Stacker:
        stacker = cls([p for p in paths if p.is_dir()], read_text, overlay)
        if overlay is not None:
            real = os.path.realpath(overlay)
            inside = [r for r in stacker.roots if _inside(real, os.path.realpath(r))]
            if inside:
                # Its patches would also be read as schedules (and fail as such).
                stacker.problems.append(
                    Problem(
                        overlay.as_posix(),
                        None,
                        None,
                        f"the overlay directory is inside the manifest directory "
                        f"{inside[0].as_posix()}; move it out (e.g. overlays/<environment>)",
                    )
                )
                stacker.overlay = None
            else:
                stacker._read_overlay(overlay)
        return stacker

    # ---------------------------------------------------------------- manifest layout

    def take_layer_files(self, found: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """The schedule files among ``found``; each layer file is checked once on the way (a
        layer file that gives a ``name`` is an error: it would otherwise be a schedule that
        silently stopped being one)."""
        schedules: list[tuple[Path, str]] = []
        for path, display in found:
            if is_layer_file(path):
                kind = "defaults" if path.name in DEFAULTS_NAMES else "base"
                self._layer_file(path, display, kind)
            else:
                schedules.append((path, display))
        return schedules

    def _root_of(self, path: Path) -> Path:
        for root in self.roots:
            try:
                path.relative_to(root)
            except ValueError:
                continue
            return root
        return path.parent

    def _layer_file(self, path: Path, display: str, kind: str) -> _LayerFile | None:
        key = os.path.normcase(os.path.realpath(path))
        if key in self._files:
            return self._files[key]
        loaded = self._read_mapping(path, display, f"a {kind} file")
        if loaded is not None and "name" in loaded.data:
            line, col = _key_at(loaded.positions, ("name",))
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
            line, col = _key_at(loaded.positions, (EXTENDS,))
            self.problems.append(
                Problem(
                    display,
                    line,
                    col,
                    f"{EXTENDS}: a defaults file applies to its whole directory and cannot "
                    "extend a base; put `extends:` into the manifests",
                )
            )
            loaded = None
        self._files[key] = loaded
        return loaded

    def _read_mapping(self, path: Path, display: str, what: str) -> _LayerFile | None:
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
            for where, message in document.problems:
                line, col = _key_at(document.positions, where)
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
        return _LayerFile(display, documents[0].data, documents[0].positions)

    def _defaults_for(self, path: Path) -> list[_LayerFile] | None:
        """The defaults files over ``path`` (root first); ``None`` if one is unusable."""
        root = self._root_of(path)
        chain: list[Path] = []
        directory = path.parent
        while True:
            chain.append(directory)
            if directory == root or directory == directory.parent:
                break
            directory = directory.parent
        out: list[_LayerFile] = []
        for directory in reversed(chain):
            key = str(directory)
            if key not in self._defaults:
                self._defaults[key] = self._defaults_in(directory, root)
            found = self._defaults[key]
            if found is None:
                return None
            out.extend(found)
        return out

    def _defaults_in(self, directory: Path, root: Path) -> list[_LayerFile] | None:
        found: list[_LayerFile] = []
        for name in DEFAULTS_NAMES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if not _inside(os.path.realpath(candidate), os.path.realpath(root)):
                # a link out of the tree: the walk reports it; its text is never read
                return None
            loaded = self._layer_file(candidate, candidate.as_posix(), "defaults")
            if loaded is None:
                return None
            found.append(loaded)
        return found

    # ---------------------------------------------------------------- extends

    def _bases(
        self, holder: _LayerFile, root: Path, seen: tuple[str, ...]
    ) -> list[_LayerFile] | None:
        """The bases under ``holder`` (deepest first); ``None`` after recording a problem."""
        if EXTENDS not in holder.data:
            return []
        value = holder.data[EXTENDS]
        line, col = _value_pos(holder.positions, (EXTENDS,))

        def refuse(message: str) -> None:
            self.problems.append(Problem(holder.display, line, col, f"{EXTENDS}: {message}"))

        if not isinstance(value, str) or not value.strip():
            refuse(f"{value!r} is not a file name; give the base file's path relative to this file")
            return None
        if os.path.isabs(value):
            refuse(f"{value!r} is an absolute path; give it relative to this file")
            return None
        target = Path(os.path.normpath(Path(holder.display).parent / value))
        real = os.path.realpath(target)
        if not _inside(real, os.path.realpath(root)):
            refuse(
                f"{value!r} leads outside the manifest directory {root.as_posix()}; bases are "
                "read only inside it"
            )
            return None
        if not is_layer_file(target):
            refuse(
                f"{value!r} is not a base file: a base's file name starts with '_' (a schedule "
                "cannot be the base of another)"
            )
            return None
        if os.path.basename(target) in DEFAULTS_NAMES:
            refuse(f"{value!r} is a defaults file; it applies by directory, not by `extends`")
            return None
        key = os.path.normcase(real)
        if key in seen:
            refuse(f"{value!r} extends, directly or through other bases, the file that names it")
            return None
        if len(seen) > MAX_BASES:
            refuse(f"more than {MAX_BASES} bases in one chain; merge some of them")
            return None
        if not target.exists():
            here = Path(holder.display).parent.as_posix()
            refuse(f"{value!r}: no such file (relative to {here})")
            return None
        base = self._layer_file(target, target.as_posix(), "base")
        if base is None:
            return None
        below = self._bases(base, root, (*seen, key))
        if below is None:
            return None
        return [*below, base]

    # ---------------------------------------------------------------- overlay

    def _read_overlay(self, overlay: Path) -> None:
        from reconciler.manifests.load import find_manifest_files

        if not overlay.is_dir():
            self.problems.append(
                Problem(overlay.as_posix(), None, None, "the overlay directory does not exist")
            )
            return
        found, unusable = find_manifest_files([overlay])
        self.problems.extend(unusable)
        for path, display in found:
            loaded = self._read_mapping(path, display, "an overlay file")
            if loaded is None:
                continue
            for name, patch in loaded.data.items():
                line, col = _key_at(loaded.positions, (name,))
                if not isinstance(patch, dict):
                    self.problems.append(
                        Problem(
                            display,
                            line,
                            col,
                            f"{name}: a patch is a mapping of the schedule's keys to change "
                            f"(and `{SHIFT}:`)",
                        )
                    )
                    continue
                if not self._patch_ok(loaded, name, patch):
                    continue
                if name == EVERY:
                    if self._every is not None:
                        self._twice(display, line, col, name, self._every.display)
                        continue
                    self._every = _LayerFile(display, patch, _Within(loaded.positions, name))
                    continue
                if name in self._patches:
                    self._twice(display, line, col, name, self._patches[name][0].display)
                    continue
                self._patches[name] = (
                    _LayerFile(display, patch, _Within(loaded.positions, name)),
                    name,
                )

    def _twice(self, display: str, line: int, col: int, name: str, other: str) -> None:
        self.problems.append(
            Problem(display, line, col, f"{name}: patched twice (also in {other}); keep one")
        )

    def _patch_ok(self, loaded: _LayerFile, name: str, patch: dict[str, Any]) -> bool:
        ok = True
        for key in ("name", EXTENDS):
            if key in patch:
                line, col = _key_at(loaded.positions, (name, key))
                self.problems.append(
                    Problem(
                        loaded.display,
                        line,
                        col,
                        f"{name}.{key}: an overlay cannot change a schedule's {key} (the name "
                        "identifies the schedule in every environment)",
                    )
                )
                ok = False
        if SHIFT in patch and parse_shift(patch[SHIFT]) is None:
            line, col = _value_pos(loaded.positions, (name, SHIFT))
            self.problems.append(
                Problem(
                    loaded.display,
                    line,
                    col,
                    f"{name}.{SHIFT}: {patch[SHIFT]!r} is not a shift; give {_SHIFT_HELP}",
                )
            )
            ok = False
        return ok

    # ---------------------------------------------------------------- stacking

    def stack(
        self, data: dict[str, Any], positions: Mapping[PathKey, Position], path: Path, display: str
    ) -> Stack | None:
        """The merged body of one manifest document; ``None`` when a layer under it is unusable
        (its problem is recorded once, at the layer's file)."""
        name = data.get("name")
        if isinstance(name, str):
            self._names.add(name)
        named = self._patches.get(name) if isinstance(name, str) else None
        plain = (
            EXTENDS not in data
            and named is None
            and self._every is None
            and not self._has_defaults(path)
        )
        if plain:  # the usual case without any layer: no copy, no merge
            return Stack(data, [Layer(data, display, "manifest", positions)])
        root = self._root_of(path)
        defaults = self._defaults_for(path)
        holder = _LayerFile(display, data, positions)
        bases = self._bases(holder, root, (os.path.normcase(os.path.realpath(path)),))
        if defaults is None or bases is None:
            return None
        layers = [Layer(f.data, f.display, "defaults", f.positions) for f in defaults]
        layers += [Layer(_without_extends(b.data), b.display, "base", b.positions) for b in bases]
        layers.append(Layer(_without_extends(data), display, "manifest", positions))
        patches = [self._every] if self._every is not None else []
        if named is not None:
            patches.append(named[0])
        shift: tuple[timedelta, _LayerFile] | None = None
        for patch in patches:
            body = {k: v for k, v in patch.data.items() if k != SHIFT}
            layers.append(Layer(body, patch.display, "overlay", patch.positions))
            if SHIFT in patch.data:
                delta = parse_shift(patch.data[SHIFT])
                if delta is not None:
                    shift = (delta, patch)
        merged: dict[str, Any] = {}
        for layer in layers:
            merged = merge(merged, layer.data)
        if shift is not None:
            delta, patch = shift
            moved = shifted(merged, delta)
            if moved:
                line, col = _value_pos(patch.positions, (SHIFT,))
                layers.append(
                    Layer(
                        moved,
                        patch.display,
                        "shift",
                        at=(line, col),
                        leaves=frozenset(_paths_of(moved)),
                    )
                )
                merged = merge(merged, moved)
        return Stack(merged, layers)

    def _has_defaults(self, path: Path) -> bool:
        found = self._defaults_for(path)
        return found is None or bool(found)

    def finish(self) -> list[Problem]:
        """Every problem of the layers, the overlay's unknown names included."""
        for name, (patch, _) in self._patches.items():
            if name not in self._names:
                line, col = _key_at(patch.positions, ())
                self.problems.append(
                    Problem(
                        patch.display,
                        line,
                        col,
                        f"{name}: no manifest has this name, so the overlay patches nothing; "
                        "fix the name or remove the patch",
                    )
                )
        return self.problems


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _without_extends(data: dict[str, Any]) -> dict[str, Any]:
    if EXTENDS not in data:
        return data
    return {k: v for k, v in data.items() if k != EXTENDS}


class _Within(Mapping[PathKey, Position]):
    """The positions of one patch inside its overlay file (paths relative to the patch)."""

    def __init__(self, positions: Mapping[PathKey, Position], name: str) -> None:
        self._positions = positions
        self._name = name

    def __getitem__(self, path: PathKey) -> Position:
        return self._positions[(self._name, *path)]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and (self._name, *path) in self._positions

    def __iter__(self) -> Any:
        return (p[1:] for p in self._positions if p[:1] == (self._name,))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _key_at(positions: Mapping[PathKey, Position], path: PathKey) -> tuple[int, int]:
    probe = path
    while probe and probe not in positions:
        probe = probe[:-1]
    position = positions.get(probe)
    return (position[0], position[1]) if position is not None else (1, 1)


def _value_pos(positions: Mapping[PathKey, Position], path: PathKey) -> tuple[int, int]:
    position = positions.get(path)
    return (position[2], position[3]) if position is not None else _key_at(positions, path)


# --------------------------------------------------------------------------- --explain


def explain(stack: Stack) -> str:
    """The merged body as YAML, each value followed by ``# file:line`` of where it was written."""
    rows: list[tuple[str, str]] = []

    def scalar(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def walk(value: Any, path: PathKey, indent: str, lead: str) -> None:
        # ``lead`` is "key: " or "- ": what goes before the value on its first line
        if isinstance(value, dict) and value:
            rows.append((f"{indent}{lead}".rstrip(), stack.origin(path) if path else ""))
            inner = indent + "  "
            for key, item in value.items():
                walk(item, (*path, key), inner, f"{key}: ")
        elif isinstance(value, list) and value:
            rows.append((f"{indent}{lead}".rstrip(), stack.origin(path)))
            for n, item in enumerate(value):
                walk(item, (*path, n), indent + "  ", "- ")
        else:
            text = scalar(value)  # also {} and []: JSON is YAML's flow style
            rows.append((f"{indent}{lead}{text}", stack.origin(path)))

    for key, item in stack.data.items():
        walk(item, (key,), "", f"{key}: ")
    width = max((len(text) for text, _ in rows), default=0)
    return "\n".join(
        f"{text.ljust(width)}  # {origin}" if origin else text for text, origin in rows
    )


def explain_text(result: ManifestSet, name: str) -> tuple[str, bool]:
    """``validate --explain NAME``: the merged body of ``name`` and whether it was found."""
    for manifest in result.manifests:
        if manifest.name == name:
            stack = manifest.stack or Stack({}, [])
            sources = list(dict.fromkeys(layer.display for layer in stack.layers))
            head = f"# {name}: merged from {', '.join(sources)} (lowest first)"
            return f"{head}\n{explain(stack)}\n", True
    return (
        f"# {name}: no valid schedule has this name (its problems, if any, are listed below)\n",
        False,
    )


def environment_targets(
    options: GlobalOptions, paths: list[Path], zone: ZoneInfo
) -> tuple[list[Path], Path | None, ZoneInfo]:
    """With ``--env``: the environment's manifests (unless paths are given), its overlay and
    its time zone (unless ``--timezone``); without it, ``paths`` and ``zone`` as they are."""
    from reconciler.config.session import load_environment

    if options.env is None:
        return paths, None, zone
    env = load_environment(options)
    return paths or [env.manifests], env.overlay, zone if options.timezone else env.tz


# --------------------------------------------------------------------------- JSON Schema

SCHEMA_KINDS = ("manifest", "defaults", "overlay")


def layered_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a manifest (with ``extends``), of a defaults or base file (every key
    optional, no ``name``), or of an overlay file (schedule name -> patch with ``shift``)."""
    from reconciler.manifests.models import manifest_json_schema

    schema = manifest_json_schema()
    extends = {
        "type": "string",
        "description": "a base file (name starting with '_') merged under this manifest, "
        "relative to this file, inside the manifest directory",
    }
    schema["properties"][EXTENDS] = extends
    if kind == "manifest":
        return schema
    partial: dict[str, Any] = _optional(schema)
    partial["properties"].pop("name", None)
    partial["title"] = "EngageLab schedule defaults or base file"
    partial["description"] = (
        "Values merged under the manifests: _defaults.yaml under every manifest of its "
        "directory and below, a base file under the manifests that name it in `extends`"
    )
    if kind == "defaults":
        return dict(partial)
    patch = {k: v for k, v in partial.items() if k not in ("$schema", "$defs", "title")}
    patch["properties"] = {k: v for k, v in patch["properties"].items() if k != EXTENDS}
    patch["properties"][SHIFT] = {
        "type": "string",
        "pattern": _SHIFT.pattern,
        "description": f"moves the trigger's date-times: {_SHIFT_HELP}",
    }
    patch["description"] = "merged over the schedule of this name ('*': every schedule)"
    return {
        "$schema": schema["$schema"],
        "$defs": partial["$defs"],
        "title": "EngageLab environment overlay file",
        "description": "schedule name -> patch merged over that manifest",
        "type": "object",
        "additionalProperties": patch,
    }


def _optional(node: Any) -> Any:
    """A copy of a schema with no ``required`` anywhere (a layer gives only some values)."""
    if isinstance(node, dict):
        return {k: _optional(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_optional(v) for v in node]
    return node
