"""What a careless teammate does to a project: outputs written among the manifests, a tab typed
for indentation, a layer file's name misspelt. Each gets a clear error or warning, and nothing
is sent to the server on the way."""

from __future__ import annotations

import os

import pytest

from tests.e2e.helpers import Project

OUTPUTS = {
    "plan": ("plan", "--out"),
    "drift": ("drift", "--report"),
    "calendar": ("calendar", "--out"),
}


@pytest.mark.parametrize("command", list(OUTPUTS))
@pytest.mark.parametrize(
    "path", ["schedules/plan.yaml", "schedules/deep/PLAN.YML", "schedules/_saved.yml"]
)
def test_an_output_the_manifest_search_would_read_is_refused_before_any_request(
    project: Project, command: str, path: str
) -> None:
    """`plan --out schedules/plan.yaml` used to be written, and every later command then failed
    on it as a manifest (or read it as a layer file). Refused first, nothing read or written."""
    project.write("a")
    (project.schedules / "deep").mkdir()
    project.mark()
    result = project.run(*OUTPUTS[command], path)
    assert result.exit_code == 1, result.output
    assert f"to {path}: it is in the manifest directory" in result.output, result.output
    assert "would be read as a manifest" in result.output
    assert "write the output outside the manifest directory" in result.output
    assert project.emulator.request_log == []
    assert not (project.root / path).exists()
    assert project.run("plan").exit_code == 0


def test_an_output_over_a_manifest_leaves_the_manifest_as_it_was(project: Project) -> None:
    """The manifest itself, named directly or through a link outside the directory: refused,
    and the manifest file is unchanged."""
    project.write("a")
    written = project.schedules / "a.yaml"
    before = written.read_bytes()
    os.symlink(written, project.root / "saved.yaml")
    for path in ("schedules/a.yaml", "saved.yaml", "./schedules/../schedules/a.yaml"):
        result = project.run("plan", "--out", path)
        assert result.exit_code == 1, (path, result.output)
        assert "it is in the manifest directory" in result.output, result.output
    assert written.read_bytes() == before


def test_outputs_the_search_does_not_read_are_written(project: Project) -> None:
    """Other endings, and hidden names (the search leaves them out), are ordinary outputs: the
    rule refuses only what would be read as a manifest."""
    project.write("a")
    (project.schedules / ".work").mkdir()
    for path in ("schedules/plan.json", "schedules/.plan.yaml", "schedules/.work/plan.yaml"):
        result = project.run("plan", "--out", path)
        assert result.exit_code == 0, (path, result.output)
        assert (project.root / path).is_file()
    assert project.run("plan", "--detailed-exitcode").exit_code == 2  # still one create


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ("name: a\ntrigger:\n\tsingle: {}\n", 3, 1),  # a tab indenting a key
        ("name: a\ntrigger:\n  \tsingle: {}\n", 3, 3),  # spaces, then a tab
        ("name: a\npush:\n  to:\n    - 1\n\t- 2\n", 5, 1),  # a tab before a list item
    ],
)
def test_a_tab_that_indents_is_named_as_a_tab(
    project: Project, text: str, line: int, col: int
) -> None:
    """libyaml says "found character that cannot start any token", which names no character;
    a tab looks like spaces in most editors, so the error says it is one, where."""
    output = _invalid(project, text)
    assert (
        f"schedules/a.yaml:{line}:{col}: error: invalid YAML: a tab character here; YAML "
        "indents with spaces only" in output
    ), output


@pytest.mark.parametrize("char", ["@", "`"])
def test_a_value_starting_with_a_reserved_character_asks_for_quotes(
    project: Project, char: str
) -> None:
    output = _invalid(project, f"name: a\ncid: {char}team\n")
    assert (
        f"schedules/a.yaml:2:6: error: invalid YAML: a value cannot start with {char!r} (YAML "
        "reserves it): put the value in quotes" in output
    ), output


def _invalid(project: Project, text: str) -> str:
    """The output of `validate` with ``text`` as schedules/a.yaml, which it must refuse."""
    (project.schedules / "a.yaml").write_text(text, encoding="utf-8")
    result = project.run("validate")
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize("name", ["_default.yaml", "_default.yml", "_defualts.yaml"])
def test_a_misspelt_defaults_file_is_warned_of_with_the_right_name(
    project: Project, name: str
) -> None:
    """`_default.yaml` is a base file no manifest extends: its defaults applied to nothing,
    without a word. Each command that reads the directory now says so, naming the right name."""
    project.write("a")
    (project.schedules / name).write_text("push:\n  platform: all\n", encoding="utf-8")
    for command in ("validate", "plan"):
        result = project.run(command)
        assert result.exit_code == 0, result.output
        warned = [line for line in result.output.splitlines() if f"schedules/{name}" in line]
        assert len(warned) == 1, result.output
        assert (
            "warning: no manifest extends this base file, so it applies to nothing; a "
            f"directory's defaults file is named _defaults.yaml (rename {name} to it"
        ) in warned[0].replace(f"schedules/{name}: ", ""), result.output


def test_a_base_no_manifest_extends_is_warned_of_and_one_extended_is_not(
    project: Project,
) -> None:
    """A base reached directly or through another base is used; one reached by nothing is a
    warning. `validate FILE` reads some of the schedules only, and does not warn."""
    project.write("a")
    sub = project.schedules / "team"
    sub.mkdir()
    (project.schedules / "_common.yaml").write_text("enabled: true\n", encoding="utf-8")
    (sub / "_team.yaml").write_text("extends: ../_common.yaml\n", encoding="utf-8")
    (sub / "_spare.yaml").write_text("enabled: true\n", encoding="utf-8")
    text = (project.schedules / "a.yaml").read_text(encoding="utf-8")
    (sub / "b.yaml").write_text(
        "extends: _team.yaml\n" + text.replace("name: a", "name: b"), encoding="utf-8"
    )
    (project.schedules / "a.yaml").unlink()
    result = project.run("validate")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "no manifest extends" in line]
    assert warned == [
        "schedules/team/_spare.yaml: warning: no manifest extends this base file, so it "
        "applies to nothing; name it in a manifest's `extends:`, or remove it"
    ], result.output
    alone = project.run("validate", "schedules/team/b.yaml")
    assert alone.exit_code == 0, alone.output
    assert "no manifest extends" not in alone.output
    # A manifest in error may be the one whose `extends:` reaches a base: no guess then.
    (sub / "b.yaml").write_text("extends: _spare.yaml\nname: [b\n", encoding="utf-8")
    broken = project.run("validate")
    assert broken.exit_code == 1, broken.output
    assert "no manifest extends" not in broken.output, broken.output


def _column_of(line: str, word: str) -> int:
    """The terminal column where ``word`` starts in ``line`` (a wide character takes two)."""
    import unicodedata

    head = line[: line.index(word)]
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in head)


def test_tables_stay_aligned_with_chinese_names(project: Project) -> None:
    """Chinese task names take two terminal columns a character; `remote list` and `state
    list` padded them by characters, and every column after the name drifted left."""
    project.write("周报推送")
    project.write("weekly_digest_long_name")
    assert project.apply().exit_code == 0
    listed = project.run("remote", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if line.endswith("  managed")]
    assert len(rows) == 2, listed.output
    assert len({_column_of(line, "yes") for line in rows}) == 1, listed.output
    state = project.run("state", "list")
    assert state.exit_code == 0, state.output
    rows = [line for line in state.output.splitlines() if " no " in line]
    assert len(rows) == 2, state.output
    assert len({_column_of(line, " no ") for line in rows}) == 1, state.output


def test_a_second_task_of_a_managed_schedule_is_a_copy_not_a_conflict(project: Project) -> None:
    """A hand-made copy of a managed schedule: the plan says it is live more than once, while
    `remote list|show` called it a conflict and export advised `import`, which refuses a managed
    name. It is now a copy everywhere, with `remote delete` as the way out."""
    project.write("a")
    assert project.apply().exit_code == 0
    live = project.remote()["a"][0]
    copy = project.out_of_band_create({k: v for k, v in live.items() if k != "schedule_id"})
    shown = project.run("remote", "show", copy)
    assert shown.exit_code == 0, shown.output
    assert f"# {copy}: copy (a second task of the managed schedule 'a')" in shown.output
    listed = project.run("remote", "list")
    assert f"remote delete {copy}`" in listed.output, listed.output
    exported = project.run("export", "--dir", "drafts")
    assert f"{copy} ('a'): a second task of the managed schedule 'a': both fire" in (
        exported.output
    ), exported.output
    assert not (project.root / "drafts" / "a.yaml").exists()


def test_outputs_are_kept_out_of_every_environments_manifests_and_overlays(
    project: Project,
) -> None:
    """The guard knew the running environment's manifest directory only: `--env staging plan
    --out schedules/plan.yaml` (prod's directory) or `--out overlays/prod/plan.yaml` broke every
    later command of the other environment. A hard link to a manifest, and reconciler.yaml
    itself, were overwritten too."""
    (project.root / "reconciler.yaml").write_text(
        "default: prod\nenvironments:\n"
        "  prod:\n    manifests: schedules\n    state: .reconciler/prod/state.json\n"
        "    overlay: overlays/prod\n"
        "  staging:\n    manifests: staging\n    state: .reconciler/staging/state.json\n",
        encoding="utf-8",
    )
    project.write("a")
    (project.root / "staging").mkdir()
    (project.root / "overlays" / "prod").mkdir(parents=True)
    assert project.run("--env", "prod", "apply", "--auto-approve").exit_code == 0
    os.link(project.schedules / "a.yaml", project.root / "hard.json")
    before = (project.schedules / "a.yaml").read_bytes()
    project.mark()
    for path, said in [
        ("schedules/plan.yaml", "it is in the manifest directory schedules"),
        ("overlays/prod/plan.yaml", "it is in the manifest directory overlays/prod"),
        ("hard.json", "the file has another name too (a hard link)"),
        ("reconciler.yaml", "a file the reconciler keeps its state or settings in"),
        (".reconciler/prod/state.json", "a file the reconciler keeps its state or settings in"),
        (".reconciler/prod/pace.json", "a file the reconciler keeps its state or settings in"),
    ]:
        result = project.run("--env", "staging", "plan", "--out", path)
        assert result.exit_code == 1, (path, result.output)
        assert said in result.output, (path, result.output)
    assert project.emulator.request_log == []
    assert (project.schedules / "a.yaml").read_bytes() == before
    assert project.run("plan").exit_code == 0


def test_an_output_over_a_manifest_file_named_as_the_manifests_is_refused(
    project: Project,
) -> None:
    """`manifests:` may name one file; an output at that path replaced the manifest."""
    project.write("a")
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    manifests: schedules/a.yaml\n", encoding="utf-8"
    )
    before = (project.schedules / "a.yaml").read_bytes()
    result = project.run("plan", "--out", "schedules/a.yaml")
    assert result.exit_code == 1, result.output
    assert "it is in the manifest directory schedules/a.yaml" in result.output
    assert (project.schedules / "a.yaml").read_bytes() == before
