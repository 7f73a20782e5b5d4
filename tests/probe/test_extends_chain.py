"""Probe: a generated ``extends:`` chain of base files far longer than any real hierarchy."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.manifests.bases import MAX_BASES

MANIFEST = """\
extends: _b0.yaml
name: a
trigger:
  single: {time: "2027-01-10 12:00:00", zone_type: 1}
push: {from: push, to: all, body: {platform: all, notification: {alert: hi}}}
"""


def _chain(directory: Path, length: int) -> None:
    for i in range(length):
        nxt = f"extends: _b{i + 1}.yaml\n" if i + 1 < length else ""
        (directory / f"_b{i}.yaml").write_text(f"{nxt}enabled: true\n", encoding="utf-8")
    (directory / "a.yaml").write_text(MANIFEST, encoding="utf-8")


def test_a_chain_of_1500_bases_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: a bad manifest is a clear message (file, line), exit 1, no traceback.

    Each base naming the next (``_b0`` extends ``_b1`` ... ``_b1499``, no cycle) was followed
    by recursion until Python's limit: ``RecursionError`` with a traceback, from ``validate``
    and every command that reads the manifests. The chain now stops at ``MAX_BASES``.
    """
    (tmp_path / "schedules").mkdir()
    _chain(tmp_path / "schedules", 1500)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--now", "2027-01-09T00:00:00+00:00", "validate"])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, RecursionError), result.exception
    assert f"_b{MAX_BASES - 1}.yaml:1:10: error: extends: more than {MAX_BASES}" in result.output


def test_a_chain_of_max_bases_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cap refuses only what is past it: ``MAX_BASES`` bases in one chain still merge."""
    (tmp_path / "schedules").mkdir()
    _chain(tmp_path / "schedules", MAX_BASES)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--now", "2027-01-09T00:00:00+00:00", "validate"])
    assert result.exit_code == 0, result.output
