"""Defects the generated campaign found, each kept as a named case once fixed.

Each test names the draw that found it. They run in the default suite whatever the campaign
size, so a regression shows even when hypothesis would not happen to draw the case again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import VALID_MANIFEST, assert_no_traceback, describe, invoke, run_module

BASE = VALID_MANIFEST  # ends with "    notification:\n      alert: Hello\n"


@pytest.mark.parametrize(
    ("manifest", "valid"),
    [
        # found as `push.body.notification = None`: AttributeError in the 4000-byte check
        (
            BASE.replace("    notification:\n      alert: Hello\n", "    notification: null\n")
            + "    message:\n      msg_content: Hello\n",
            True,
        ),
        (BASE + "    message: null\n", True),
        # an explicit null content and nothing else is still "no content": refused, not a crash
        (
            BASE.replace("    notification:\n      alert: Hello\n", "    notification: null\n"),
            False,
        ),
        # a null cid reached the cid pattern: TypeError
        (BASE + "    options:\n      cid: null\n", True),
        # null live_activity / voip were refused as "cannot be combined with notification"
        (BASE + "    live_activity: null\n", True),
        (BASE + "    voip: null\n", True),
    ],
    ids=[
        "null-notification-with-message",
        "null-message",
        "null-notification-alone",
        "null-cid",
        "null-live-activity",
        "null-voip",
    ],
)
def test_explicit_null_content_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: str, valid: bool
) -> None:
    """An explicit ``null`` on an optional push field means "absent": no traceback, and the
    manifest is judged as if the field were not there."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "m.yaml").write_text(manifest, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    outcome = invoke(["validate"])
    assert_no_traceback(outcome)
    assert outcome.exit_code == (0 if valid else 1), describe(outcome)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_console_that_cannot_show_a_name_gets_escapes_not_a_traceback(
    tmp_path: Path, encoding: str
) -> None:
    """A Chinese schedule name (a valid name) planned on a console whose encoding has no such
    characters (a Windows code page, ``LC_ALL=C``): an outside probe's plan ended in a
    UnicodeEncodeError after its requests. The name is shown escaped."""
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    text = BASE.replace("name: weekly_digest", "name: 每周摘要")
    (schedules / "cn.yaml").write_text(text, encoding="utf-8")
    outcome = run_module(["plan"], cwd=tmp_path, env={"PYTHONIOENCODING": encoding})
    assert_no_traceback(outcome)
    assert outcome.exit_code == 0, describe(outcome)
    assert "+ create \\u6bcf\\u5468\\u6458\\u8981" in outcome.stdout, describe(outcome)
