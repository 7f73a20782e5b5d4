"""Probe: the embedded emulator's data file (``.reconciler/emulator.json``).

Without credentials every command talks to the embedded emulator, which loads this file first;
it sits next to the state file and is as exposed to a bad merge or a stray link.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.badinput.helpers import run_module


def _project(root: Path) -> Path:
    (root / "schedules").mkdir()
    data = root / ".reconciler"
    data.mkdir()
    return data / "emulator.json"


@pytest.mark.parametrize(
    "content",
    ["", "nan", "{", '{"version": 1, "schedules": {"a": 1}}', "[]", '{"tasks": 5}'],
    ids=["empty", "nan", "truncated", "wrong-shape", "list", "tasks-not-a-mapping"],
)
def test_a_corrupt_emulator_data_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    """Promise: never a traceback; a bad file gets a clear message and a non-zero exit.

    A truncated or badly merged ``.reconciler/emulator.json`` makes ``reconciler plan`` (no
    credentials: the embedded emulator) die with ``ValueError: ... not an emulator data
    file`` and a Python traceback.
    """
    _project(tmp_path).write_text(content, encoding="utf-8")

    outcome = run_module(["plan"], cwd=tmp_path, timeout=60)

    assert "Traceback" not in outcome.stderr, outcome.stderr[-800:]
    assert outcome.exit_code == 1
    assert "emulator.json" in outcome.stderr


def test_an_emulator_data_file_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    """Promise: never hangs.

    ``.reconciler/emulator.json`` replaced by a FIFO: ``reconciler plan`` blocks forever in
    the embedded emulator's load (the state file, manifests and config refuse FIFOs; this
    file does not). The run is given 30 s; a refusal takes well under one.
    """
    os.mkfifo(_project(tmp_path))
    try:
        outcome = run_module(["plan"], cwd=tmp_path, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("reconciler plan was still blocked after 30 s")
    assert outcome.exit_code == 1
    assert "Traceback" not in outcome.stderr
