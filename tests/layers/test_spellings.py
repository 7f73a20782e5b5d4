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
