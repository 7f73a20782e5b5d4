"""``validate --explain``, ``validate --env`` with an overlay, github annotations at a default's
file, and the committed JSON Schemas of manifests, defaults and overlays."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-12-01T00:00:00+00:00"

DEFAULTS = """\
enabled: true
push:
  from: push
  to: all
  body:
    platform: all
    notification:
      alert: hello
"""
MANIFEST = """\
name: welcome
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
"""
OVERLAY = """\
welcome:
  shift: "+1d"
  push:
    to: {tag: [qa]}
"""
CONFIG = """\
environments:
  staging:
    manifests: schedules
    overlay: overlays/staging
  production:
    manifests: schedules
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """schedules/ with a defaults file and one manifest, a staging overlay, a reconciler.yaml."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("RECONCILER_"):
            monkeypatch.delenv(name)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "_defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
    (tmp_path / "schedules" / "welcome.yaml").write_text(MANIFEST, encoding="utf-8")
    (tmp_path / "overlays" / "staging").mkdir(parents=True)
    (tmp_path / "overlays" / "staging" / "p.yaml").write_text(OVERLAY, encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--now", NOW, *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_explain_prints_the_merged_body_with_origins(repo: Path) -> None:
    """`validate --explain NAME` prints each merged value with the file:line it came from; with
    --env the overlay's values and the shifted time name the overlay file."""
    code, out = run("validate", "--explain", "welcome")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (
        "# welcome: merged from schedules/_defaults.yaml, schedules/welcome.yaml (lowest first)"
    )
    assert "\n".join(lines[1:13]) == (
        "enabled: true                    # schedules/_defaults.yaml:1\n"
        "push:                            # schedules/_defaults.yaml:2\n"
        '  from: "push"                   # schedules/_defaults.yaml:3\n'
        '  to: "all"                      # schedules/_defaults.yaml:4\n'
        "  body:                          # schedules/_defaults.yaml:5\n"
        '    platform: "all"              # schedules/_defaults.yaml:6\n'
        "    notification:                # schedules/_defaults.yaml:7\n"
        '      alert: "hello"             # schedules/_defaults.yaml:8\n'
        'name: "welcome"                  # schedules/welcome.yaml:1\n'
        "trigger:                         # schedules/welcome.yaml:2\n"
        "  single:                        # schedules/welcome.yaml:3\n"
        '    time: "2027-03-01 10:00:00"  # schedules/welcome.yaml:4'
    )
    code, out = run("--env", "staging", "validate", "--explain", "welcome")
    assert code == 0, out
    assert '    time: "2027-03-02 10:00:00"  # overlays/staging/p.yaml:2 (shift)' in out
    assert "    tag:                         # overlays/staging/p.yaml:4" in out
    assert '      - "qa"                     # overlays/staging/p.yaml:4' in out


def test_explain_of_an_unknown_name_fails(repo: Path) -> None:
    """--explain with a name no valid manifest has says so and exits 1."""
    code, out = run("validate", "--explain", "nope")
    assert code == 1
    assert "# nope: no valid schedule has this name" in out


def test_validate_env_sees_the_overlay(repo: Path) -> None:
    """`validate --env staging` checks the overlaid bodies (an overlay for an unknown name is
    an error there), `--env production` and plain `validate` do not read the overlay."""
    (repo / "overlays" / "staging" / "p.yaml").write_text(
        OVERLAY + "typo:\n  enabled: false\n", encoding="utf-8"
    )
    code, out = run("--env", "staging", "validate")
    assert code == 1
    assert out.splitlines()[0] == (
        "overlays/staging/p.yaml:5:1: error: typo: no manifest has this name, so the overlay "
        "patches nothing; fix the name or remove the patch"
    )
    assert run("--env", "production", "validate")[0] == 0
    assert run("validate")[0] == 0


def test_validate_env_of_some_files_does_not_call_other_patches_unknown(repo: Path) -> None:
    """`--env staging validate FILE` reads that file only: a patch of another schedule is no
    "patches nothing" error (it was, with exit 1); without a path, it still is."""
    (repo / "schedules" / "other.yaml").write_text(
        MANIFEST.replace("welcome", "other"), encoding="utf-8"
    )
    (repo / "overlays" / "staging" / "p.yaml").write_text(
        OVERLAY + "other:\n  enabled: false\n", encoding="utf-8"
    )
    code, out = run("--env", "staging", "validate", "schedules/welcome.yaml")
    assert code == 0, out
    assert "patches nothing" not in out
    (repo / "schedules" / "other.yaml").unlink()
    code, out = run("--env", "staging", "validate")
    assert code == 1
    assert "other: no manifest has this name" in out


def _in_team(repo: Path) -> Path:
    """schedules/team/welcome.yaml (the fixture's manifest moved one directory down), with a
    base in schedules/ that it extends: everything it lacks comes from above its directory."""
    team = repo / "schedules" / "team"
    team.mkdir()
    (repo / "schedules" / "welcome.yaml").rename(team / "welcome.yaml")
    (repo / "schedules" / "_base.yaml").write_text("enabled: true\n", encoding="utf-8")
    with (team / "welcome.yaml").open("a", encoding="utf-8") as f:
        f.write("extends: ../_base.yaml\n")
    return team


@pytest.mark.parametrize("spelling", ["relative", "absolute", "directory", "dotted"])
def test_validate_of_a_file_deep_in_the_directory_takes_the_defaults_above_it(
    repo: Path, spelling: str
) -> None:
    """`validate schedules/team/welcome.yaml` judges the schedule as `plan` does, with the
    defaults of schedules/ over it and its base in schedules/ allowed (the file used to be read
    as if its own directory were the top: "missing required key 'to'" and "extends: leaves the
    manifest directory", while plain `validate` called the same file valid)."""
    team = _in_team(repo)
    named = {
        "relative": "schedules/team/welcome.yaml",
        "absolute": str(team / "welcome.yaml"),
        "directory": "schedules/team",
        "dotted": "./schedules/../schedules/team/welcome.yaml",
    }[spelling]
    assert run("validate")[0] == 0
    code, out = run("validate", named)
    assert code == 0, out
    assert out.strip() == "1 schedule(s) in 1 file(s): valid"
    # ... and a problem in those defaults is still found through the one file.
    (repo / "schedules" / "_defaults.yaml").write_text(
        DEFAULTS.replace("platform: all", "platform: windows"), encoding="utf-8"
    )
    code, out = run("validate", named)
    assert code == 1
    place, _, message = out.partition(": error: ")
    file, line, col = place.rsplit(":", 2)
    assert Path(os.path.abspath(file)) == repo / "schedules" / "_defaults.yaml", out
    assert (line, col) == ("6", "15")
    assert message.startswith("push.body.platform: 'windows' is not a platform")


def test_validate_of_a_file_outside_the_directory_reads_it_alone(repo: Path) -> None:
    """A file elsewhere takes no defaults of schedules/: its own directory is its top."""
    (repo / "drafts").mkdir()
    (repo / "drafts" / "w.yaml").write_text(MANIFEST, encoding="utf-8")
    code, out = run("validate", "drafts/w.yaml")
    assert code == 1
    assert "drafts/w.yaml:1:1: error: missing required key 'push'" in out, out


def test_validate_reads_the_default_environment_as_plan_does(repo: Path) -> None:
    """With a `default:` environment (or a single one) and no --env, `validate` reads that
    environment's manifests and overlay, the ones `plan` reads: it used to check schedules/
    and call valid what `plan` then refused."""
    (repo / "apps").mkdir()
    (repo / "apps" / "broken.yaml").write_text(
        MANIFEST.replace("welcome", "broken"), encoding="utf-8"
    )
    (repo / "reconciler.yaml").write_text(
        "environments:\n  only:\n    manifests: apps\n", encoding="utf-8"
    )
    code, out = run("validate")
    assert code == 1
    assert "apps/broken.yaml:1:1: error: missing required key 'push'" in out, out
    code, plan_out = run("--emulator", "plan")
    assert code == 1
    assert "apps/broken.yaml:1:1: error: missing required key 'push'" in plan_out
    # The fixture's two environments with a default: the default one, overlay included.
    (repo / "overlays" / "staging" / "p.yaml").write_text(
        OVERLAY + "typo:\n  enabled: false\n", encoding="utf-8"
    )
    (repo / "reconciler.yaml").write_text(CONFIG + "default: staging\n", encoding="utf-8")
    code, out = run("validate")
    assert code == 1
    assert "typo: no manifest has this name" in out
    # Two environments and no default: the manifest directory alone, as before.
    (repo / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    assert run("validate")[0] == 0


def test_github_annotation_points_at_the_defaults_file(repo: Path) -> None:
    """A wrong default annotates the defaults file's line and column, not the manifest."""
    (repo / "schedules" / "_defaults.yaml").write_text(
        DEFAULTS.replace("platform: all", "platform: windows"), encoding="utf-8"
    )
    code, out = run("validate", "--format", "github")
    assert code == 1
    assert out.splitlines()[0].startswith(
        "::error file=schedules/_defaults.yaml,line=6,col=15::push.body.platform"
    )


@pytest.mark.parametrize(
    ("kind", "file"),
    [
        ("manifest", "schedule.schema.json"),
        ("defaults", "defaults.schema.json"),
        ("overlay", "overlay.schema.json"),
    ],
)
def test_committed_layer_schemas_are_current(kind: str, file: str) -> None:
    """schedules/*.schema.json equal `reconciler schema --kind KIND` (regenerate with it)."""
    result = CliRunner().invoke(cli, ["schema", "--kind", kind])
    assert result.exit_code == 0
    assert (ROOT / "schedules" / file).read_text(encoding="utf-8") == result.output


def test_schemas_know_extends_defaults_and_overlays() -> None:
    """The manifest schema allows `extends`; the defaults schema requires nothing and has no
    `name`; the overlay schema maps names to patches with a `shift` pattern."""
    manifest = json.loads(CliRunner().invoke(cli, ["schema"]).output)
    defaults = json.loads(CliRunner().invoke(cli, ["schema", "--kind", "defaults"]).output)
    overlay = json.loads(CliRunner().invoke(cli, ["schema", "--kind", "overlay"]).output)
    assert manifest["properties"]["extends"]["type"] == "string"
    assert "name" not in defaults["properties"]
    assert "required" not in json.dumps(defaults)
    patch = overlay["additionalProperties"]
    assert "shift" in patch["properties"]
    assert "name" not in patch["properties"]
    assert "extends" not in patch["properties"]


def test_ci_matrix_validates_each_overlay(tmp_path: Path) -> None:
    """The GitHub matrix validates environments that share manifests but not their overlay
    separately (one validate of the shared directory would miss the overlay's problems)."""
    import subprocess
    import sys

    (tmp_path / "schedules").mkdir()
    (tmp_path / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / ".github" / "scripts" / "gitops.py"), "matrix"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RECONCILER_"))},
    )
    assert done.returncode == 0, done.stderr
    assert "validate=staging production" in done.stdout.splitlines()
