"""The layering's guards against what gets around them: an overlay's `shift: null`, a defaults
file that reaches `extends:` through a link, overlay keys YAML does not read as text, and a key
left empty over an inherited value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.manifests.load import load_manifests
from tests.layers.test_cli import run
from tests.layers.test_merge import DEFAULTS, MANIFEST, NOW, UTCZ, load, where, write


def times(root: Path, overlay: Path) -> dict[str, str]:
    result = load(root, overlay=overlay)
    assert result.problems == [], result.problems
    return {m.name: m.body["trigger"]["single"]["time"] for m in result.manifests}


def test_a_named_shift_replaces_or_cancels_the_star_shift(tmp_path: Path) -> None:
    """The named patch's `shift` replaces the '*' one (they do not add up), and its
    `shift: null` cancels it for that schedule only; `shift: null` in '*' is no shift."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    for name in ("a", "b", "c"):
        write(root, f"{name}.yaml", MANIFEST.format(name=name))
    overlay = tmp_path / "ov"
    write(overlay, "p.yaml", '"*":\n  shift: "+1d"\na:\n  shift: null\nb:\n  shift: "-2h"\n')
    assert times(root, overlay) == {
        "a": "2027-03-01 10:00:00",  # cancelled
        "b": "2027-03-01 08:00:00",  # its own, not +1d-2h
        "c": "2027-03-02 10:00:00",  # the star's
    }
    write(overlay, "p.yaml", '"*":\n  shift: ~\na:\n  shift: "+1h"\n')
    assert times(root, overlay) == {
        "a": "2027-03-01 11:00:00",
        "b": "2027-03-01 10:00:00",
        "c": "2027-03-01 10:00:00",
    }


def test_a_shift_that_is_not_one_is_named_as_written(tmp_path: Path) -> None:
    """A shift of another type is shown as YAML wrote it (not as Python's repr)."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    overlay = tmp_path / "ov"
    write(overlay, "p.yaml", "a:\n  shift: true\n")
    assert where(load(root, overlay=overlay), tmp_path) == [
        "ov/p.yaml:2:10: a.shift: true is not a shift; give a signed duration in days, hours "
        'and minutes, e.g. "+1d", "-2h", "+1d12h30m" (or null: no shift)'
    ]


BASE_EXTENDING = "extends: _common.yaml\npush:\n  body:\n    notification:\n      alert: base\n"
EXTENDS_REFUSED = (
    "extends: a defaults file applies to its whole directory and cannot extend a base{}; put "
    "`extends:` into the manifests"
)


@pytest.mark.parametrize(
    ("link", "defaults", "through"),
    [
        # read as a base first (`_base` sorts before `_defaults`), then as the defaults
        ("symbolic", "_defaults.yaml", " (a link to _base.yaml)"),
        ("chain", "_defaults.yaml", " (a link to _base.yaml)"),
        ("hard", "_defaults.yaml", ""),
        ("symbolic", "sub/_defaults.yaml", " (a link to ../_base.yaml)"),
        ("symbolic", "_defaults.yml", " (a link to _base.yaml)"),
    ],
)
def test_a_defaults_file_linked_to_a_base_may_not_extend(
    tmp_path: Path, link: str, defaults: str, through: str
) -> None:
    """A `_defaults.yaml` whose text is a base's holding `extends:` (a symbolic link, a chain
    of them, a hard link, from a sub-directory) is the documented error at the defaults file's
    `extends:`, and nothing under it is loaded; the base itself stays usable by `extends`."""
    root = tmp_path / "s"
    write(root, "_common.yaml", DEFAULTS)
    base = write(root, "_base.yaml", BASE_EXTENDING)
    write(root, "a.yaml", "extends: _common.yaml\n" + MANIFEST.format(name="a"))
    write(root, "sub/b.yaml", MANIFEST.format(name="b"))
    write(root, "c.yaml", "extends: _base.yaml\n" + MANIFEST.format(name="c"))
    target = root / defaults
    target.parent.mkdir(parents=True, exist_ok=True)
    if link == "hard":
        os.link(base, target)
    elif link == "chain":
        (root / "_middle.yaml").symlink_to("_base.yaml")
        target.symlink_to("_middle.yaml")
    else:
        target.symlink_to(os.path.relpath(base, target.parent))
    result = load(root)
    assert where(result, tmp_path) == [f"s/{defaults}:1:1: {EXTENDS_REFUSED.format(through)}"]
    loaded = sorted(m.name for m in result.manifests)
    assert loaded == (["a", "c"] if defaults.startswith("sub/") else [])
    # validate names the file itself too (its defaults apply from the directory down)
    if defaults.startswith("sub/"):
        alone = load_manifests([root / "sub" / "b.yaml"], now=NOW, tz=UTCZ, home=root)
        assert [p.path for p in alone.problems] == [(root / defaults).as_posix()]


def test_a_defaults_file_merging_extends_in_is_refused(tmp_path: Path) -> None:
    """`extends` brought into a defaults file by a YAML merge key is `extends` all the same."""
    root = tmp_path / "s"
    write(root, "_common.yaml", DEFAULTS)
    write(root, "_defaults.yaml", "enabled: true\n<<: {extends: _common.yaml}\n")
    write(root, "a.yaml", MANIFEST.format(name="a"))
    result = load(root)
    assert where(result, tmp_path) == [f"s/_defaults.yaml:1:1: {EXTENDS_REFUSED.format('')}"]
    assert result.manifests == []


@pytest.mark.parametrize(
    ("key", "read"),
    [
        ("2027", "the number 2027"),
        ("true", "the boolean true"),
        ("1.50", "the number 1.5"),
        ("0x1F", "the number 31"),
        ("null", "null (no value)"),
        ("~", "null (no value)"),
    ],
)
def test_an_overlay_key_that_is_not_text_is_named_where_it_is(
    tmp_path: Path, key: str, read: str
) -> None:
    """A schedule name YAML reads as a number, a boolean or null is an error at that key (not
    at the file's first line), saying what YAML read and quoting the key as written."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    overlay = tmp_path / "ov"
    write(overlay, "p.yaml", f"a:\n  enabled: false\n  {key}: x\n{key}:\n  enabled: false\n")
    assert where(load(root, overlay=overlay), tmp_path) == [
        f"ov/p.yaml:3:3: a: key {key} must be text, but YAML reads it as {read}; quote it: "
        f'"{key}":',
        f'ov/p.yaml:4:1: key {key} must be text, but YAML reads it as {read}; quote it: "{key}":',
    ]


def test_keys_one_and_true_are_two_keys(tmp_path: Path) -> None:
    """`1:` and `true:` in one mapping are two keys that are not text (not a duplicate key, as
    Python's 1 == True would have it), each named at its place in the manifest."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a") + "lifecycle: {1: x, true: y}\n")
    assert where(load(root), tmp_path) == [
        "s/a.yaml:6:13: lifecycle: key 1 must be text, but YAML reads it as the number 1; quote "
        'it: "1":',
        "s/a.yaml:6:19: lifecycle: key true must be text, but YAML reads it as the boolean true; "
        'quote it: "true":',
    ]


EMPTIED = (
    "{path}: nothing is written after the key, so it is null and removes the value inherited "
    "from {files}; write `null` if that is meant, or remove the key"
)


def test_a_key_left_empty_over_an_inherited_value_is_a_warning(tmp_path: Path) -> None:
    """`options:` with nothing after it is null and removes the defaults' options as a written
    `null` does, but it is a warning at the key, naming the file the value came from; a written
    `null`, `~` or `!!null` stays silent, and so does an empty key with nothing under it."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    body = "push:\n  body:\n    options:{}\n    notification:\n      alert:{}\n"
    write(root, "a.yaml", MANIFEST.format(name="a") + body.format("", " x"))
    write(root, "b.yaml", MANIFEST.format(name="b") + body.format(" null", " ~"))
    write(root, "c.yaml", MANIFEST.format(name="c") + body.format(" !!null", " x"))
    write(root, "d.yaml", MANIFEST.format(name="d") + "push:\n  body: {options}\n")
    nothing_below = (
        "push:\n  to: {tag: [x], tag_and: }\n  body:\n    options:\n      big_push_duration:\n"
    )
    write(root, "e.yaml", MANIFEST.format(name="e") + nothing_below)
    result = load(root)
    assert where(result, tmp_path) == [
        "s/a.yaml:8:5: "
        + EMPTIED.format(path="push.body.options", files=(root / "_defaults.yaml").as_posix()),
        "s/d.yaml:7:10: "
        + EMPTIED.format(path="push.body.options", files=(root / "_defaults.yaml").as_posix()),
    ]
    assert [p.severity for p in result.problems] == ["warning", "warning"]
    bodies = {m.name: m.body for m in result.manifests}
    for name in "abcd":  # removed all the same
        assert "options" not in bodies[name]["push"]["body"], name
    assert bodies["e"]["push"]["to"] == {"tag": ["x"]}


def test_an_empty_key_in_a_layer_is_warned_once_at_the_layer(tmp_path: Path) -> None:
    """A sub-directory's defaults, a base and an overlay's '*' patch leaving a key empty over a
    value below are each one warning at their own key, however many schedules they are under,
    naming every file whose value they remove; a named patch's empty `shift:` cancelling the
    '*' shift is one too."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "sub/_defaults.yaml", "push:\n  body:\n    options:\n")
    write(root, "sub/a.yaml", MANIFEST.format(name="a"))
    write(root, "sub/b.yaml", MANIFEST.format(name="b"))
    write(root, "_base.yaml", "push:\n  body:\n    notification:\n")
    write(root, "c.yaml", "extends: _base.yaml\n" + MANIFEST.format(name="c"))
    write(
        root,
        "d.yaml",
        MANIFEST.format(name="d") + "push:\n  body:\n    options: {big_push_duration: 1}\n",
    )
    result = load(root)
    top = (root / "_defaults.yaml").as_posix()
    assert where(result, tmp_path) == [
        "s/_base.yaml:2:3: push.body: needs one of notification, message, live_activity or voip "
        "(docs/api.md 5)",
        "s/_base.yaml:3:5: " + EMPTIED.format(path="push.body.notification", files=top),
        "s/sub/_defaults.yaml:3:5: " + EMPTIED.format(path="push.body.options", files=top),
    ]
    overlay = tmp_path / "ov"
    write(
        overlay,
        "p.yaml",
        '"*":\n  shift: "+1d"\n  push:\n    body:\n      options:\nd:\n  shift:\n',
    )
    (root / "_base.yaml").unlink()
    (root / "c.yaml").unlink()
    result = load(root, overlay=overlay)
    files = f"{top}, {(root / 'd.yaml').as_posix()}"
    assert where(result, tmp_path) == [
        "s/sub/_defaults.yaml:3:5: " + EMPTIED.format(path="push.body.options", files=top),
        "ov/p.yaml:5:7: " + EMPTIED.format(path="push.body.options", files=files),
        "ov/p.yaml:7:3: d.shift: nothing is written after the key, so it is null and cancels "
        f"the shift of the '*' patch at {overlay.as_posix()}/p.yaml:2; write `null` if that is "
        "meant, or remove the key",
    ]


def test_validate_warns_of_an_empty_key_and_strict_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the command line: `validate` exits 0 with the warning, `--strict` exits 1 with it
    as an error."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("RECONCILER_", "ENGAGELAB_")):
            monkeypatch.delenv(name)
    write(tmp_path, "schedules/_defaults.yaml", DEFAULTS)
    write(
        tmp_path, "schedules/a.yaml", MANIFEST.format(name="a") + "push:\n  body:\n    options:\n"
    )
    warning = "schedules/a.yaml:8:5: warning: " + EMPTIED.format(
        path="push.body.options", files="schedules/_defaults.yaml"
    )
    code, out = run("validate")
    assert (code, out.splitlines()[0]) == (0, warning), out
    code, out = run("validate", "--strict")
    assert code == 1, out
    assert out.splitlines()[0] == warning.replace(" warning: ", " error: ") + " (--strict)"
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("value", "col", "shown"),
    [("", 9, "nothing (null)"), (" 5", 10, "the number 5"), (' ""', 10, "''")],
)
def test_an_extends_that_is_no_file_name_is_named_as_written(
    tmp_path: Path, value: str, col: int, shown: str
) -> None:
    """`extends:` left empty, or given a number, is an error at the value naming it as YAML
    read it (not as Python's None)."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", f"extends:{value}\n" + MANIFEST.format(name="a"))
    assert where(load(root), tmp_path) == [
        f"s/a.yaml:1:{col}: extends: {shown} is not a file name; give the base file's path "
        "relative to this file"
    ]
