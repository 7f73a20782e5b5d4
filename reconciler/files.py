"""Reading input files and checking output paths so that no path can hang, flood or clobber.

One job: the file-system edge of every command that takes a path from the user. An input is
read only when it is a regular file no larger than its cap (a FIFO would block forever,
``/dev/zero`` would fill the memory); an output path is checked before any remote read (its
directory exists and is writable, it is not a FIFO, device or directory, and it is not one of
the state file's own files, even through a symbolic link) and written without following a
FIFO. The caps are documented in ``docs/threat-model.md``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from reconciler.errors import ReconcilerError

KIB = 1024
MIB = 1024 * KIB

# Caps of the input files (docs/threat-model.md, "Files, state and options"). Each is far above
# any real file of its kind and far below what would hurt the machine.
MAX_MANIFEST_BYTES = 1 * MIB  # a manifest file holds a few schedules
MAX_CONFIG_BYTES = 1 * MIB  # reconciler.yaml holds a few environments
MAX_PLAN_BYTES = 64 * MIB  # a saved plan of 5000 schedules with full bodies is ~15 MiB
MAX_TARGETS_BYTES = 16 * MIB  # 100,000 registration ids of ~64 characters is ~6.5 MiB
MAX_STATE_BYTES = 64 * MIB  # a state file of 5000 schedules is ~2 MiB

# The endings of the files the manifest search reads (in another case: an error it names).
MANIFEST_SUFFIXES = (".yaml", ".yml")
# The embedded emulator's data file also keeps its push log (10,000 batch pushes at most).
MAX_EMULATOR_DATA_BYTES = 256 * MIB

ErrorFactory = Callable[[str, str], ReconcilerError]  # (message, hint) -> error


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size_text(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit // KIB} KiB"


class UnusableFileError(OSError):
    """Why a file cannot be used (``strerror`` is a reason for the user; the caller wraps it)."""


def _not_regular(mode: int) -> UnusableFileError:
    return UnusableFileError(errno.EINVAL, f"it is {_kind(mode)}, not a regular file")


def read_regular(path: Path, *, limit: int) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes.

    Opened non-blocking, so a FIFO without a writer cannot stall the open; its type is checked
    on the open descriptor (no window between check and read), and at most ``limit + 1`` bytes
    are read, so a file that grows or lies about its size is still bounded.
    Raises ``FileNotFoundError`` for a missing file and ``UnusableFileError`` (an ``OSError``
    whose ``strerror`` is the reason) for anything else.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnusableFileError(exc.errno or errno.EIO, exc.strerror or str(exc)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode)
        if info.st_size > limit:
            raise UnusableFileError(errno.EFBIG, f"it is larger than {_size_text(limit)}")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 * MIB, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnusableFileError(errno.EFBIG, f"it is larger than {_size_text(limit)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def reason(exc: OSError) -> str:
    """The user-facing reason of a failed read."""
    return exc.strerror or str(exc)


# --------------------------------------------------------------------------- outputs


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """``path`` resolved (every link followed) and the (device, inode) it names, if any."""
    resolved = os.path.realpath(path)
    try:
        info = os.stat(resolved)
    except OSError:
        return resolved, None
    return resolved, (info.st_dev, info.st_ino)


def check_output(
    path: str,
    *,
    what: str,
    protected: Iterable[Path],
    error: ErrorFactory,
    manifests: Iterable[Path] = (),
) -> None:
    """Refuse an output path that cannot or must not be written; call before any remote read.

    ``protected`` are files the output must never replace (the state file, its backup, lock
    and journal, the config): compared after resolving links, and by inode, so neither a link
    nor a hard link to them gets through. ``manifests``: the directories of manifests and
    overlays (every environment's), where no output may go that their search would read (it
    would replace a manifest, or fail every later command as one). An existing file with
    another name (a hard link) is refused too: writing it changes what the other name holds.
    """
    target = Path(path)
    resolved, inode = _identity(target)
    for directory in manifests:
        if _read_as_manifest(target, resolved, directory):
            raise error(
                f"refusing to write the {what} to {path}: it is in the manifest directory "
                f"{directory.as_posix()} and ends in {Path(resolved).suffix or target.suffix}, "
                "so it would be read as a manifest (replacing one, or failing every later "
                "command)",
                "write the output outside the manifest directory, e.g. plan.json in the "
                "working directory",
            )
    for guarded in protected:
        g_resolved, g_inode = _identity(guarded)
        if resolved == g_resolved or (inode is not None and inode == g_inode):
            raise error(
                f"refusing to write the {what} to {path}: it is {guarded}, a file the "
                "reconciler keeps its state or settings in",
                "write the output somewhere else, e.g. plan.json in the working directory",
            )
    try:
        info = os.stat(resolved)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise error(
            f"cannot write the {what} to {path}: {reason(exc)}",
            "check that the path is a writable file",
        ) from exc
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise error(
            f"cannot write the {what} to {path}: it is {_kind(info.st_mode)}, not a regular file",
            "give the path of a regular file (it is created or replaced)",
        )
    if info is not None and info.st_nlink > 1:
        raise error(
            f"refusing to write the {what} to {path}: the file has another name too (a hard "
            "link), and writing it would change what that name holds (a manifest, say)",
            "write the output to a new file, or remove this one first",
        )
    parent = Path(resolved).parent
    if not parent.is_dir():
        raise error(
            f"cannot write the {what} to {path}: the directory {parent} does not exist",
            "create the directory first, or write the output somewhere else",
        )
    if not os.access(parent if info is None else resolved, os.W_OK):
        raise error(
            f"cannot write the {what} to {path}: permission denied",
            "check that the path is writable",
        )


def _read_as_manifest(target: Path, resolved: str, manifests: Path) -> bool:
    """Whether the manifest search of ``manifests`` reads ``target`` (named as given, or where
    its links lead): a file ending in a manifest suffix, in any case, below no hidden name."""
    for place in (os.path.abspath(target), resolved):
        for top in {os.path.abspath(manifests), os.path.realpath(manifests)}:
            try:
                inner = os.path.relpath(place, top)
            except ValueError:  # another drive (Windows)
                continue
            parts = Path(inner).parts
            if inner == os.curdir and os.path.isfile(top):
                return True  # `manifests:` names one file, and the output is that file
            if not parts or parts[0] == os.pardir or any(p.startswith(".") for p in parts):
                continue
            if parts[-1].lower().endswith(MANIFEST_SUFFIXES):
                return True
    return False


def write_regular(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated); never blocks on a FIFO.

    ``O_NONBLOCK`` makes opening a FIFO without a reader fail at once, and the type is checked
    on the open descriptor before anything is truncated.
    """
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags, 0o644)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode)
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)
