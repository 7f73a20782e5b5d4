"""Other spellings of the same file: a base that is a link to a defaults file, a manifest named
through a linked directory, links out of the manifest directory named on the command line, a
defaults file that cannot be used. `validate` of a file or directory says what `plan` of the
whole manifest directory says about it, and nothing outside the manifest directory is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.layers.test_cli import DEFAULTS, MANIFEST, run

OUTSIDE = (
    "is a symbolic link to a {kind} outside schedules; manifests are read only inside the "
    "manifest directory (copy it in, or point `manifests:` at the directory that holds it)"
)
# Text that must never be printed: it lies outside the manifest directory.
SECRET = "name: leaked\nenabled: SECRET-VALUE\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """schedules/ with a defaults file, a base, and schedules/team/welcome.yaml extending the
    base from one directory up: valid only with the defaults and the base of schedules/."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("RECONCILER_", "ENGAGELAB_")):
            monkeypatch.delenv(name)
    write(tmp_path, "schedules/_defaults.yaml", DEFAULTS)
    write(tmp_path, "schedules/_base.yaml", "enabled: true\n")
    write(tmp_path, "schedules/team/welcome.yaml", MANIFEST + "extends: ../_base.yaml\n")
    return tmp_path


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def plan() -> tuple[int, str]:
    return run("--emulator", "plan")


def errors(out: str) -> list[str]:
    return [line for line in out.splitlines() if ": error: " in line]


@pytest.mark.parametrize(
    ("link", "extends", "through"),
    [
        ("schedules/_shared.yaml", "../_shared.yaml", "_defaults.yaml"),
        ("schedules/team/_shared.yaml", "_shared.yaml", "../_defaults.yaml"),
        ("chain", "_shared.yaml", "../_defaults.yaml"),
    ],
)
def test_a_base_linked_to_a_defaults_file_is_refused_as_the_defaults_file_is(
    repo: Path, link: str, extends: str, through: str
) -> None:
    """`extends: _shared.yaml`, a symbolic link (or a chain of them) to a `_defaults.yaml`, is
    the error `extends: _defaults.yaml` is, at the `extends:` value, naming the file it leads
    to, in `validate` and in `plan` alike (it was used as a base)."""
    team = repo / "schedules" / "team"
    if link == "chain":
        (team / "_middle.yaml").symlink_to("../_defaults.yaml")
        (team / "_shared.yaml").symlink_to("_middle.yaml")
    else:
        target = repo / link
        target.symlink_to(os.path.relpath(repo / "schedules" / "_defaults.yaml", target.parent))
    write(repo, "schedules/team/welcome.yaml", MANIFEST + f"extends: {extends}\n")
    expected = [
        f"schedules/team/welcome.yaml:6:10: error: extends: {extends!r} is a defaults file "
        f"(a link to {through}); it applies by directory, not by `extends`"
    ]
    code, out = run("validate")
    assert (code, errors(out)) == (1, expected), out
    code, out = run("validate", "schedules/team/welcome.yaml")
    assert (code, errors(out)) == (1, expected), out
    code, out = plan()
    assert (code, errors(out)) == (1, expected), out
    # the direct spelling, as it was
    write(repo, "schedules/team/welcome.yaml", MANIFEST + "extends: ../_defaults.yaml\n")
    code, out = run("validate")
    assert (code, errors(out)) == (
        1,
        [
            "schedules/team/welcome.yaml:6:10: error: extends: '../_defaults.yaml' is a "
            "defaults file; it applies by directory, not by `extends`"
        ],
    ), out


@pytest.mark.parametrize(
    "named",
    [
        "alias/welcome.yaml",  # a link beside schedules/ to schedules/team
        "alias",
        "alias/",
        "./alias/./welcome.yaml",
        "schedules/x/alias/welcome.yaml",  # a link inside schedules/, one level deeper
        "schedules/x/alias",
        "schedules/team/../x/alias/welcome.yaml",
    ],
)
def test_validate_through_a_linked_directory_judges_the_file_where_it_is(
    repo: Path, named: str
) -> None:
    """A manifest named through a symbolic link to its directory takes the defaults and bases
    of its real place in schedules/, as `plan` reads it, and is named there (it was read with
    the link's directory as the top: "extends leads outside", or "no such file" for the base,
    where `plan` called it valid)."""
    (repo / "alias").symlink_to("schedules/team")
    (repo / "schedules" / "x").mkdir()
    (repo / "schedules" / "x" / "alias").symlink_to("../team")
    assert plan()[0] == 0
    code, out = run("validate", named)
    assert (code, out.strip()) == (0, "1 schedule(s) in 1 file(s): valid"), out
    # A problem of the file is where `plan` puts it.
    write(repo, "schedules/team/welcome.yaml", MANIFEST.replace("zone_type: 1", "zone_type: 9"))
    code, plan_out = plan()
    code, out = run("validate", named)
    assert code == 1
    assert errors(out) == errors(plan_out) != [], out
    assert errors(out)[0].startswith("schedules/team/welcome.yaml:5:16: error: ")


def test_validate_of_a_sub_directory_follows_links_that_stay_in_schedules(repo: Path) -> None:
    """`validate schedules/team` follows a link in it to another directory of schedules/, as
    `plan` does (it called the link an error: "outside schedules/team")."""
    write(repo, "schedules/common/other.yaml", MANIFEST.replace("welcome", "other"))
    (repo / "schedules" / "team" / "shared").symlink_to("../common")
    assert plan()[0] == 0
    code, out = run("validate", "schedules/team")
    assert (code, out.strip()) == (0, "2 schedule(s) in 2 file(s): valid"), out
    # a link out of schedules/ is the walk's error, named as `plan` names it
    (repo / "elsewhere").mkdir()
    (repo / "schedules" / "team" / "away").symlink_to("../../elsewhere")
    code, out = run("validate", "schedules/team")
    assert (code, errors(out)) == (
        1,
        ["schedules/team/away: error: " + OUTSIDE.format(kind="directory")],
    ), out


@pytest.mark.parametrize(
    ("link", "named", "shown", "kind"),
    [
        ("schedules/o.yaml", "schedules/o.yaml", "schedules/o.yaml", "file"),
        ("schedules/team/o.yaml", "alias/o.yaml", "schedules/team/o.yaml", "file"),
        ("schedules/ext", "schedules/ext", "schedules/ext", "directory"),
        ("schedules/ext", "schedules/ext/", "schedules/ext", "directory"),
        ("schedules/ext", "schedules/ext/o.yaml", "schedules/ext", "directory"),
        ("schedules/team/ext", "alias/ext/o.yaml", "schedules/team/ext", "directory"),
    ],
)
def test_a_link_out_of_schedules_named_on_the_command_line_is_plans_error(
    repo: Path, link: str, named: str, shown: str, kind: str
) -> None:
    """A link in schedules/ to a file or directory outside it is an error in `plan`; named to
    `validate` (or a path through it), it is the same error, and the file outside is not read
    (it was: "valid", or its text in the messages)."""
    write(repo, "outside/o.yaml", SECRET)
    (repo / "alias").symlink_to("schedules/team")
    target = repo / "outside" / ("o.yaml" if kind == "file" else "")
    (repo / link).symlink_to(os.path.relpath(target, (repo / link).parent))
    code, plan_out = plan()
    assert code == 1
    assert f"{shown}: error: " + OUTSIDE.format(kind=kind) in errors(plan_out), plan_out
    code, out = run("validate", named)
    assert (code, errors(out)) == (1, [f"{shown}: error: " + OUTSIDE.format(kind=kind)]), out
    assert "SECRET" not in out
    assert "leaked" not in out


@pytest.mark.parametrize("how", ["outside", "broken", "fifo"])
def test_a_defaults_file_that_cannot_be_used_stops_validate_of_one_file_too(
    repo: Path, how: str
) -> None:
    """A `_defaults.yaml` over the named file that is a link out of schedules/, a link to
    nothing or not a regular file is an error of `validate FILE` as of `plan` (the manifest was
    dropped silently: "0 schedule(s) in 1 file(s): valid", or read without those defaults)."""
    defaults = repo / "schedules" / "team" / "_defaults.yaml"
    if how == "outside":
        write(repo, "outside/d.yaml", SECRET.replace("name: leaked\n", ""))
        defaults.symlink_to("../../outside/d.yaml")
    elif how == "broken":
        defaults.symlink_to("nothing.yaml")
    else:
        os.mkfifo(defaults)
    code, plan_out = plan()
    assert code == 1
    (expected,) = [e for e in errors(plan_out) if e.startswith("schedules/team/_defaults.yaml")]
    for named in ("schedules/team/welcome.yaml", "schedules/team", "alias/welcome.yaml"):
        if not (repo / "alias").exists():
            (repo / "alias").symlink_to("schedules/team")
        code, out = run("validate", named)
        assert (code, errors(out)) == (1, [expected]), (named, out)
        assert "SECRET" not in out


def test_a_problem_in_a_linked_directory_is_named_once_where_it_is(repo: Path) -> None:
    """A broken link in schedules/team, reached by the search through `schedules/a/alias ->
    ../team` as well (the link sorts first), is one error at its real place, in `plan` and in
    `validate` of either spelling (it was two, one at `schedules/a/alias/_defaults.yaml`)."""
    (repo / "schedules" / "a").mkdir()
    (repo / "schedules" / "a" / "alias").symlink_to("../team")
    (repo / "schedules" / "team" / "_defaults.yaml").symlink_to("nothing.yaml")
    expected = [
        "schedules/team/_defaults.yaml: error: is a symbolic link to nothing (its target does "
        "not exist)"
    ]
    for command in (("--emulator", "plan"), ("validate",), ("validate", "schedules/a/alias")):
        code, out = run(*command)
        assert (code, errors(out)) == (1, expected), (command, out)


@pytest.mark.parametrize("name", ["_Defaults.yaml", "_DEFAULTS.yml"])
def test_a_defaults_file_named_in_another_case_is_an_error_on_every_system(
    repo: Path, name: str
) -> None:
    """`_Defaults.yaml` is the directory's defaults file on a case-insensitive file system
    (macOS, Windows: `_defaults.yaml` opens it) and a base no manifest extends elsewhere
    (Linux): the same files planned on a laptop and in CI would differ. It is an error at the
    file on every system, in `plan` and `validate` of the whole directory or of one file."""
    write(repo, f"schedules/team/{name}", "enabled: true\n")
    expected = [
        f"schedules/team/{name}: error: a defaults file is named _defaults.yaml or "
        "_defaults.yml, in lower case: this name is one on some file systems and not on others; "
        "rename it"
    ]
    for command in (("--emulator", "plan"), ("validate",), ("validate", "alias/welcome.yaml")):
        if not (repo / "alias").exists():
            (repo / "alias").symlink_to("schedules/team")
        code, out = run(*command)
        assert (code, errors(out)) == (1, expected), (command, out)


def test_a_base_reached_through_a_link_reads_its_own_extends_where_it_is(repo: Path) -> None:
    """A base's own `extends:` is relative to where the base really is, however a manifest
    reaches it: `schedules/a/b/_b.yaml` says `extends: ../_c.yaml` (schedules/a/_c.yaml), and
    one manifest reaches it through `lnk -> a/b`. Which spelling was read first decided where
    `../_c.yaml` was looked for, so `plan` called the directory valid and `validate` of the
    one manifest said "no such file"."""
    write(repo, "schedules/a/_c.yaml", "enabled: true\n")
    write(repo, "schedules/a/b/_b.yaml", "extends: ../_c.yaml\n")
    (repo / "schedules" / "lnk").symlink_to("a/b")
    write(repo, "schedules/a/b/m2.yaml", MANIFEST.replace("welcome", "m2") + "extends: _b.yaml\n")
    write(repo, "schedules/m1.yaml", MANIFEST.replace("welcome", "m1") + "extends: lnk/_b.yaml\n")
    assert plan()[0] == 0
    for named in ((), ("schedules/m1.yaml",), ("schedules/a/b/m2.yaml",)):
        code, out = run("validate", *named)
        assert code == 0, (named, out)
    # and a problem of the base is at the base's real place, whichever manifest found it
    write(repo, "schedules/a/b/_b.yaml", "extends: ../_c.yaml\nenabled: maybe\n")
    expected = "schedules/a/b/_b.yaml:2:10: error: enabled: must be true or false, got 'maybe'"
    for named in ((), ("schedules/m1.yaml",)):
        code, out = run("validate", *named)
        assert (code, errors(out)) == (1, [expected]), (named, out)


def test_a_path_through_a_link_out_of_schedules_and_dotdot_is_the_links_error(
    repo: Path,
) -> None:
    """`schedules/deep/../x.yaml`, where `deep` links out of schedules/, is the file beside the
    link's target, as the system reads the path: it starts in schedules/ and leaves it through
    the link `plan` refuses, so it is that error (its spelling, shortened, is in schedules/, and
    did not say where the file is)."""
    (repo / "outside" / "deep").mkdir(parents=True)
    write(repo, "outside/x.yaml", SECRET)
    (repo / "schedules" / "deep").symlink_to("../outside/deep")
    code, out = run("validate", "schedules/deep/../x.yaml")
    assert (code, errors(out)) == (
        1,
        ["schedules/deep: error: " + OUTSIDE.format(kind="directory")],
    ), out
    assert "SECRET" not in out
