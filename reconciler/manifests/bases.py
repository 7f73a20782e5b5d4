"""``extends`` bases: the chain of base files under a manifest, each one checked before it is
read (a path relative to the file that names it, inside the manifest directory, a base file,
no cycle, at most ``MAX_BASES`` in a chain).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from reconciler import redact
from reconciler.errors import Problem
from reconciler.manifests.base import describe
from reconciler.manifests.layer_files import (
    DEFAULTS_NAMES,
    EXTENDS,
    LayerFile,
    LayerFiles,
    inside,
    is_layer_file,
    value_pos,
)

# Bases one manifest may stack: far above any real hierarchy, far below the recursion limit (a
# generated chain of 1500 bases ended in RecursionError).
MAX_BASES = 32


def bases_under(
    files: LayerFiles, holder: LayerFile, root: Path, seen: tuple[str, ...]
) -> list[LayerFile] | None:
    """The bases under ``holder`` (deepest first); ``None`` after recording a problem."""
    if EXTENDS not in holder.data:
        return []
    value = holder.data[EXTENDS]
    line, col = value_pos(holder.positions, (EXTENDS,))

    def refuse(message: str) -> None:
        files.problems.append(Problem(holder.display, line, col, f"{EXTENDS}: {message}"))

    if not isinstance(value, str) or not value.strip():
        shown = repr(value) if isinstance(value, str) else describe(value)  # "", or no text
        refuse(f"{shown} is not a file name; give the base file's path relative to this file")
        return None
    # Clipped: the value may be thousands of characters long (and is one in the messages below).
    shown = repr(redact.clip(value, 80))
    if os.path.isabs(value):
        refuse(f"{shown} is an absolute path; give it relative to this file")
        return None
    if "\0" in value:
        # No file name can hold one, and every path function of the OS raises on it.
        refuse(f"{shown} holds a NUL character, which no file name can; remove it")
        return None
    target = Path(os.path.normpath(Path(holder.display).parent / value))
    real = os.path.realpath(target)
    if not inside(real, os.path.realpath(root)):
        refuse(
            f"{shown} leads outside the manifest directory {root.as_posix()}; bases are "
            "read only inside it"
        )
        return None
    if not is_layer_file(target):
        refuse(
            f"{shown} is not a base file: a base's file name starts with '_' (a schedule "
            "cannot be the base of another)"
        )
        return None
    if os.path.basename(target) in DEFAULTS_NAMES:
        refuse(f"{shown} is a defaults file; it applies by directory, not by `extends`")
        return None
    if os.path.basename(real) in DEFAULTS_NAMES:
        # The text is what counts, not the name it is reached by: a link to a defaults file
        # is that defaults file, as a defaults file linked to a base is that base.
        through = Path(os.path.relpath(real, os.path.realpath(target.parent))).as_posix()
        refuse(
            f"{shown} is a defaults file (a link to {through}); it applies by directory, not "
            "by `extends`"
        )
        return None
    key = os.path.normcase(real)
    if key in seen:
        refuse(f"{shown} extends, directly or through other bases, the file that names it")
        return None
    if len(seen) > MAX_BASES:
        refuse(f"more than {MAX_BASES} bases in one chain; merge some of them")
        return None
    try:
        os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        here = Path(holder.display).parent.as_posix()
        refuse(f"{shown}: no such file (relative to {here})")
        return None
    except OSError as exc:
        # A name longer than the file system allows (Path.exists() raised on it: a traceback
        # instead of a problem here), a loop of symbolic links, a directory not searchable.
        fix = "; give a shorter name" if exc.errno == errno.ENAMETOOLONG else ""
        refuse(f"{shown} cannot be used: {exc.strerror}{fix}")
        return None
    # Named by where it really is, as the search names the files it finds: its own `extends`
    # is relative to that place, whichever spelling (a link to it or its directory) reached it
    # first, and so are its problems.
    placed = root / os.path.relpath(real, os.path.realpath(root))
    files.extended.add(key)
    base = files.layer_file(placed, placed.as_posix(), "base")
    if base is None:
        return None
    below = bases_under(files, base, root, (*seen, key))
    if below is None:
        return None
    return [*below, base]


def without_extends(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping without its ``extends:`` (a reference to merge, not a value of the body)."""
    if EXTENDS not in data:
        return data
    return {k: v for k, v in data.items() if k != EXTENDS}
