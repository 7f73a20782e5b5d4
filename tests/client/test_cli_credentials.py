"""Wrong credentials, seen from the command line: one clear message, exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator import DEMO_APP_KEY, Emulator
from reconciler.testing import serve_emulator

MANIFEST = """\
name: weekly_digest
enabled: true
trigger:
  periodical:
    start: "2027-01-01 00:00:00"
    end: "2027-06-01 00:00:00"
    time: "09:00:00"
    time_unit: week
    point: [MON]
    zone_type: 1
push:
  to: all
  body:
    platform: all
    notification:
      alert: hi
"""


def test_plan_with_a_wrong_secret_prints_one_error_and_one_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reconciler plan` against a server refusing the secret: error line, hint line, exit 1."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "digest.yaml").write_text(MANIFEST)
    monkeypatch.chdir(tmp_path)
    em = Emulator()
    with serve_emulator(em) as url:
        result = CliRunner().invoke(
            cli,
            ["--endpoint", url, "--now", "2026-12-01T08:00:00+00:00", "plan"],
            env={"ENGAGELAB_APP_KEY": DEMO_APP_KEY, "ENGAGELAB_MASTER_SECRET": "wrong-secret"},
        )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert len(lines) == 2, result.output
    assert lines[0].startswith("error: GET /v4/schedules?page=1: HTTP 401, code 28101:")
    assert lines[1].startswith("hint: check ENGAGELAB_APP_KEY and ENGAGELAB_MASTER_SECRET")
    assert "(--endpoint)" in lines[1]
    assert "wrong-secret" not in result.output
    assert len(em.request_log) == 1  # no retry of an auth failure
