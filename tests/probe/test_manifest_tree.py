"""Probe: odd manifest directory trees."""

from __future__ import annotations

import os
from pathlib import Path

from tests.badinput.helpers import run_module


def test_a_deeply_nested_manifest_directory_is_a_clear_error(tmp_path: Path) -> None:
    """Promise: never a traceback; bad input gets a clear message and a non-zero exit.

    ``schedules/a/a/.../a`` 1050 levels deep (a generated tree, a loop flattened by a copy)
    makes the recursive directory walk (``os.walk`` on Python 3.11) raise RecursionError,
    which escapes as a Python traceback (``plan``, ``apply`` and ``export`` share the walk).
    The walk also takes about 16 s here for that one empty tree.
    """
    path = tmp_path / "schedules"
    path.mkdir()
    levels = [str(path)]
    for _ in range(1050):
        levels.append(os.path.join(levels[-1], "a"))
        os.mkdir(levels[-1])
    try:
        outcome = run_module(["validate"], cwd=tmp_path, timeout=120)
    finally:
        # Removed here, deepest first: shutil.rmtree (pytest's clean-up) recurses as well.
        for level in reversed(levels[1:]):
            os.rmdir(level)

    assert "Traceback" not in outcome.stderr, outcome.stderr[-600:]
    assert outcome.exit_code == 1
    assert "error" in outcome.stderr + outcome.stdout
