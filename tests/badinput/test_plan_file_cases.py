"""Malformed saved plans (``apply PLAN_FILE``) and unusable output paths (``--out``, ``--report``).

A saved plan is carried out without a second look, so one that cannot be trusted must stop
``apply`` before any call: exit 1, an ``error:`` message naming the plan file, no request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .conftest import subprocess_cases
from .helpers import (
    assert_clean_failure,
    assert_no_traceback,
    endpoint_args,
    invoke,
    run_module,
)
from .tally import tally


@pytest.fixture
def good_plan(project: Path, served: tuple[Emulator, str]) -> bytes:
    """A real saved plan of the project (one create), made against the served emulator."""
    emulator, url = served
    outcome = invoke([*endpoint_args(url), "plan", "--out", "good.plan"])
    assert outcome.exit_code == 0, outcome.text
    emulator.clear_log()
    return (project / "good.plan").read_bytes()


def _edit(raw: bytes, **changes: object) -> bytes:
    data = json.loads(raw)
    data.update(changes)
    return json.dumps(data).encode()


def _cases(good: bytes) -> dict[str, bytes]:
    return {
        "empty": b"",
        "whitespace": b"\n \n",
        "not-json": b"this is not a plan",
        "yaml-instead": b"format_version: 1\nactions: []\n",
        "truncated-at-half": good[: len(good) // 2],
        "truncated-one-byte-short": good.rstrip()[:-1],
        "invalid-utf8": good.replace(b'"format_version"', b'"format_\xffversion"'),
        "utf16": good.decode().encode("utf-16"),
        "binary-garbage": bytes(range(256)) * 4,
        "json-list": b"[]",
        "json-null": b"null",
        "json-number": b"1",
        "format-version-missing": _edit(good, format_version=None),
        "format-version-two": _edit(good, format_version=2),
        "format-version-string": _edit(good, format_version="1"),
        "checksum-broken": _edit(good, checksum="sha256:" + "0" * 64),
        "actions-not-a-list": _edit(good, actions="create everything"),
        "unknown-key": _edit(good, surprise=True),
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "deep-nesting-in-actions": good.replace(
            b'"actions": [', b'"actions": [' + b"[" * 5_000 + b"]" * 5_000 + b",", 1
        ),
        "huge-integer": b'{"format_version": ' + b"9" * 5000 + b"}",
        "nul-bytes": b"\x00" * 32,
        "lone-surrogate-in-a-name": good.replace(b'"weekly_digest"', b'"\\ud800"', 1),
    }


CASE_NAMES = sorted(_cases(b'{"format_version": 1, "actions": []}'))


@pytest.mark.parametrize("case", CASE_NAMES)
def test_malformed_saved_plan_stops_apply(
    project: Path, served: tuple[Emulator, str], good_plan: bytes, case: str
) -> None:
    """``apply BAD.plan`` exits 1 naming the plan file and makes no call to the API."""
    emulator, url = served
    (project / "bad.plan").write_bytes(_cases(good_plan)[case])
    outcome = invoke([*endpoint_args(url), "apply", "bad.plan"])
    assert_clean_failure(outcome, where="bad.plan")
    assert emulator.request_log == []
    tally("plan-file")


def test_the_good_saved_plan_applies(
    project: Path, served: tuple[Emulator, str], good_plan: bytes
) -> None:
    """Control: the plan the cases are made from is carried out (so the cases can fail)."""
    emulator, url = served
    outcome = invoke([*endpoint_args(url), "apply", "good.plan"])
    assert outcome.exit_code == 0, outcome.text
    assert [r.method for r in emulator.request_log if r.method == "POST"] == ["POST"]


def test_a_directory_as_plan_file_is_a_usage_error(
    project: Path, served: tuple[Emulator, str]
) -> None:
    """``apply DIR``: click refuses it (exit 1, names it), no traceback, no call."""
    emulator, url = served
    (project / "plans").mkdir()
    outcome = invoke([*endpoint_args(url), "apply", "plans"])
    assert_no_traceback(outcome)
    assert outcome.exit_code == 1
    assert "'plans'" in outcome.stderr
    assert "directory" in outcome.stderr
    assert emulator.request_log == []
    tally("plan-file")


@pytest.mark.parametrize(
    "command",
    [
        ("plan", "--out", "no/such/dir/out.plan"),
        ("plan", "--out", "."),
        ("drift", "--report", "no/such/dir/report.md"),
        ("drift", "--report", "schedules"),
    ],
    ids=["plan-out-missing-dir", "plan-out-is-dir", "report-missing-dir", "report-is-dir"],
)
def test_unwritable_output_path_is_a_message(
    project: Path, served: tuple[Emulator, str], command: tuple[str, ...]
) -> None:
    """An output path that cannot be written is an ``error:`` naming it, not an OSError."""
    emulator, url = served
    outcome = invoke([*endpoint_args(url), *command])
    assert_no_traceback(outcome)
    assert outcome.exit_code == 1, outcome.text
    assert command[2] in outcome.stderr
    assert not [r for r in emulator.request_log if r.method in ("POST", "PUT", "DELETE")]
    tally("output-path")


@pytest.mark.parametrize("case", subprocess_cases(["deep-nesting", "invalid-utf8"]))
def test_malformed_saved_plan_as_a_subprocess(
    project: Path, served: tuple[Emulator, str], good_plan: bytes, case: str
) -> None:
    """``python -m reconciler apply BAD.plan`` fails cleanly too (real stderr, no traceback)."""
    emulator, url = served
    (project / "bad.plan").write_bytes(_cases(good_plan)[case])
    outcome = run_module([*endpoint_args(url), "apply", "bad.plan"], cwd=project)
    assert_clean_failure(outcome, where="bad.plan")
    assert emulator.request_log == []
    tally("plan-file")
