"""Running the real CLI on bad input and checking that it failed the way users deserve.

Every bad input must end in exit code 1, a message that starts with ``error:`` (or, for
``validate``, a ``FILE:LINE:COL: error:`` problem line) naming where the problem is, no Python
traceback, and no write call to the API. ``invoke`` runs ``reconciler.cli.cli`` in-process with
click's ``CliRunner`` (exceptions are not swallowed silently: an escaped exception is a failure
even though ``CliRunner`` would print nothing); ``run_module`` runs ``python -m reconciler``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

NOW = datetime(2027, 1, 1, tzinfo=UTC)  # the valid manifest below fires two months later
NOW_ARGS = ("--now", NOW.isoformat())

VALID_MANIFEST = """\
name: weekly_digest
enabled: true
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
push:
  from: push
  to: all
  body:
    platform: all
    notification:
      alert: Hello
"""

# Variables that would change which app or config a run uses; every run starts without them.
CLEARED_ENV = (
    "CI",
    "ENGAGELAB_APP_KEY",
    "ENGAGELAB_MASTER_SECRET",
    "RECONCILER_CONFIG",
    "RECONCILER_ENV",
    "RECONCILER_ENDPOINT",
    "RECONCILER_EMULATOR",
    "RECONCILER_DEBUG",
)


@dataclass(frozen=True)
class Outcome:
    """How one CLI run ended."""

    exit_code: int
    stdout: str
    stderr: str
    escaped: BaseException | None = None  # an exception that got past cli.main (a bug)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def invoke(
    args: Sequence[str], *, env: Mapping[str, str | None] | None = None, now: bool = True
) -> Outcome:
    """``reconciler [--now NOW] ARGS`` in-process, in the current directory."""
    full_env: dict[str, str | None] = dict.fromkeys(CLEARED_ENV)
    full_env.update(env or {})
    head = list(NOW_ARGS) if now else []
    result = CliRunner().invoke(cli, [*head, *args], env=full_env, catch_exceptions=True)
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, escaped)


def run_module(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    now: bool = True,
    timeout: float = 60,
) -> Outcome:
    """``python -m reconciler [--now NOW] ARGS`` as a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    head = list(NOW_ARGS) if now else []
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *head, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def describe(outcome: Outcome) -> str:
    """How a run ended, for assertion messages."""
    return (
        f"exit {outcome.exit_code}, escaped {outcome.escaped!r}\n"
        f"--- stdout ---\n{outcome.stdout[-3000:]}\n--- stderr ---\n{outcome.stderr[-3000:]}"
    )


def assert_no_traceback(outcome: Outcome) -> None:
    assert outcome.escaped is None, describe(outcome)
    assert "Traceback" not in outcome.text, describe(outcome)


def assert_clean_failure(outcome: Outcome, *, where: str | Sequence[str]) -> None:
    """Exit 1, no traceback, and an ``error:`` message that names ``where``.

    ``where`` (one text or several alternatives) is the file or request the message must name.
    """
    assert_no_traceback(outcome)
    assert outcome.exit_code == 1, describe(outcome)
    places = [where] if isinstance(where, str) else list(where)
    lines = outcome.stderr.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("error:")]
    assert starts, f"no line starts with 'error:'\n{describe(outcome)}"
    message = "\n".join(lines[starts[0] :])
    assert any(p in message for p in places), (
        f"the message names none of {places}\n{describe(outcome)}"
    )


def assert_validate_failure(outcome: Outcome, *, path: str) -> None:
    """``validate`` exits 1 and reports a ``PATH[:LINE[:COL]]: error: ...`` problem line."""
    assert_no_traceback(outcome)
    assert outcome.exit_code == 1, describe(outcome)
    problems = [
        line
        for line in outcome.stdout.splitlines()
        if line.startswith(path) and ": error: " in line
    ]
    assert problems, f"no '{path}...: error:' problem line\n{describe(outcome)}"


def write_project(root: Path, manifests: Mapping[str, str | bytes] | None = None) -> Path:
    """A repository at ``root``: ``schedules/`` holding ``manifests`` (default: one valid)."""
    schedules = root / "schedules"
    schedules.mkdir(parents=True, exist_ok=True)
    files: Mapping[str, str | bytes] = (
        manifests if manifests is not None else {"weekly_digest.yaml": VALID_MANIFEST}
    )
    for name, content in files.items():
        target = schedules / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return schedules


def endpoint_args(url: str) -> list[str]:
    """Global options pointing a command at a served emulator or scripted server."""
    return ["--endpoint", url]


STATE_PATH = Path(".reconciler") / "state.json"
TASK_ID = "00000000-0000-4000-8000-000000000001"


def valid_state_bytes(url: str) -> bytes:
    """A well-formed state file bound to the demo credentials at ``url``, managing one task."""
    from reconciler.emulator import DEMO_APP_KEY
    from reconciler.state.binding import binding_for
    from reconciler.state.edits import record_create
    from reconciler.state.schema import State

    state = record_create(
        State(binding=binding_for(url, DEMO_APP_KEY)),
        "weekly_digest",
        TASK_ID,
        "sha256:" + "0" * 64,
        False,
        NOW,
    )
    return state.model_dump_json(indent=2).encode() + b"\n"
