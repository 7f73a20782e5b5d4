"""Malformed saved plans (``apply PLAN_FILE``) and unusable output paths (``--out``, ``--report``).

A saved plan is carried out without a second look, so one that cannot be trusted must stop
``apply`` before any call: exit 1, an ``error:`` message naming the plan file, no request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.planning.inputs import json_digest

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


@pytest.fixture
def update_plan(project: Path, served: tuple[Emulator, str]) -> bytes:
    """A real saved plan holding an update, and so the next firing of the task it changes: the
    manifest applied, then its alert edited."""
    emulator, url = served
    assert invoke([*endpoint_args(url), "apply", "--auto-approve"]).exit_code == 0
    manifest = project / "schedules" / "weekly_digest.yaml"
    manifest.write_text(manifest.read_text().replace("Hello", "Hello again"), encoding="utf-8")
    outcome = invoke([*endpoint_args(url), "plan", "--out", "update.plan"])
    assert outcome.exit_code == 0, outcome.text
    emulator.clear_log()
    return (project / "update.plan").read_bytes()


def _forged(raw: bytes, field: str, value: str) -> bytes:
    """``raw`` with ``field`` (of the plan, or ``fires_at`` of its update) set to ``value`` and
    the checksum recomputed: a checksum proves no authorship, anyone can compute it."""
    data = json.loads(raw)
    if field == "fires_at":
        (update,) = (a for a in data["actions"] if a["kind"] == "update")
        assert update["fires_at"]
        update["fires_at"] = value
    else:
        data[field] = value
    data["checksum"] = json_digest({k: v for k, v in data.items() if k != "checksum"})
    return json.dumps(data).encode()


# field, value, what the message says of it
TIME_CASES: dict[str, tuple[str, str, str]] = {
    "fires-at-not-a-time": (
        "fires_at",
        "soon",
        "actions[0].fires_at: 'soon' is not an ISO 8601 date-time",
    ),
    "fires-at-without-offset": (
        "fires_at",
        "2027-03-01T10:00:00",
        "actions[0].fires_at: '2027-03-01T10:00:00' has no UTC offset",
    ),
    "planned-at-not-a-time": (
        "planned_at",
        "yesterday",
        "planned_at: 'yesterday' is not an ISO 8601 date-time",
    ),
    "planned-at-without-offset": (
        "planned_at",
        "2027-01-01T00:00:00",
        "planned_at: '2027-01-01T00:00:00' has no UTC offset",
    ),
    "timezone-unknown": (
        "timezone",
        "Mars/Base",
        "timezone: 'Mars/Base' is not an IANA time zone name",
    ),
}


@pytest.mark.parametrize("case", sorted(TIME_CASES))
def test_a_saved_plan_with_an_unreadable_time_or_zone_stops_apply(
    project: Path, served: tuple[Emulator, str], update_plan: bytes, case: str
) -> None:
    """A hand-edited plan file (checksum recomputed) whose fires_at, planned_at or timezone is
    not a time with an offset or a zone: exit 1 naming the file and the field, before any
    request (the fire guard read fires_at only after listing the app, and failed there)."""
    emulator, url = served
    field, value, said = TIME_CASES[case]
    (project / "bad.plan").write_bytes(_forged(update_plan, field, value))
    outcome = invoke([*endpoint_args(url), "apply", "bad.plan"])
    assert_clean_failure(outcome, where="bad.plan")
    assert said in outcome.stderr, outcome.text
    assert emulator.request_log == []
    tally("plan-file")


def test_the_saved_plan_with_an_update_applies(
    project: Path, served: tuple[Emulator, str], update_plan: bytes
) -> None:
    """Control: the plan those cases are made from is carried out, as is the same plan with its
    checksum recomputed and nothing else changed."""
    emulator, url = served
    data = json.loads(update_plan)
    (project / "same.plan").write_bytes(_forged(update_plan, "planned_at", data["planned_at"]))
    outcome = invoke([*endpoint_args(url), "apply", "same.plan"])
    assert outcome.exit_code == 0, outcome.text
    assert [r.method for r in emulator.request_log if r.method == "PUT"] == ["PUT"]


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
