"""Output files of the operations (a plan, a drift report, a calendar): written whole."""

from __future__ import annotations

from reconciler import files
from reconciler.errors import UsageError


def write_output(path: str, text: str, what: str) -> None:
    """Write an output file (``--out``, ``--report``); a failure is a message naming the path."""
    try:
        files.write_regular(path, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write the {what} to {path}: {files.reason(exc)}",
            hint="check that its directory exists and is writable",
        ) from exc
