"""Probe: ``manifests:`` or ``overlay:`` in reconciler.yaml naming the repository or above it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

SECRET = "hunter2-not-a-schedule"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("manifests", "/"),
        ("manifests", ".."),
        ("manifests", "."),
        ("manifests", "up"),
        ("overlay", ".."),
    ],
)
def test_a_manifest_directory_holding_the_repository_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    """Promise: bad config is a clear message naming the file and line, and nothing is read.

    ``manifests: /`` made ``validate`` walk the whole disk (30 s here, 40,000 YAML files) and
    print lines of every YAML file it found, other projects' and secrets' included, as
    manifest errors; ``..`` (or a link ``up -> ..``) does the same with the neighbouring
    directories, ``.`` with the repository's own .github and config files.
    """
    (tmp_path / "creds.yaml").write_text(f"token: {SECRET}\n", encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / "schedules").mkdir(parents=True)
    (repo / "up").symlink_to("..")
    (repo / "ci.yaml").write_text(f"password: {SECRET}\n", encoding="utf-8")
    (repo / "reconciler.yaml").write_text(
        f"environments:\n  prod:\n    timezone: UTC\n    {key}: {value}\n", encoding="utf-8"
    )
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["--env", "prod", "validate"])
    assert result.exit_code == 1, result.output
    assert f"reconciler.yaml:4: prod.{key}" in result.output
    assert SECRET not in result.output


def test_a_manifest_directory_beside_the_config_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard refuses only the config's directory and those above it: a sibling directory
    (a config in ``deploy/`` naming ``../schedules``) is still a manifest directory."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "reconciler.yaml").write_text(
        "environments:\n  prod:\n    manifests: ../schedules\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--config", "deploy/reconciler.yaml", "validate"])
    assert result.exit_code == 0, result.output
