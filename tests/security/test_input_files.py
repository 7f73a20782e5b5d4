"""Every file a command reads is a regular file under a size cap; no path can hang or flood it.

A FIFO given as a manifest, plan file, ``--config``, ``--out``, ``--report`` or
``--targets-file`` used to block forever; ``/dev/zero`` as a plan file, config or targets file
grew the process to gigabytes. Each run here is a subprocess with a timeout, so a regression
fails instead of hanging the suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler import files
from tests.badinput.helpers import assert_clean_failure, run_module, write_project

TIMEOUT = 60  # seconds; each run takes about one


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one valid manifest (weekly_digest), a FIFO and an empty file."""
    write_project(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


FIFO_CASES = {
    "plan file": (("apply", "fifo"), "the plan file fifo"),
    "--config": (("--config", "fifo", "plan"), "the config file fifo"),
    "--out": (("plan", "--out", "fifo"), "the plan to fifo"),
    "--report": (("drift", "--report", "fifo"), "the drift report to fifo"),
    "calendar --out": (("calendar", "--out", "fifo"), "the calendar to fifo"),
    "--targets-file": (
        ("test-send", "weekly_digest", "--targets-file", "fifo"),
        "the targets file fifo",
    ),
}


@pytest.mark.parametrize("case", list(FIFO_CASES))
def test_a_fifo_in_place_of_a_file_is_refused_at_once(repo: Path, case: str) -> None:
    """A FIFO (with no writer or reader) named as an input or output: exit 1 within the
    timeout, with a message naming the path and saying it is a FIFO."""
    args, where = FIFO_CASES[case]
    result = run_module(args, cwd=repo, timeout=TIMEOUT)
    assert_clean_failure(result, where=where)
    assert "FIFO" in result.stderr


def test_a_fifo_manifest_is_reported_not_waited_for(repo: Path) -> None:
    """`schedules/x.yaml` being a FIFO: validate reports it as a problem of that file."""
    os.mkfifo(repo / "schedules" / "x.yaml")
    result = run_module(("validate",), cwd=repo, timeout=TIMEOUT)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "schedules/x.yaml: error: cannot read the file: it is a FIFO" in result.stdout


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("apply", "/dev/zero"), "the plan file /dev/zero"),
        (("--config", "/dev/zero", "plan"), "the config file /dev/zero"),
        (("test-send", "weekly_digest", "--targets-file", "/dev/zero"), "/dev/zero"),
        (("plan", "--out", "/dev/zero"), "the plan to /dev/zero"),
    ],
)
def test_a_device_in_place_of_a_file_is_refused(
    repo: Path, args: tuple[str, ...], where: str
) -> None:
    """/dev/zero as plan file, config, targets file or output: exit 1 at once saying it is a
    character device (it used to be read until the memory ran out)."""
    result = run_module(args, cwd=repo, timeout=TIMEOUT)
    assert_clean_failure(result, where=where)
    assert "character device" in result.stderr


@pytest.mark.parametrize(
    ("args", "limit", "where"),
    [
        (("apply", "big"), files.MAX_PLAN_BYTES, "the plan file big"),
        (("--config", "big", "plan"), files.MAX_CONFIG_BYTES, "the config file big"),
        (
            ("test-send", "weekly_digest", "--targets-file", "big"),
            files.MAX_TARGETS_BYTES,
            "the targets file big",
        ),
    ],
)
def test_an_input_over_its_cap_is_refused_unread(
    repo: Path, args: tuple[str, ...], limit: int, where: str
) -> None:
    """A (sparse) file one byte over the documented cap of its kind: exit 1 naming the cap."""
    with (repo / "big").open("wb") as handle:
        handle.truncate(limit + 1)
    result = run_module(args, cwd=repo, timeout=TIMEOUT)
    assert_clean_failure(result, where=where)
    assert "larger than" in result.stderr


def test_a_state_file_that_is_a_fifo_is_refused(repo: Path) -> None:
    """`.reconciler/state.json` being a FIFO: plan exits 1 naming it instead of blocking."""
    (repo / ".reconciler").mkdir()
    os.mkfifo(repo / ".reconciler" / "state.json")
    result = run_module(("plan",), cwd=repo, timeout=TIMEOUT)
    assert_clean_failure(result, where=".reconciler/state.json")
    assert "FIFO" in result.stderr
