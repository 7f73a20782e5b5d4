"""How many bad inputs the campaign tried, by kind (printed in the terminal summary)."""

from __future__ import annotations

from collections import Counter

TALLY: Counter[str] = Counter()


def tally(kind: str) -> None:
    """Count one bad input of ``kind`` (manifest, state, config, plan-file, answer)."""
    TALLY[kind] += 1
