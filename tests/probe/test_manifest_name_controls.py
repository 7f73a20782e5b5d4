"""Probe: a manifest file or directory whose name holds a line break or an escape sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

FORGED = "x\n::error title=forged::annotation\x1b]0;pwned\x07"
MANIFEST = """\
name: a
enabled: true
trigger:
  single: {time: "2027-01-10 12:00:00", zone_type: 1}
push: {from: push, to: all, body: {platform: all, notification: {alert: hi}}}
"""


@pytest.mark.parametrize("where", ["file", "directory"])
@pytest.mark.parametrize("command", [["plan"], ["validate"], ["validate", "--format", "github"]])
def test_a_manifest_name_with_a_line_break_is_refused_and_never_printed_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, command: list[str]
) -> None:
    """Promise: a pull request's files cannot drive the CI runner through the tool's output.

    A file ``schedules/x<LF>::error title=forged::....yaml`` was read as a manifest, and ``plan``
    printed its path as the schedule's source: the second line ran as a GitHub Actions
    workflow command in the pull request's own job (the same with an escape sequence for a
    terminal). Such a file (or directory) is now an error naming it with the characters
    escaped, and nothing is planned.
    """
    schedules = tmp_path / "schedules"
    folder = schedules / FORGED if where == "directory" else schedules
    folder.mkdir(parents=True)
    (folder / (f"{FORGED}.yaml" if where == "file" else "a.yaml")).write_text(MANIFEST)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--now", "2027-01-09T00:00:00+00:00", *command])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output
    lines = result.output.splitlines()
    assert all(not line.startswith("::") or line.startswith("::error file=") for line in lines)
    assert "x\\n::error title=forged" in result.output or "x\\n%3A%3Aerror" in result.output
