"""Symbolic links in the manifest tree: followed inside it, an error outside, never silent.

A link out of the manifest directory (``schedules/x.yaml -> ../.env``) would put any file's
content into error messages and CI annotations; a linked sub-directory skipped without a word
would plan its schedules as deletes. And whatever a message quotes, a configured credential is
never printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.badinput.helpers import VALID_MANIFEST, invoke
from tests.e2e.helpers import Project

APP_KEY = "k3yk3yk3yk3yk3yk3yk3yk3y"  # 24 characters, like a real AppKey
SECRET = "s3cr3t-master-value-0042"
CREDENTIALS = {"ENGAGELAB_APP_KEY": APP_KEY, "ENGAGELAB_MASTER_SECRET": SECRET}
DOTENV = f"ENGAGELAB_APP_KEY={APP_KEY}\nENGAGELAB_MASTER_SECRET={SECRET}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one valid manifest and a ``.env`` beside ``schedules/``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    (tmp_path / ".env").write_text(DOTENV, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--format", "github"),
        ("validate", "--format", "json"),
        ("--emulator", "plan"),
    ],
)
def test_a_manifest_linked_out_of_the_tree_is_refused_unread(
    repo: Path, args: tuple[str, ...]
) -> None:
    """`schedules/x.yaml -> ../.env`: validate (every format) and plan exit 1 naming the link,
    and nothing of the linked file (neither credential) appears in the output."""
    (repo / "schedules" / "x.yaml").symlink_to(Path("..") / ".env")
    result = invoke(args, env=CREDENTIALS)
    assert result.exit_code == 1, result.text
    assert "schedules/x.yaml" in result.text
    assert "outside schedules" in result.text
    assert APP_KEY not in result.text
    assert SECRET not in result.text


def test_a_credential_quoted_by_a_manifest_error_is_redacted(repo: Path) -> None:
    """A manifest inside the tree that holds the Master Secret as a key (a paste gone wrong):
    the unknown-key error and its GitHub annotation name the place but show `<redacted>`."""
    (repo / "schedules" / "pasted.yaml").write_text(
        VALID_MANIFEST.replace("weekly_digest", "pasted") + f"{SECRET}: 1\n", encoding="utf-8"
    )
    for args in (("validate", "--format", "github"), ("--emulator", "plan")):
        result = invoke(args, env=CREDENTIALS)
        assert result.exit_code == 1, result.text
        assert "schedules/pasted.yaml" in result.text
        assert SECRET not in result.text
        assert "<redacted>" in result.text


def test_a_linked_subdirectory_leading_out_stops_the_plan(project: Project) -> None:
    """A sub-directory of schedules/ applied from a real directory and then replaced by a link
    to a directory outside the tree: plan exits 1 naming the link, instead of planning its
    schedules as deletes; no write is sent."""
    team = project.schedules / "team"
    team.mkdir()
    project.write("team_digest", file="team/team_digest.yaml")
    assert project.apply().exit_code == 0
    outside = project.root / "elsewhere"
    team.rename(outside)
    team.symlink_to(Path("..") / "elsewhere")
    project.mark()
    for args in (("plan",), ("apply", "--auto-approve")):
        result = project.run(*args)
        assert result.exit_code == 1, result.output
        assert "schedules/team" in result.output
        assert "delete" not in result.stdout
    assert project.writes() == []


def test_a_linked_subdirectory_inside_the_tree_is_followed(project: Project) -> None:
    """`schedules/team -> .archive/team` (inside the tree, the target itself hidden): its
    manifests are loaded like any other, so the applied schedule stays in the plan; nothing
    is deleted."""
    hidden = project.schedules / ".archive" / "team"
    hidden.mkdir(parents=True)
    project.write("team_digest", file=".archive/team/team_digest.yaml")
    (project.schedules / "team").symlink_to(Path(".archive") / "team")
    assert project.apply().exit_code == 0
    assert set(project.state_ids()) == {"team_digest"}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_link_loop_in_the_tree_ends(repo: Path) -> None:
    """`schedules/loop -> .` (a link to its own directory): validate walks each directory
    once and each manifest once (no endless walk, no duplicate-name error)."""
    os.symlink(".", repo / "schedules" / "loop")
    result = invoke(("validate",))
    assert result.exit_code == 0, result.text
    assert "1 schedule(s) in 1 file(s): valid" in result.stdout


def test_a_credential_given_as_an_option_value_is_redacted(repo: Path) -> None:
    """The AppKey pasted into the wrong option (`--data-center KEY`): click's usage error
    quotes the value, and the printed message shows `<redacted>` instead."""
    result = invoke(("--data-center", APP_KEY, "plan"), env=CREDENTIALS)
    assert result.exit_code == 1, result.text
    assert "--data-center" in result.stderr
    assert APP_KEY not in result.text
    assert "<redacted>" in result.stderr
