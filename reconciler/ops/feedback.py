"""How an operation speaks to the person running it: typed callbacks the command supplies.

An operation never prints: what it has to say while it works (a warning, a note, a progress
line) goes through these, and the command decides where it lands (stderr, with the suggested
commands repeating the chosen environment). What it found is its typed result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Line = Callable[[str], None]


def silent(text: str) -> None:
    """The default for a caller that does not listen."""


@dataclass(frozen=True)
class Feedback:
    """Lines said while an operation works, in the order it works.

    ``warn`` gets the text of a warning without its ``warning:`` prefix; ``note`` a line said
    as it is (the banner of an emulated app, what a step found); ``progress`` a line for a
    person watching a terminal (None: nobody is).
    """

    warn: Line = silent
    note: Line = silent
    progress: Line | None = None

    def warnings(self, lines: list[str]) -> None:
        """Each of ``lines`` as a warning."""
        for line in lines:
            self.warn(line)
