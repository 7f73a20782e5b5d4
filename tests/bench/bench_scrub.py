"""Benchmark: the output scrubber on ordinary text and on text a hostile server builds for it.

Each row is a text of ``--chars`` characters (default 16 000, the longest text a schedule from
the server may hold) scrubbed whole, as a plan prints a remote value: ordinary ASCII, Chinese
and accented lines, then texts built to pass the pre-test and to be searched in every look
(pieces of the secret between separators, escapes, zero-width spaces). Printed: milliseconds a
text, seconds a MB, and the same with the search the scrubber used before (one
case-insensitive alternation of every spelling, measured in the same run) with the ratio of
the two. The search budget (``limits.SEARCH_BUDGET``) is lifted: the figures are the search's
own.

Run:  .venv/bin/python -m tests.bench.bench_scrub [--chars 16000] [--seconds 1]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator

from reconciler import redact
from reconciler.formsearch import FormSearch
from reconciler.redact import Scrubber, _basic, secret_forms

KEY = "BenchKey7Q2x9Z4w8K1mP3dA"
SECRET = "bench/master secret+Vb7Xq29%LmZ"


class _OneAlternation(FormSearch):
    """The search as it was: the spellings in one alternation, the loose ones case-insensitive,
    the character references after them, all searched on the text as it is."""

    def __init__(self, secrets: list[str]) -> None:
        tokens = {_basic(a, b) for a in secrets for b in secrets if a != b}
        loose: set[str] = set()
        exact: set[str] = set()
        for secret in secrets:
            more_loose, more_exact = secret_forms(secret, pieces=secret not in tokens)
            loose |= more_loose
            exact |= more_exact
        forms = [(f, True) for f in loose] + [(f, False) for f in exact - loose]
        forms.sort(key=lambda item: (-len(item[0]), item[0]))
        parts = [f"(?i:{re.escape(f)})" if ci else re.escape(f) for f, ci in forms]
        # The references' pattern is written for a caseless text: in any case here.
        reference = Scrubber(secrets)._pattern
        assert reference is not None
        assert reference._patterns is not None
        parts.append(f"(?i:{reference._patterns.pattern})")
        self._one = re.compile("|".join(parts))

    def spans(self, text: str, *, overlapping: bool = False) -> Iterator[tuple[int, int]]:
        pos = 0
        while (m := self._one.search(text, pos)) is not None:
            yield m.span()
            pos = m.start() + 1 if overlapping else m.end()


def _texts(chars: int) -> Iterator[tuple[str, str]]:
    piece, other = SECRET[:6], KEY[6:12]
    units = {
        "ordinary ASCII lines": "alert: Weekend sale, 20% off everything in the app\n",
        "ordinary Chinese lines": "周末大促：全场八折，快来看看吧！\n",
        "ordinary accented lines": "Soldes d'été : déjà -20 % sur la crème brûlée à l'hôtel\n",
        "ordinary references and escapes": (
            'Caf&#233; cr&#xE8;me \\u00e9 {"p": "C:\\\\Users\\\\x"}\n'
        ),
        "pieces, escapes, quotes": f"{piece} x\\u200b {other} -y- {KEY[:6]}\u200b.\n> ",
        "pieces between separators": "-".join(piece) + " \\n ",
        "pieces with zero-width spaces": "\u200b".join(KEY[:6]) + " \\x01 ",
        "references and escapes": f"\\u0062\\u0065nch {piece[::-1]} &#98;",
    }
    for name, unit in units.items():
        yield name, (unit * (chars // len(unit) + 1))[:chars]


def _per_text(scrub: Scrubber, text: str, seconds: float) -> float:
    runs, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or runs < 3:
        scrub(text)
        runs += 1
    return elapsed / runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=16_000)
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each row")
    args = parser.parse_args()
    redact.SEARCH_BUDGET = sys.maxsize  # type: ignore[misc]  (the search's own cost)
    secrets = [KEY, SECRET, _basic(KEY, SECRET)]
    scrub, before = Scrubber(secrets), Scrubber(secrets)
    before._compiled = _OneAlternation(secrets)
    print(
        f"Scrubbing one text of {args.chars} characters "
        f"(the mean of as many runs as {args.seconds} s holds)"
    )
    print("| text | now: ms | now: s/MB | one alternation: ms | s/MB | now / before |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, text in _texts(args.chars):
        assert scrub(text) == before(text), name  # the same masks, or the figures mean nothing
        size = len(text.encode()) / 1e6
        now, old = _per_text(scrub, text, args.seconds), _per_text(before, text, args.seconds)
        print(
            f"| {name} | {now * 1e3:.1f} | {now / size:.2f} | {old * 1e3:.1f} | {old / size:.2f} "
            f"| {now / old:.2f}× |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
