"""Probe: dates at the ends of Python's calendar in ``calendar --from/--to`` and ``--now``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

WINDOWS = [
    ["--from", "9999-12-31T23:59:59+00:00"],  # the default window's end is past year 9999
    ["--from", "0001-01-01T00:00:00+14:00", "--to", "0001-01-02T00:00:00+14:00"],  # UTC: year 0
    ["--from", "0001-01-01", "--to", "0001-01-05"],
    ["--from", "9999-12-30", "--to", "9999-12-31T12:00:00", "--format", "html"],
]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: " ".join(w))
def test_a_calendar_window_at_the_end_of_time_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: list[str]
) -> None:
    """Promise: a bad flag is a clear message and exit 1, never a traceback.

    ``calendar --from 9999-12-31T23:59:59Z`` added the default 31 days past the last date Python
    can hold, and windows in year 1 overflowed while converting to UTC or building the month
    view: ``OverflowError: date value out of range``.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    result = CliRunner().invoke(cli, ["--now", "2027-01-09T00:00:00+00:00", "calendar", *window])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "OverflowError" not in result.output
    assert "year" in result.output


@pytest.mark.parametrize("command", ["plan", "calendar"])
def test_a_now_at_the_end_of_time_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Promise: a bad flag is a clear message and exit 1, never a traceback.

    ``--now 9999-12-31T23:59:00+00:00`` made ``plan`` (its seven-day firing window) and
    ``calendar`` (its default window) overflow with a traceback.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    result = CliRunner().invoke(cli, ["--now", "9999-12-31T23:59:00+00:00", command])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OverflowError), result.exception
    assert "year" in result.output
