"""Which files hold manifests, and their text: the search of the manifest directories and the
careful read of one file.

The search follows symbolic links only while they stay inside the directory searched, refuses
names with control characters or that are not UTF-8 and stops at ``MAX_DIRECTORY_DEPTH``
levels; the read takes
regular files of at most ``MAX_FILE_BYTES``, UTF-8 without NUL bytes. Every file or path that
cannot be used is a ``Problem`` with its reason, never a silent skip.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from reconciler import files
from reconciler.errors import Problem
from reconciler.manifests.layer_files import inside, within
from reconciler.printable import CONTROL

MAX_FILE_BYTES = files.MAX_MANIFEST_BYTES
SUFFIXES = files.MANIFEST_SUFFIXES


def find_manifest_files(
    paths: Iterable[Path], home: Path | None = None
) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """The files to load (path, display name), in a stable order, and unusable paths.

    Symbolic links inside a searched directory are followed while they stay inside it (a
    linked sub-directory's schedules are as much part of the tree as any other); one that
    leads outside is an error, never skipped: skipping would plan its schedules as deletes,
    and following would read any file the link names (``x.yaml -> ../.env``) into messages.
    A file reached twice (through a link and directly) is loaded once. ``home``: the manifest
    directory; a directory inside it (as :func:`placed` names it) is searched as the search of
    ``home`` searches it, its links followed while they stay inside ``home``.
    """
    found: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def add(path: Path, display: str, real: str | None = None) -> None:
        key = os.path.normcase(real if real is not None else os.path.realpath(path))
        if key not in seen:
            seen.add(key)
            found.append((path, display))

    for given in paths:
        if _NOT_UTF8.search(str(given)):
            problems.append(Problem(_shown(str(given)), None, None, _NOT_UTF8_PATH))
            continue
        if given.is_dir():
            _walk(given, add, problems, home if home and within(given, home) else given)
        elif given.exists():
            add(given, given.as_posix())
        elif given.is_symlink():
            problems.append(Problem(_shown(str(given)), None, None, BROKEN_LINK))
        else:
            # The path is a word of the command line or of reconciler.yaml (a pull request's):
            # shown escaped, as the names found under it are.
            problems.append(Problem(_shown(str(given)), None, None, _missing(given)))
    return found, problems


def _missing(given: Path) -> str:
    """Why ``given`` is not read: ``NOT_FOUND``, or, for a relative path found in a directory
    above (a command run from a subdirectory, the manifest directory itself say), where to run
    it: created here as ``NOT_FOUND`` says, the manifests and a state file would be made a
    second time."""
    if not given.is_absolute():
        for up, parent in enumerate(Path.cwd().parents[:3], 1):
            if (parent / given).is_dir():
                found = f"{'../' * up}{given.as_posix()}"
                return (
                    f"no such file or directory here, but {found} exists: run the command "
                    f"from {_shown(str(parent))}"
                )
    return NOT_FOUND


BROKEN_LINK = "is a symbolic link to nothing (its target does not exist)"


def suffix_case(name: str) -> str:
    """The problem of a file named ``name``, whose suffix is .yaml or .yml in another case."""
    stem, _, suffix = name.rpartition(".")
    return (
        "not read: the reconciler reads files ending in .yaml or .yml, in lower case (left out, "
        f"the schedules of a manifest would be planned as removed); rename it to "
        f"{_shown(stem)}.{suffix.lower()}"
    )


# Said to a new user adopting an app too: `export` writes into the directory, it does not make
# it, and "fix the manifests, then validate" alone sent them round in a circle.
NOT_FOUND = (
    "no such file or directory: create it (`reconciler export` writes manifests of the app's "
    "tasks into it), or name where the manifests are (`manifests:` in reconciler.yaml, or the "
    "path given)"
)
# A file or directory name with a control character: printed in a problem, a plan or a CI log,
# "x\n::error::y.yaml" starts a line GitHub Actions runs as a workflow command.
_CONTROL_NAME = (
    "its name holds a control character (a line break, an escape); such names are not read: "
    "rename it"
)
# A name that is not UTF-8 (a Latin-1 "caf\xe9.yaml") reaches Python with each such byte as a
# lone surrogate (\udc80-\udcff, os.fsdecode). No text holding one can be written as UTF-8:
# the file's name is part of the plan, and the plan's checksum ended in a UnicodeEncodeError
# after the whole remote app had been read.
_NOT_UTF8 = re.compile(r"[\ud800-\udfff]")
_NOT_UTF8_NAME = (
    "its name is not valid UTF-8 (each invalid byte is shown as \\xNN); such names are not "
    "read: rename it with a UTF-8 name"
)
_NOT_UTF8_PATH = (
    "this path is not valid UTF-8 (each invalid byte is shown as \\xNN); manifests are read "
    "only under UTF-8 names: rename the file or directory with a UTF-8 name"
)
_ODD = re.compile(f"{CONTROL.pattern}|{_NOT_UTF8.pattern}")


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # the byte os.fsdecode could not decode, as that byte
        return f"\\x{code - 0xDC00:02x}"
    return repr(char)[1:-1]  # Python's \n, \x1b, \u2028, \ud800


def _shown(path: str) -> str:
    """``path`` for a message: its control characters escaped (Python's ``\\n``, ``\\x1b``) and
    the bytes of a name that is not UTF-8 as ``\\xNN``."""
    return _ODD.sub(lambda m: _escaped(m.group()), Path(path).as_posix())


def _name_problem(name: str) -> str | None:
    """Why a file or directory name found by the search is not read, if it is not."""
    if CONTROL.search(name):
        return _CONTROL_NAME
    if _NOT_UTF8.search(name):
        return _NOT_UTF8_NAME
    return None


MAX_DIRECTORY_DEPTH = 64  # levels of sub-directories searched below a manifest directory


def outside_message(kind: str, top: Path) -> str:
    """Why a link out of the manifest directory ``top`` is not followed (``kind``: "file" or
    "directory")."""
    return (
        f"is a symbolic link to a {kind} outside {top.as_posix()}; manifests are read only "
        "inside the manifest directory (copy it in, or point `manifests:` at the directory "
        "that holds it)"
    )


def placed(paths: Iterable[Path], home: Path) -> tuple[list[Path], list[Problem]]:
    """The paths named on the command line as the search of the manifest directory ``home``
    reaches them, so that each is read under the rules ``plan`` reads it with.

    A path whose real place is inside ``home`` is named there (``home / its place``), however
    it was spelled: through a symbolic link to its directory (beside ``home`` or inside it),
    ``./``, ``..`` or an absolute path; it takes the defaults and bases of that place. A path
    that enters ``home`` and leaves it through one of its symbolic links is the search's error
    at that link (the file outside is not read). Any other path (elsewhere, or out of ``home``
    through ``..``) is as given: read alone, its own directory its top.
    """
    top = os.path.realpath(home)
    out: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        if _NOT_UTF8.search(str(given)) or not os.path.isdir(top):
            out.append(given)
            continue
        real = os.path.realpath(given)
        if os.path.exists(given) and inside(real, top):
            rel = os.path.relpath(real, top)
            out.append(home if rel == os.curdir else home / rel)
            continue
        leaving = _link_out(given, top)
        if leaving is None:
            out.append(given)
            continue
        link, kind = leaving
        shown = home / os.path.relpath(link, top)
        problems.append(Problem(shown.as_posix(), None, None, outside_message(kind, home)))
    return out, problems


def _link_out(given: Path, top: str) -> tuple[str, str] | None:
    """The first symbolic link in ``top`` (a real directory) that ``given`` leaves it through,
    and what it links to ("file" or "directory"), following the path as the system does (a
    ``..`` after a link is the link target's parent)."""
    current = os.path.realpath(given.anchor or os.curdir)
    for part in given.parts[1:] if given.anchor else given.parts:
        if part == os.pardir:
            current = os.path.dirname(current)
            continue
        step = os.path.join(current, part)
        real = os.path.realpath(step)
        if inside(current, top) and not inside(real, top) and os.path.islink(step):
            return step, "directory" if os.path.isdir(real) else "file"
        current = real
    return None


def _walk(
    given: Path, add: Callable[[Path, str, str], None], problems: list[Problem], top: Path
) -> None:
    """Every manifest file under ``given``, following links that stay inside ``top`` (the
    manifest directory, ``given`` or above it)."""
    root = os.path.realpath(top)
    visited: set[str] = set()

    def outside(full: str, kind: str) -> Problem:
        return Problem(Path(full).as_posix(), None, None, outside_message(kind, top))

    base_depth = os.path.normpath(top).count(os.sep)
    for dirpath, dirs, names in os.walk(given, followlinks=True):
        real_dir = os.path.realpath(dirpath)
        visited.add(real_dir)
        # Reached through a link: its files are named by their real place (below).
        linked_dir = os.path.relpath(real_dir, root) != os.path.relpath(dirpath, top)
        # ... and so are its problems: once, wherever the search reached the directory from.
        here = str(top / os.path.relpath(real_dir, root)) if linked_dir else dirpath
        if os.path.normpath(dirpath).count(os.sep) - base_depth >= MAX_DIRECTORY_DEPTH:
            # Not walked further: the walk recurses once per level (RecursionError near 1000)
            # and each level costs more than the last; no real manifest tree is this deep.
            if any(not d.startswith(".") for d in dirs):
                problems.append(
                    Problem(
                        Path(here).as_posix(),
                        None,
                        None,
                        f"holds directories more than {MAX_DIRECTORY_DEPTH} levels below "
                        f"{top.as_posix()}; manifests are not searched that deep (move them "
                        "higher up, or remove the nested directories)",
                    )
                )
            dirs[:] = []
        keep: list[str] = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            full = os.path.join(dirpath, d)
            refused = _name_problem(d)
            if refused:
                problems.append(Problem(_shown(os.path.join(here, d)), None, None, refused))
                continue
            if os.path.islink(full):
                real = os.path.realpath(full)
                if not inside(real, root):
                    problems.append(outside(os.path.join(here, d), "directory"))
                    continue
                if real in visited:  # a loop, or a directory that is walked anyway
                    continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(names):
            if name.startswith("."):
                continue
            if not name.endswith(SUFFIXES):
                # Left out without a word, "Weekly.YAML" made the plan delete its schedule as
                # "manifest removed". A layer file ("_defaults.YAML") has its own check.
                if name.lower().endswith(SUFFIXES) and not name.startswith("_"):
                    shown_name = _shown(os.path.join(here, name))
                    problems.append(Problem(shown_name, None, None, suffix_case(name)))
                continue
            full = os.path.join(dirpath, name)
            shown = os.path.join(here, name)
            refused = _name_problem(name)
            if refused:
                problems.append(Problem(_shown(shown), None, None, refused))
                continue
            # A plain file's real path is its real directory's and its name: resolving every
            # file again (os.path.realpath walks each component) was most of the search's time.
            real = os.path.join(real_dir, name)
            if os.path.islink(full):
                if not os.path.exists(full):
                    problems.append(Problem(Path(shown).as_posix(), None, None, BROKEN_LINK))
                    continue
                real = os.path.realpath(full)
                if not inside(real, root):
                    problems.append(outside(shown, "file"))
                    continue
            # Named by where it really is: a schedule's defaults are those of its own
            # directory, and must not depend on whether a link to it sorts before it (a link
            # `alpha/shared -> ../zeta` gave zeta's schedules alpha's defaults and audience).
            linked = linked_dir or real != os.path.join(real_dir, name)
            path = top / os.path.relpath(real, root) if linked else Path(full)
            add(path, path.as_posix(), real)


def read_manifest(path: Path, display: str, problems: list[Problem]) -> str | None:
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
    wide = _wide_encoding(data)
    if wide is not None:
        problems.append(Problem(display, 1, 1, f"file is {wide}, not UTF-8; save it as UTF-8"))
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
    """Line and column of a byte, with libyaml's line breaks (CRLF, CR or LF)."""
    line_start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    col = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    breaks = data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset)
    return breaks - data.count(b"\r\n", 0, offset) + 1, col


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 (by its byte-order mark, or by the zero bytes around a first ASCII
    character, as YAML detects them); Windows PowerShell's ``>`` writes UTF-16."""
    for prefix, name in _WIDE_STARTS:
        if data.startswith(prefix):
            return name
    head = data[:4]
    if len(head) == 4 and head[:3] == b"\0\0\0" and head[3]:
        return "UTF-32 (big-endian)"
    if len(head) == 4 and head[0] and head[1:] == b"\0\0\0":
        return "UTF-32 (little-endian)"
    if len(head) >= 2 and head[0] == 0 and head[1]:
        return "UTF-16 (big-endian)"
    if len(head) >= 2 and head[0] and head[1] == 0:
        return "UTF-16 (little-endian)"
    return None


# Byte-order marks, the longer before the shorter one they start with.
_WIDE_STARTS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
