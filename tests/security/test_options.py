"""Numbers that are not numbers, fractions of a minute and a full disk end in a clean error.

``nan`` passes every range check and ``inf`` overflows an int: both used to end in tracebacks
(or a silently used nan timeout). ``--fire-guard 0.9`` became 0, the guard off; fractions of a
minute are now refused (the guard compares whole minutes), from the flag, its environment
variable and reconciler.yaml alike. Output to a full disk is an error message, not a traceback.
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(
    "closed", [(1,), (2,), (1, 2), (0,), (0, 1), (0, 1, 2)], ids=lambda c: "".join(map(str, c))
)
def test_a_closed_standard_stream_is_written_to_nowhere(
    repo: Path, closed: tuple[int, ...]
) -> None:
    """`reconciler plan --detailed-exitcode >&-` (or `2>&-`, `<&-`): Python starts it with None
    for the stream; what would go there goes nowhere, as with `/dev/null`, and the exit code is
    the command's (2: changes), not a traceback's. Then `apply` (stdin closed: no terminal to
    confirm with, refused cleanly) and `apply --auto-approve`, whose state file must not take
    the free descriptor 1 and receive the output."""

    def close_streams() -> None:
        for fd in closed:
            os.close(fd)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *NOW_ARGS, *args],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=close_streams,  # runs after the pipes are in place: it closes them again
        )

    planned = command("plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr
    if 1 not in closed:
        assert "Plan: " in planned.stdout
    confirm = command("apply")
    assert confirm.returncode == 1, confirm.stderr
    if 2 not in closed:
        assert "not a terminal" in confirm.stderr
    applied = command("apply", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    state = json.loads((repo / ".reconciler" / "state.json").read_text(encoding="utf-8"))
    assert state["entries"]
    for done in (planned, confirm, applied):
        assert "Traceback" not in done.stderr
        assert "Exception ignored" not in done.stderr


def test_the_null_device_takes_the_closed_streams_own_descriptors(tmp_path: Path) -> None:
    """With 0 and 1 closed, the null device must sit on 0 and 1 (not 0 for stdout, leaving 1
    free for the next file the command opens: its state file would receive the output)."""
    probe = (
        "import sys\n"
        "from reconciler.cli import _missing_streams_to_nowhere\n"
        "_missing_streams_to_nowhere()\n"
        "with open('fds', 'w') as f:\n"
        "    f.write(' '.join(str(s.fileno()) for s in (sys.stdin, sys.stdout, sys.stderr)))\n"
    )

    def close_streams() -> None:
        os.close(0)
        os.close(1)

    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=close_streams,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fds").read_text() == "0 1 2"
