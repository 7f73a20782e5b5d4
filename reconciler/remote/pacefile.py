"""The request limit found by one run, kept for the next one in the pace file (``pace.json``).

A command is a process; without this every command would pay for finding the server's limit
again (docs/rate-control.md "Between runs"). The file holds endpoints and numbers only, is
replaced whole, and is read only as a regular file of bounded size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from reconciler import files

# The pace's channel in ``--debug`` output.
logger = logging.getLogger("reconciler.remote.ratelimit")

HINT_MAX_AGE = 3_600.0  # seconds; an older remembered limit is not trusted

PACE_FILE_VERSION = 1
PACE_FILE_MAX = 64 * 1024  # bytes; a few endpoints take a few hundred


def read_remembered_limit(path: Path, endpoint: str, *, now: float) -> float | None:
    """The limit an earlier run found at ``endpoint`` (requests/s), or None.

    ``now`` is the wall-clock time (``time.time()``); a limit older than HINT_MAX_AGE is not
    trusted. A missing, unreadable or malformed file is no limit: the run then finds it.
    """
    entry = _read_pace_file(path).get(endpoint)
    if not isinstance(entry, dict):
        return None
    limit, at = _finite(entry.get("limit")), _finite(entry.get("at"))
    if limit is None or at is None or limit <= 0 or not 0 <= now - at <= HINT_MAX_AGE:
        return None
    return limit


def remember_limit(path: Path, endpoint: str, limit: float | None, *, now: float) -> None:
    """Keep ``limit`` for ``endpoint`` (None: forget it); best effort, never raises.

    The file holds endpoints and numbers only. It is replaced whole (a concurrent reader sees
    the old or the new file); a failure to write it costs the next run one search, no more.
    """
    endpoints = _read_pace_file(path)
    if limit is None:
        if endpoint not in endpoints:
            return
        del endpoints[endpoint]
    else:
        endpoints[endpoint] = {"limit": round(limit, 2), "at": math.floor(now)}
    text = json.dumps({"version": PACE_FILE_VERSION, "endpoints": endpoints}, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        logger.debug("could not remember the request limit in %s: %s", path, exc.strerror)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _read_pace_file(path: Path) -> dict[str, Any]:
    try:
        # A regular file of bounded size only: a FIFO or a link to /dev/zero put there must not
        # stall or exhaust every command (docs/threat-model.md, as for the emulator's data).
        data = json.loads(files.read_regular(path, limit=PACE_FILE_MAX).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # "[[[[..." 2000 deep: RecursionError
        return {}
    if not isinstance(data, dict) or data.get("version") != PACE_FILE_VERSION:
        return {}
    endpoints = data.get("endpoints")
    return dict(endpoints) if isinstance(endpoints, dict) else {}


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
