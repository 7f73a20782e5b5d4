"""Places in a manifest's YAML: the path of a value, where it was written, how a message names
it, and the problem that stops a text from loading at a line and column.

Shared by the reader (``yamlread``, ``yamlconvert``, ``yamlscalars``) and by what reports on the
data it returns (``load``, ``layers``, ``messages``); no YAML library is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PathKey = tuple[str | int, ...]
# 1-based (key_line, key_col, value_line, value_col); columns count characters
Position = tuple[int, int, int, int]


@dataclass(frozen=True)
class SyntaxProblem:
    """Why the text is not (loadable) YAML, and where."""

    line: int | None
    col: int | None
    message: str
    severity: str = "error"


class LoadStopped(Exception):
    """The text cannot be loaded past this point (as a syntax error would stop it)."""

    def __init__(self, problem: SyntaxProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def dotted_path(path: PathKey) -> str:
    """``("trigger", "periodical", "point", 1)`` -> ``trigger.periodical.point[1]``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


def prefixed(path: PathKey, message: str) -> str:
    """``message`` after the dotted path it is about (``trigger.single.time: ...``)."""
    dotted = dotted_path(path)
    return f"{dotted}: {message}" if dotted else message


def value_at(data: Any, path: PathKey) -> Any:
    """The value at ``path`` in loaded YAML data, or None where the path leads nowhere."""
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data
