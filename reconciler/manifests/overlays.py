"""Environment overlays: the directory of patches an environment names, read and checked once,
and the ``shift:`` a patch may give to move a schedule's trigger date-times.

An overlay file maps schedule names to patches; the patch under ``"*"`` applies to every
schedule, before the one under the schedule's own name (docs/layers.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import redact
from reconciler.errors import Problem
from reconciler.manifests.base import describe
from reconciler.manifests.layer_files import (
    EXTENDS,
    LayerFile,
    LayerFiles,
    inside,
    key_at,
    value_pos,
)
from reconciler.manifests.yamlpaths import PathKey, Position, value_at
from reconciler.planning.timing import DATETIME_FORMAT, parse_api_datetime

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from reconciler.options import GlobalOptions

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
SHIFT_PATTERN = re.compile(r"^([+-])(?:(\d{1,4})d)?(?:(\d{1,6})h)?(?:(\d{1,8})m)?$")
SHIFT_HELP = 'a signed duration in days, hours and minutes, e.g. "+1d", "-2h", "+1d12h30m"'


def parse_shift(text: Any) -> timedelta | None:
    """``"+1d12h"`` -> 1.5 days; ``None`` for anything that is not a shift."""
    if not isinstance(text, str):
        return None
    match = SHIFT_PATTERN.match(text.strip())
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


def paths_of(data: dict[str, Any], prefix: PathKey = ()) -> Iterable[PathKey]:
    """The path of every leaf of a nested mapping (what a computed layer such as a shift owns)."""
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict):
            yield from paths_of(value, path)
        else:
            yield path


@dataclass
class Overlay:
    """The patches of one load's overlay directory (none without one), by schedule name."""

    files: LayerFiles
    every: LayerFile | None = None
    patches: dict[str, LayerFile] = field(default_factory=dict)

    def read(self, overlay: Path, roots: list[Path]) -> None:
        """Read every patch under ``overlay``; refused inside a manifest directory of ``roots``,
        whose files are read as schedules."""
        real = os.path.realpath(overlay)
        within = [r for r in roots if inside(real, os.path.realpath(r))]
        if within:
            # Its patches would also be read as schedules (and fail as such).
            self.files.problems.append(
                Problem(
                    overlay.as_posix(),
                    None,
                    None,
                    f"the overlay directory is inside the manifest directory "
                    f"{within[0].as_posix()}; move it out (e.g. overlays/<environment>)",
                )
            )
            return
        self._read(overlay)

    def over(self, name: Any) -> list[LayerFile]:
        """The patches over the schedule ``name``, in the order they apply."""
        out = [self.every] if self.every is not None else []
        named = self.patches.get(name) if isinstance(name, str) else None
        return out if named is None else [*out, named]

    def unknown(self, names: set[str]) -> None:
        """Record each patch under a name no manifest has: it patches nothing."""
        for name, patch in self.patches.items():
            if name not in names:
                line, col = key_at(patch.positions, ())
                self.files.problems.append(
                    Problem(
                        patch.display,
                        line,
                        col,
                        f"{name}: no manifest has this name, so the overlay patches nothing; "
                        "fix the name or remove the patch",
                    )
                )

    def _read(self, overlay: Path) -> None:
        from reconciler.manifests.find import find_manifest_files

        if not overlay.is_dir():
            self.files.problems.append(
                Problem(overlay.as_posix(), None, None, "the overlay directory does not exist")
            )
            return
        found, unusable = find_manifest_files([overlay])
        self.files.problems.extend(unusable)
        for path, display in found:
            loaded = self.files.read_mapping(path, display, "an overlay file")
            if loaded is None:
                continue
            for name, patch in loaded.data.items():
                line, col = key_at(loaded.positions, (name,))
                if not isinstance(patch, dict):
                    self.files.problems.append(
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
                    if self.every is not None:
                        self._twice(display, line, col, name, self.every.display)
                        continue
                    self.every = _patch(loaded, name, patch)
                    continue
                if name in self.patches:
                    self._twice(display, line, col, name, self.patches[name].display)
                    continue
                self.patches[name] = _patch(loaded, name, patch)

    def _twice(self, display: str, line: int, col: int, name: str, other: str) -> None:
        self.files.problems.append(
            Problem(display, line, col, f"{name}: patched twice (also in {other}); keep one")
        )

    def _patch_ok(self, loaded: LayerFile, name: str, patch: dict[str, Any]) -> bool:
        ok = True
        for key in ("name", EXTENDS):
            if key in patch:
                line, col = key_at(loaded.positions, (name, key))
                self.files.problems.append(
                    Problem(
                        loaded.display,
                        line,
                        col,
                        f"{name}.{key}: an overlay cannot change a schedule's {key} (the name "
                        "identifies the schedule in every environment)",
                    )
                )
                ok = False
        # `shift: null` is no shift: under a name, it cancels the "*" patch's shift for that
        # schedule (as `key: null` takes an inherited value away).
        value = patch.get(SHIFT)
        if value is not None and parse_shift(value) is None:
            line, col = value_pos(loaded.positions, (name, SHIFT))
            shown = repr(redact.clip(value, 40)) if isinstance(value, str) else describe(value)
            self.files.problems.append(
                Problem(
                    loaded.display,
                    line,
                    col,
                    f"{name}.{SHIFT}: {shown} is not a shift; give {SHIFT_HELP} (or null: "
                    "no shift)",
                )
            )
            ok = False
        return ok


def _patch(loaded: LayerFile, name: str, patch: dict[str, Any]) -> LayerFile:
    """The patch under ``name`` of an overlay file, its paths relative to the patch."""
    empty = frozenset(path[1:] for path in loaded.empty if path[:1] == (name,))
    return LayerFile(loaded.display, patch, _Within(loaded.positions, name), empty)


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


def environment_targets(
    options: GlobalOptions, paths: list[Path], zone: ZoneInfo
) -> tuple[list[Path], Path | None, ZoneInfo, Path | None]:
    """The environment ``plan`` would read: the one of ``--env``, else reconciler.yaml's default
    (or only) one. Its manifests (unless paths are given), its overlay, its time zone (unless
    ``--timezone``) and its manifest directory. Without reconciler.yaml, or when it names no
    single environment and ``--env`` none either: ``paths`` and ``zone`` as they are, no
    directory."""
    from reconciler.config.environments import chosen_environment

    if options.env is None and not options.config_named and not Path(options.config_path).exists():
        return paths, None, zone, None
    # Not only under --env: `validate` checking schedules/ while `plan` reads the default
    # environment's `manifests:` would call valid what plan then refuses.
    env = chosen_environment(options.config_path, options.env, required=options.config_named)
    if env is None:
        return paths, None, zone, None
    tz = zone if options.timezone else env.tz
    return paths or [env.manifests], env.overlay, tz, env.manifests
