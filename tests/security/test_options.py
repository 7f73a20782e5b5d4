"""Numbers that are not numbers, fractions of a minute and a full disk end in a clean error.

``nan`` passes every range check and ``inf`` overflows an int: both used to end in tracebacks
(or a silently used nan timeout). ``--fire-guard 0.9`` became 0, the guard off; fractions of a
minute are now refused (the guard compares whole minutes), from the flag, its environment
variable and reconciler.yaml alike. Output to a full disk is an error message, not a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.badinput.helpers import (
    NOW_ARGS,
    assert_no_traceback,
    describe,
    invoke,
    write_project,
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_project(tmp_path)
    return tmp_path


BAD_OPTIONS = [
    (("--timeout", "nan", "plan"), "--timeout"),
    (("--timeout", "inf", "plan"), "--timeout"),
    (("--rate-limit", "nan", "plan"), "--rate-limit"),
    (("plan", "--fire-guard", "inf"), "--fire-guard"),
    (("plan", "--fire-guard", "nan"), "--fire-guard"),
    (("plan", "--fire-guard", "0.9"), "--fire-guard"),
    (("apply", "--auto-approve", "--fire-guard", "-inf"), "--fire-guard"),
    (("apply", "--auto-approve", "--lock-timeout", "nan"), "--lock-timeout"),
]


@pytest.mark.parametrize(("args", "option"), BAD_OPTIONS)
def test_non_finite_and_fractional_values_are_refused(
    repo: Path, args: tuple[str, ...], option: str
) -> None:
    """Each bad value exits 1 with click's message naming the option; no traceback."""
    result = invoke(args)
    assert_no_traceback(result)
    assert result.exit_code == 1, describe(result)
    assert option in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECONCILER_FIRE_GUARD", "inf"),
        ("RECONCILER_FIRE_GUARD", "nan"),
        ("RECONCILER_FIRE_GUARD", "0.9"),
        ("RECONCILER_TIMEOUT", "nan"),
    ],
)
def test_the_same_values_from_the_environment_are_refused(
    repo: Path, variable: str, value: str
) -> None:
    """The environment variables are checked like the flags: exit 1 naming the variable."""
    result = invoke(("plan",), env={variable: value})
    assert_no_traceback(result)
    assert result.exit_code == 1, describe(result)
    assert variable in result.stderr


def test_a_fractional_fire_guard_in_the_config_is_refused(repo: Path) -> None:
    """`fire_guard_minutes: 0.9` in reconciler.yaml: exit 1 naming file, line and the rule."""
    (repo / "reconciler.yaml").write_text(
        "environments:\n  default:\n    fire_guard_minutes: 0.9\n", encoding="utf-8"
    )
    result = invoke(("plan",))
    assert_no_traceback(result)
    assert result.exit_code == 1, describe(result)
    assert "reconciler.yaml:3" in result.stderr
    assert "fractions are not supported" in result.stderr


@pytest.mark.parametrize("value", ["0", "5", "5.0", "120"])
def test_whole_minutes_are_accepted(repo: Path, value: str) -> None:
    """Whole minutes, also written as 5.0, are used as before."""
    result = invoke(("plan", "--fire-guard", value))
    assert result.exit_code == 0, describe(result)


@pytest.mark.parametrize("command", [("plan",), ("validate",), ("state", "list")])
def test_output_to_a_full_disk_is_a_clean_error(repo: Path, command: tuple[str, ...]) -> None:
    """`reconciler plan > /dev/full`: exit 1 with `error: cannot write the output: No space
    left on device` on stderr, and no traceback."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "reconciler", *NOW_ARGS, *command],
            cwd=repo,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert "error: cannot write the output: No space left on device" in proc.stderr


@pytest.mark.parametrize("closed", [(1,), (2,), (1, 2)], ids=["stdout", "stderr", "both"])
def test_a_closed_standard_stream_is_written_to_nowhere(
    repo: Path, closed: tuple[int, ...]
) -> None:
    """`reconciler plan --detailed-exitcode >&-` (or `2>&-`): Python starts it with None for
    the stream; what would go there goes nowhere, as with `>/dev/null`, and the exit code is
    the plan's (2: changes), not a traceback's."""

    def close_streams() -> None:
        for fd in closed:
            os.close(fd)

    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *NOW_ARGS, "plan", "--detailed-exitcode"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=close_streams,  # runs after the pipes are in place: it closes them again
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    if 1 not in closed:
        assert "Plan: " in proc.stdout
