"""The layers around a manifest, merged into one body that remembers where each value came from.

A schedule's body is the deep merge of, lowest first (docs/layers.md):

1. every ``_defaults.yaml`` from the manifest root down to the manifest's own directory (the
   nearest directory wins; ``defaults``);
2. the base files named by ``extends:`` (a base's own ``extends`` below it; ``bases``);
3. the manifest document itself;
4. the environment's overlay: its ``"*"`` patch, then the patch under the schedule's name
   (``overlays``);
5. the overlay's ``shift:``, which moves the trigger's date-times.

Mappings are merged key by key; every other value (lists included) replaces the one below.
Each value keeps the layer it came from, so a problem is reported at the file, line and column
where the value was written, and ``validate --explain`` (``explain``) can name the origin of
every value. The layer files themselves are read once each by ``layer_files``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from reconciler.errors import Problem
from reconciler.manifests.bases import bases_under, without_extends
from reconciler.manifests.defaults import Defaults
from reconciler.manifests.layer_files import (
    DEFAULTS_NAMES,
    EXTENDS,
    LayerFile,
    LayerFiles,
    ReadText,
    is_layer_file,
    root_of,
    value_pos,
    within,
)
from reconciler.manifests.overlays import EVERY, SHIFT, Overlay, parse_shift, paths_of, shifted
from reconciler.manifests.yamlpaths import PathKey, Position, dotted_path, value_at


@dataclass(frozen=True)
class Layer:
    """One source of values: a file's mapping (or a computed one) and where its values are."""

    data: dict[str, Any]
    display: str
    kind: str  # "defaults", "base", "manifest", "overlay", "shift"
    positions: Mapping[PathKey, Position] | None = None
    at: tuple[int, int] | None = None  # computed layers: where every value was asked for
    leaves: frozenset[PathKey] | None = None  # computed layers own only these paths
    empty: frozenset[PathKey] = frozenset()  # keys written with no value (null all the same)

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

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[str, int, int]:
        """File, line and column for a problem at ``path``, as ``manifests._locate`` does for
        one file: the value for scalars, the key for containers, and the nearest enclosing key
        for a path that does not exist (a missing key). ``key``: the key even for a scalar (a
        problem with the key itself, such as an unknown one)."""
        probe = path
        while probe and not _has(self.data, probe):
            probe = probe[:-1]
        # A missing key is added in the manifest when the manifest wrote its parent: the
        # overlay that also wrote the parent (for every schedule) is no place to name, and
        # the same problem of several schedules there read as one.
        missing_here = probe != path and self.top.owns(probe)
        layer = self.top if missing_here else self.owner(probe)
        position = layer.position(probe)
        if position is None:
            return layer.display, 1, 1
        key_line, key_col, value_line, value_col = position
        value = value_at(self.data, probe)
        if key or probe != path or not probe or isinstance(value, dict | list) or value is None:
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


@dataclass
class Stacker:
    """Builds the stack of every manifest of one load; reads each layer file once."""

    roots: list[Path]
    files: LayerFiles
    defaults: Defaults
    overlay: Overlay
    _names: set[str] = field(default_factory=set)
    _bases_found: list[tuple[str, str]] = field(default_factory=list)  # (real path, display)
    # A key written with no value that takes a value away, by its place (file, line, column,
    # path, what it does): the files it takes values from, over every schedule it is under.
    _emptied_at: dict[tuple[str, int, int, str, str], dict[str, None]] = field(default_factory=dict)

    @classmethod
    def for_paths(
        cls,
        paths: Sequence[Path],
        read_text: ReadText,
        overlay: Path | None = None,
        home: Path | None = None,
    ) -> Stacker:
        roots = [p for p in paths if p.is_dir()]
        if home is not None and any(within(p, home) for p in paths):
            # First: `root_of` takes the first root a path is under. The paths are named as
            # `find.placed` names them: those inside `home` are spelled below it.
            roots = [home, *roots]
        files = LayerFiles(read_text)
        patches = Overlay(files)
        if overlay is not None:
            patches.read(overlay, roots)
        return cls(roots, files, Defaults(files, roots), patches)

    def take_layer_files(self, found: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """The schedule files among ``found``; each layer file is checked once on the way (a
        layer file that gives a ``name`` is an error: it would otherwise be a schedule that
        silently stopped being one)."""
        schedules: list[tuple[Path, str]] = []
        for path, display in found:
            if is_layer_file(path):
                kind = "defaults" if path.name in DEFAULTS_NAMES else "base"
                usable = self.files.layer_file(path, display, kind) is not None
                # "_Defaults.yaml" is an error of its own (the case), not an unused base.
                if usable and kind == "base" and path.name.lower() not in DEFAULTS_NAMES:
                    self._bases_found.append((os.path.normcase(os.path.realpath(path)), display))
            else:
                schedules.append((path, display))
        return schedules

    def stack(
        self,
        data: dict[str, Any],
        positions: Mapping[PathKey, Position],
        path: Path,
        display: str,
        empty: Sequence[PathKey] = (),
    ) -> Stack | None:
        """The merged body of one manifest document; ``None`` when a layer under it is unusable
        (its problem is recorded once, at the layer's file). ``empty``: the document's keys
        written with no value."""
        name = data.get("name")
        if isinstance(name, str):
            self._names.add(name)
        patches = self.overlay.over(name)
        plain = EXTENDS not in data and not patches and not self.defaults.any_over(path)
        if plain:  # the usual case without any layer: no copy, no merge
            return Stack(data, [Layer(data, display, "manifest", positions)])
        root = root_of(self.roots, path)
        defaults = self.defaults.over(path)
        holder = LayerFile(display, data, positions, frozenset(empty))
        bases = bases_under(self.files, holder, root, (os.path.normcase(os.path.realpath(path)),))
        if defaults is None or bases is None:
            return None
        layers = [
            Layer(f.data, f.display, "defaults", f.positions, empty=f.empty) for f in defaults
        ]
        layers += [
            Layer(without_extends(b.data), b.display, "base", b.positions, empty=b.empty)
            for b in bases
        ]
        layers.append(
            Layer(without_extends(data), display, "manifest", positions, empty=holder.empty)
        )
        shift: tuple[timedelta, LayerFile] | None = None
        for patch in patches:
            body = {k: v for k, v in patch.data.items() if k != SHIFT}
            layers.append(Layer(body, patch.display, "overlay", patch.positions, empty=patch.empty))
            if SHIFT in patch.data:
                # The named patch's shift replaces the "*" one (they do not add up); its
                # `shift: null` cancels it, as `key: null` takes an inherited value away.
                delta = parse_shift(patch.data[SHIFT])
                if delta is None and shift is not None and (SHIFT,) in patch.empty:
                    line, _ = value_pos(shift[1].positions, (SHIFT,))
                    what = f"cancels the shift of the {EVERY!r} patch at"
                    star = f"{shift[1].display}:{line}"
                    self._emptied(patch, (SHIFT,), f"{name}.{SHIFT}", what, [star])
                shift = None if delta is None else (delta, patch)
        merged: dict[str, Any] = {}
        for n, layer in enumerate(layers):
            if layer.empty and merged:
                self._removed(merged, layers[:n], layer)
            merged = merge(merged, layer.data)
        if shift is not None:
            delta, patch = shift
            moved = shifted(merged, delta)
            if moved:
                line, col = value_pos(patch.positions, (SHIFT,))
                layers.append(
                    Layer(
                        moved,
                        patch.display,
                        "shift",
                        at=(line, col),
                        leaves=frozenset(paths_of(moved)),
                    )
                )
                merged = merge(merged, moved)
        return Stack(merged, layers)

    def _removed(self, merged: dict[str, Any], below: list[Layer], layer: Layer) -> None:
        """A warning for each key ``layer`` wrote with no value that removes a value of the
        layers ``below`` (merged so far into ``merged``): a written `null` says so, an empty
        value may be a value forgotten or a key left behind."""
        for path in sorted(layer.empty, key=str):
            # through mappings only: a list is replaced whole, nothing in it is removed
            if not all(type(step) is str for step in path) or not _has(merged, path):
                continue
            if value_at(merged, path) is None:
                continue
            files = [low.display for low in below if low.owns(path)]
            what = "removes the value inherited from"
            self._emptied(layer, path, dotted_path(path), what, files)

    def _emptied(
        self, layer: Layer | LayerFile, path: PathKey, shown: str, what: str, files: list[str]
    ) -> None:
        """Note a key written with no value that takes away (``what``) a value of ``files``;
        warned once per place by ``finish`` (a "*" patch is under every schedule)."""
        position = layer.positions.get(path) if layer.positions is not None else None
        line, col = (position[0], position[1]) if position is not None else (1, 1)
        place = (layer.display, line, col, shown, what)
        self._emptied_at.setdefault(place, {}).update(dict.fromkeys(files))

    def _emptied_warnings(self) -> list[Problem]:
        out = []
        for (display, line, col, shown, what), found in self._emptied_at.items():
            files = list(found)
            named = ", ".join(files[:3])
            if len(files) > 3:
                named += f" and {len(files) - 3} other files"
            out.append(
                Problem(
                    display,
                    line,
                    col,
                    f"{shown}: nothing is written after the key, so it is null and {what} "
                    f"{named}; write `null` if that is meant, or remove the key",
                    "warning",
                )
            )
        return out

    def finish(self, *, every_schedule: bool = True) -> list[Problem]:
        """Every problem of the layers; with ``every_schedule`` (the manifests read are all
        there are), the overlay's patches under names none of them has too."""
        if every_schedule:
            self.overlay.unknown(self._names)
        return [*self.files.problems, *self._emptied_warnings()]

    def unused_bases(self) -> list[Problem]:
        """A warning for each base file found that no `extends:` reached. Asked only when every
        manifest was read without an error: one in error may hide the `extends:` that reaches
        a base."""
        return [
            Problem(display, None, None, unused_base(display), "warning")
            for key, display in self._bases_found
            if key not in self.files.extended
        ]


def unused_base(display: str) -> str:
    """Why a base file no manifest extends is worth a word: it sets nothing, and the likely
    cause is a defaults file whose name is misspelt (``_default.yaml``), which then applies to
    no schedule without any other sign."""
    name = os.path.basename(display)
    stem = name.rsplit(".", 1)[0].lower().replace("-", "_")
    if difflib.get_close_matches(stem, ["_defaults"], n=1, cutoff=0.75):
        return (
            f"no manifest extends this base file, so it applies to nothing; a directory's "
            f"defaults file is named {DEFAULTS_NAMES[0]} (rename {name} to it if it holds "
            "this directory's defaults)"
        )
    return (
        "no manifest extends this base file, so it applies to nothing; name it in a "
        "manifest's `extends:`, or remove it"
    )
