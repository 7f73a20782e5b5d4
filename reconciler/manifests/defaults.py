"""Shared defaults: the ``_defaults.yaml`` files over a manifest, from the manifest root down to
the manifest's own directory (the nearest directory wins, so it comes last).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import Problem
from reconciler.manifests.find import BROKEN_LINK, outside_message
from reconciler.manifests.layer_files import (
    DEFAULTS_NAMES,
    LayerFile,
    LayerFiles,
    inside,
    root_of,
)

_FOLDED = {name.casefold() for name in DEFAULTS_NAMES}
_CASE = (
    f"a defaults file is named {' or '.join(DEFAULTS_NAMES)}, in lower case: this name is one "
    "on some file systems and not on others; rename it"
)


@dataclass
class Defaults:
    """The defaults files of one load's manifest directories; each directory looked at once."""

    files: LayerFiles
    roots: list[Path]
    _found: dict[str, list[LayerFile] | None] = field(default_factory=dict)

    def over(self, path: Path) -> list[LayerFile] | None:
        """The defaults files over ``path`` (root first); ``None`` if one is unusable."""
        root = root_of(self.roots, path)
        chain: list[Path] = []
        directory = path.parent
        while True:
            chain.append(directory)
            if directory == root or directory == directory.parent:
                break
            directory = directory.parent
        out: list[LayerFile] = []
        for directory in reversed(chain):
            key = str(directory)
            if key not in self._found:
                self._found[key] = self._in(directory, root)
            found = self._found[key]
            if found is None:
                return None
            out.extend(found)
        return out

    def any_over(self, path: Path) -> bool:
        """Whether defaults apply to ``path`` (an unusable one counts: the stack reports it)."""
        found = self.over(path)
        return found is None or bool(found)

    def _in(self, directory: Path, root: Path) -> list[LayerFile] | None:
        found: list[LayerFile] = []
        try:
            entries = os.listdir(directory)
        except OSError:  # not a directory (the search or the read reports the path)
            return found
        # Every entry that is not a directory, as the search of the directory finds it: a link
        # to nothing or out of the manifest directory, a FIFO, is an error here too, whether
        # or not that search ran (`validate FILE` does not search the whole directory). By the
        # names listed, not by opening `_defaults.yaml`: a case-insensitive file system opens
        # `_Defaults.yaml` by that name, and the same files would be planned differently on
        # another system.
        both: list[Path] = []
        for entry in sorted(entries):
            if entry.casefold() not in _FOLDED or os.path.isdir(directory / entry):
                continue
            if entry not in DEFAULTS_NAMES:
                self.files.problems.append(
                    Problem((directory / entry).as_posix(), None, None, _CASE)
                )
                return None
            both.append(directory / entry)
        both.sort(key=lambda p: DEFAULTS_NAMES.index(p.name))
        if len(both) > 1:
            # Both merged, one silently over the other, and which one wins is not something a
            # reader of either file could guess: one defaults file per directory.
            self.files.problems.append(
                Problem(
                    both[-1].as_posix(),
                    None,
                    None,
                    f"a directory holds one defaults file, and {both[0].name} is here too; "
                    "merge them into one",
                )
            )
            return None
        for candidate in both:
            refused = None
            if not candidate.exists():
                refused = BROKEN_LINK
            elif not inside(os.path.realpath(candidate), os.path.realpath(root)):
                refused = outside_message("file", root)  # its text is never read
            if refused is not None:
                self.files.problems.append(Problem(candidate.as_posix(), None, None, refused))
                return None
            loaded = self.files.layer_file(candidate, candidate.as_posix(), "defaults")
            if loaded is None:
                return None
            found.append(loaded)
        return found
