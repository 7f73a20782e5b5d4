"""Probe: a pull request's manifests and reconciler.yaml quoted in the tool's messages (in the
pull request's plan job): YAML tags, whose %XX escapes YAML reads as characters, and words of
reconciler.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.badinput.helpers import VALID_MANIFEST
from tests.e2e.helpers import Project

TAGGED = {
    "value": ("alert: Hello", "alert: !x%0A::error%20title=forged::TAG%1B%5D0%3Bt%07%E2%80%8B x"),
    "mapping": ("notification:", "notification: !m%0A::error::MAPTAG"),
    "key": ("alert: Hello", "alert: Hello\n      !k%0D::error::KEYTAG k: 1"),
    "name": ("name: weekly_digest", "name: !n%E2%80%A8::error::NAMETAG weekly_digest"),
}


def _clean(output: str) -> None:
    """No workflow command but the tool's own annotations (``::error file=...``), each one
    line, and no raw control or unseen character."""
    lines = output.splitlines()
    commands = [line for line in lines if line.lstrip().startswith("::")]
    assert all(line.startswith(("::error file=", "::warning file=")) for line in commands), output
    assert not set("\x1b\x07\r\u2028\u200b") & set(output), output


@pytest.mark.parametrize("where", sorted(TAGGED))
@pytest.mark.parametrize(
    "command",
    [["validate"], ["validate", "--format", "github"], ["plan"], ["validate", "--format", "json"]],
)
def test_a_yaml_tag_is_quoted_spelled_out(project: Project, where: str, command: list[str]) -> None:
    """A tag's %XX escapes are read as characters: `!x%0A::error::...` put a workflow command
    on a line of its own in the message that names the tag (and an annotation's line break,
    ESC, BEL and zero-width space raw with `--format github`)."""
    old, new = TAGGED[where]
    project.schedules.joinpath("promo.yaml").write_text(
        VALID_MANIFEST.replace(old, new, 1), encoding="utf-8"
    )
    result = project.run(*command)
    assert result.exit_code == 1, result.output
    assert "tag" in result.output
    _clean(result.output)
    if command == ["validate", "--format", "github"]:
        assert result.output.startswith("::error file=schedules/promo.yaml"), result.output


def test_a_tagged_layer_file_is_quoted_spelled_out(project: Project) -> None:
    (project.schedules / "_defaults.yaml").write_text(
        "push:\n  body:\n    options: !d%0A::error::DEFAULTS {time_to_live: 1}\n",
        encoding="utf-8",
    )
    project.write("promo")
    result = project.run("validate")
    assert result.exit_code == 1, result.output
    _clean(result.output)


@pytest.mark.parametrize(
    "config",
    [
        'default: "x\\n::error::DEF\\e"\nenvironments:\n  default: {}\n',
        'environments:\n  default:\n    manifests: "sch\\n::error::MAN\\e"\n',
    ],
    ids=["default", "manifests"],
)
@pytest.mark.parametrize("fmt", ["text", "github"])
def test_reconciler_yaml_words_are_quoted_spelled_out(
    project: Project, config: str, fmt: str
) -> None:
    """`default:` naming no environment, and a `manifests:` path that does not exist, were
    quoted raw: the value's line break started a workflow command, and its ESC reached the
    log (inside the annotation's file property too, with `--format github`)."""
    path = project.root / "reconciler.yaml"
    path.write_text(config, encoding="utf-8")
    project.write("promo")
    result = project.run("--config", str(path), "validate", "--format", fmt)
    assert result.exit_code == 1, result.output
    _clean(result.output)


def test_the_bindings_table_spells_other_blanks(tmp_path: Path) -> None:
    """The step summary's bindings table: an id "1001" with a no-break space after it read as
    "changed (was 1001)" from "1001", and a name with an ideographic space as "promo"."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".github" / "scripts"))
    try:
        import gitops  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    table = gitops.bindings_table(
        {"entries": {"promo": {"schedule_id": "1001\u00a0"}, "promo\u3000": {"schedule_id": "1"}}},
        {"entries": {"promo": {"schedule_id": "1001"}}},
    )
    assert "`1001\\xa0`" in table
    assert "`promo\\u3000`" in table
    assert not set("\u00a0\u3000") & set(table)


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "with-a-bad-file"])
@pytest.mark.parametrize("command", [["validate"], ["plan"]])
def test_a_manifest_path_starting_with_two_colons_starts_no_line(
    project: Project, exists: bool, command: list[str]
) -> None:
    """A problem's line starts with its path: a `manifests:` directory named
    `::error title=pwn::owned` made it a workflow command. Such a path is shown with "./"."""
    path = project.root / "reconciler.yaml"
    path.write_text(
        "environments:\n  default:\n    manifests: '::error title=pwn::owned'\n"
        "    state: .reconciler/state.json\n",
        encoding="utf-8",
    )
    if exists:
        (project.root / "::error title=pwn::owned").mkdir()
        (project.root / "::error title=pwn::owned" / "x.yaml").write_text("name: [\n")
    result = project.run(*command)
    assert result.exit_code == 1, result.output
    assert "./::error title=pwn::owned" in result.output, result.output
    _clean(result.output)
