"""Shared defaults, ``extends`` bases and overlays: the merge, and where problems are reported."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler import redact
from reconciler.manifests.layers import merge
from reconciler.manifests.load import ManifestSet, load_manifests
from reconciler.manifests.overlays import parse_shift

NOW = datetime(2026, 12, 1, tzinfo=UTC)
UTCZ = ZoneInfo("UTC")

DEFAULTS = """\
enabled: true
push:
  from: push
  to: all
  body:
    platform: all
    notification:
      alert: from the root
    options:
      time_to_live: 60
"""

MANIFEST = """\
name: {name}
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(*paths: Path, overlay: Path | None = None) -> ManifestSet:
    return load_manifests(list(paths), now=NOW, tz=UTCZ, overlay=overlay)


def where(result: ManifestSet, root: Path) -> list[str]:
    """Each problem as ``file:line:col: message`` with the file relative to ``root``."""
    out = []
    for p in result.problems:
        path = Path(p.path)
        shown = path.relative_to(root).as_posix() if path.is_absolute() else p.path
        out.append(f"{shown}:{p.line}:{p.col}: {p.message}")
    return out


def test_merge_maps_merged_lists_replaced_null_removes() -> None:
    """Mappings merge key by key, a list replaces the list below it, null takes a value away."""
    low = {"a": {"x": 1, "y": [1, 2, 3]}, "b": 1, "c": {"k": 1}}
    high = {"a": {"y": [9], "z": 2}, "c": None, "d": None}
    assert merge(low, high) == {"a": {"x": 1, "y": [9], "z": 2}, "b": 1, "d": None}
    assert low == {"a": {"x": 1, "y": [1, 2, 3]}, "b": 1, "c": {"k": 1}}  # not mutated


def test_nearest_defaults_win_and_the_manifest_wins_over_all(tmp_path: Path) -> None:
    """A manifest in sub/ gets the root's defaults, sub/'s defaults over them, and its own
    values over both; a manifest at the root gets only the root's."""
    root = tmp_path / "schedules"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "sub/_defaults.yaml", "push:\n  body:\n    notification:\n      alert: sub\n")
    write(root, "top.yaml", MANIFEST.format(name="top"))
    write(
        root,
        "sub/deep.yaml",
        MANIFEST.format(name="deep") + "push:\n  body:\n    options:\n      time_to_live: 5\n",
    )
    write(root, "sub/plain.yaml", MANIFEST.format(name="plain"))
    result = load(root)
    assert result.problems == []
    bodies = {m.name: m.body for m in result.manifests}
    assert bodies["top"]["push"]["body"]["notification"]["alert"] == "from the root"
    assert bodies["plain"]["push"]["body"]["notification"]["alert"] == "sub"
    assert bodies["deep"]["push"]["body"]["notification"]["alert"] == "sub"
    assert bodies["deep"]["push"]["body"]["options"] == {"time_to_live": 5}
    assert bodies["plain"]["push"]["body"]["options"] == {"time_to_live": 60}
    assert result.files == 3  # the defaults files are not schedules


def test_a_list_in_the_manifest_replaces_the_default_list(tmp_path: Path) -> None:
    """Lists are replaced, never concatenated: the manifest's audience is the whole audience."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS.replace("to: all", "to:\n    tag: [a, b, c]"))
    write(root, "x.yaml", MANIFEST.format(name="x") + "push:\n  to:\n    tag: [z]\n")
    result = load(root)
    assert result.problems == []
    assert result.manifests[0].body["push"]["to"] == {"tag": ["z"]}


def test_error_in_a_default_points_at_the_defaults_file(tmp_path: Path) -> None:
    """A wrong value written in _defaults.yaml is reported at that file's line and column, once,
    however many manifests inherit it; the manifests' own files are not blamed."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS.replace("time_to_live: 60", "time_to_live: -5"))
    write(root, "a.yaml", MANIFEST.format(name="a"))
    write(root, "b.yaml", MANIFEST.format(name="b"))
    result = load(root)
    assert where(result, tmp_path) == [
        "s/_defaults.yaml:10:21: push.body.options.time_to_live: must be at "
        "least 0, got the number -5"
    ]


def test_error_in_the_manifest_points_at_the_manifest(tmp_path: Path) -> None:
    """A wrong value in the manifest, merged over good defaults, is reported in the manifest."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a").replace("zone_type: 1", "zone_type: 7"))
    result = load(root)
    [problem] = result.problems
    assert (problem.path, problem.line, problem.col) == (f"{root.as_posix()}/a.yaml", 5, 16)
    assert problem.message.startswith("trigger.single.zone_type")


def test_missing_key_points_at_the_manifest_root(tmp_path: Path) -> None:
    """A key neither the defaults nor the manifest give is reported at the manifest."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", "enabled: true\n")
    write(root, "a.yaml", MANIFEST.format(name="a"))
    result = load(root)
    [problem] = result.problems
    assert (problem.path, problem.line, problem.col) == (f"{root.as_posix()}/a.yaml", 1, 1)
    assert "push" in problem.message


def test_a_defaults_file_may_not_name_a_schedule(tmp_path: Path) -> None:
    """A `_`-file with `name:` is an error, not a silently dropped schedule."""
    root = tmp_path / "s"
    write(root, "_old.yaml", "name: old\nenabled: true\n")
    result = load(root)
    [problem] = result.problems
    assert (problem.path, problem.line, problem.col) == (f"{root.as_posix()}/_old.yaml", 1, 1)
    assert "rename the file" in problem.message


def test_extends_merges_a_base_between_defaults_and_manifest(tmp_path: Path) -> None:
    """`extends` puts the base over the directory defaults and under the manifest; an error in
    the base is reported at the base file."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "_promo.yaml", "push:\n  body:\n    notification:\n      alert: promo\n")
    write(root, "a.yaml", "extends: _promo.yaml\n" + MANIFEST.format(name="a"))
    result = load(root)
    assert result.problems == []
    assert result.manifests[0].body["push"]["body"]["notification"]["alert"] == "promo"
    assert "extends" not in result.manifests[0].body

    write(root, "_promo.yaml", "push:\n  body:\n    platform: windows\n")
    [problem] = load(root).problems
    assert (problem.path, problem.line, problem.col) == (f"{root.as_posix()}/_promo.yaml", 3, 15)


@pytest.mark.parametrize(
    ("target", "files", "expected", "at"),
    [
        (
            "_a.yaml",
            {"_a.yaml": "extends: _b.yaml\n", "_b.yaml": "extends: _a.yaml\n"},
            "extends: '_a.yaml' extends, directly or through other bases, the file that names it",
            "_b.yaml:1:10",  # where the cycle closes
        ),
        (
            "../outside/_x.yaml",
            {},
            "extends: '../outside/_x.yaml' leads outside the manifest directory",
            "m.yaml:1:10",
        ),
        (
            "_self.yaml",
            {"_self.yaml": "extends: _self.yaml\n"},
            "extends: '_self.yaml' extends, directly or through other bases",
            "_self.yaml:1:10",
        ),
        ("other.yaml", {"other.yaml": "x: 1\n"}, "is not a base file", "m.yaml:1:10"),
        ("_nothing.yaml", {}, "extends: '_nothing.yaml': no such file", "m.yaml:1:10"),
        (
            "_defaults.yaml",
            {"_defaults.yaml": "enabled: true\n"},
            "is a defaults file",
            "m.yaml:1:10",
        ),
        # These two escaped as ValueError (embedded null byte) and OSError (File name too
        # long) from the path functions, a traceback from validate and plan.
        (
            '"_a\\0.yaml"',
            {},
            "extends: '_a\\x00.yaml' holds a NUL character, which no file name can",
            "m.yaml:1:10",
        ),
        (
            "_" + "a" * 5000 + ".yaml",
            {},
            "...' cannot be used: File name too long; give a shorter name",  # shown clipped
            "m.yaml:1:10",
        ),
    ],
    ids=["cycle", "escape", "self", "schedule-as-base", "missing", "defaults", "nul", "too-long"],
)
def test_extends_cycles_escapes_and_non_bases_are_refused(
    tmp_path: Path, target: str, files: dict[str, str], expected: str, at: str
) -> None:
    """A cycle, a path leading out of the manifest directory, a schedule file, a defaults file,
    a missing file or a name no file can have named by `extends` is an error at the `extends`
    value that names it, and the manifest is not loaded."""
    root = tmp_path / "s"
    write(tmp_path, "outside/_x.yaml", "enabled: true\n")
    for name, text in files.items():
        write(root, name, text)
    write(root, "m.yaml", f"extends: {target}\n" + MANIFEST.format(name="m"))
    result = load(root)
    messages = [f"{Path(p.path).name}:{p.line}:{p.col}: {p.message}" for p in result.problems]
    assert any(m.startswith(f"{at}: ") and expected in m for m in messages), messages
    assert "m" not in result.by_name()


def test_shift_parses_signed_durations() -> None:
    """`shift` is a signed duration of days, hours and minutes; anything else is no shift."""
    assert parse_shift("+1d") == timedelta(days=1)
    assert parse_shift("-2h") == timedelta(hours=-2)
    assert parse_shift("+1d12h30m") == timedelta(days=1, hours=12, minutes=30)
    for bad in ("1d", "+", "+1w", "tomorrow", 3, None, "+1h1d"):
        assert parse_shift(bad) is None, bad


def test_overlay_patches_by_name_and_shifts(tmp_path: Path) -> None:
    """The overlay's '*' patch applies to every schedule, a named patch to its schedule only,
    `shift` moves the trigger's date-time; the manifests are unchanged without the overlay."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    write(root, "b.yaml", MANIFEST.format(name="b"))
    overlay = tmp_path / "ov"
    write(
        overlay,
        "staging.yaml",
        """\
        "*":
          push:
            to: {tag: [qa]}
        a:
          shift: "+1d2h"
          push:
            body:
              notification:
                alert: staging a
        """,
    )
    result = load(root, overlay=overlay)
    assert result.problems == []
    bodies = {m.name: m.body for m in result.manifests}
    assert bodies["a"]["push"]["to"] == {"tag": ["qa"]}
    assert bodies["b"]["push"]["to"] == {"tag": ["qa"]}
    assert bodies["a"]["trigger"]["single"]["time"] == "2027-03-02 12:00:00"
    assert bodies["b"]["trigger"]["single"]["time"] == "2027-03-01 10:00:00"
    assert bodies["a"]["push"]["body"]["notification"]["alert"] == "staging a"
    assert bodies["b"]["push"]["body"]["notification"]["alert"] == "from the root"
    plain = {m.name: m.body for m in load(root).manifests}
    assert plain["a"]["push"]["to"] == "all"


def test_overlay_naming_an_unknown_schedule_is_refused(tmp_path: Path) -> None:
    """A patch for a name no manifest has is an error at the patch's key in the overlay file."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    overlay = tmp_path / "ov"
    write(overlay, "p.yaml", "a:\n  enabled: false\nb_typo:\n  enabled: false\n")
    result = load(root, overlay=overlay)
    assert [(p.path, p.line, p.col, p.severity) for p in result.problems] == [
        (f"{overlay.as_posix()}/p.yaml", 3, 1, "error")
    ]
    assert result.problems[0].message.startswith("b_typo: no manifest has this name")


def test_overlay_problems_point_at_the_overlay(tmp_path: Path) -> None:
    """A wrong value set by a patch is reported in the overlay file; a date-time moved out of
    range by `shift` at the `shift` value; a patch that renames is refused."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    write(root, "b.yaml", MANIFEST.format(name="b"))
    write(root, "c.yaml", MANIFEST.format(name="c"))
    overlay = tmp_path / "ov"
    write(
        overlay,
        "p.yaml",
        'a:\n  push:\n    from: 5\nb:\n  shift: "+400d"\nc:\n  name: renamed\n',
    )
    result = load(root, overlay=overlay)
    got = [(Path(p.path).name, p.line, p.col, p.message.split(":")[0]) for p in result.problems]
    assert ("p.yaml", 3, 11, "push.from") in got
    assert ("p.yaml", 5, 10, "trigger.single.time") in got
    assert ("p.yaml", 7, 3, "c.name") in got
    assert len(got) == 3, result.problems


def test_a_defaults_link_leading_outside_is_never_read(tmp_path: Path) -> None:
    """A _defaults.yaml linking out of the manifest directory is refused by the walk, its text
    is not merged into the manifests, and they are not loaded."""
    root = tmp_path / "s"
    write(tmp_path, "secret.yaml", "push:\n  from: s3cr3t-value\n")
    root.mkdir()
    (root / "_defaults.yaml").symlink_to(tmp_path / "secret.yaml")
    write(root, "a.yaml", MANIFEST.format(name="a"))
    result = load(root)
    assert result.manifests == []
    assert all("s3cr3t" not in p.message for p in result.problems)
    assert any(
        "outside" in p.message and p.path.endswith("_defaults.yaml") for p in result.problems
    )


def test_an_overlay_inside_the_manifest_directory_is_refused(tmp_path: Path) -> None:
    """An overlay directory under the manifests would be read as schedules: it is an error."""
    root = tmp_path / "s"
    write(root, "a.yaml", MANIFEST.format(name="a"))
    write(root, "overlay/p.yaml", "a:\n  enabled: false\n")
    result = load(root, overlay=root / "overlay")
    assert any(
        p.path == (root / "overlay").as_posix() and "inside the manifest directory" in p.message
        for p in result.problems
    )


@pytest.mark.parametrize("link_dir", ["alpha", "zz_alpha"], ids=["link-sorts-first", "link-after"])
def test_a_schedule_reached_through_a_linked_directory_takes_its_own_directorys_defaults(
    tmp_path: Path, link_dir: str
) -> None:
    """``<link_dir>/shared -> ../zeta`` next to ``zeta/z.yaml``: the schedule is zeta's, with
    zeta's defaults, whether the link sorts before zeta or after it (it took the linking
    directory's defaults, and so its audience, when that sorted first)."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, f"{link_dir}/_defaults.yaml", "push:\n  to: {tag: [alpha_only]}\n")
    write(root, "zeta/z.yaml", MANIFEST.format(name="z"))
    (root / link_dir / "shared").symlink_to(Path("..") / "zeta", target_is_directory=True)
    result = load(root)
    assert result.errors == [], result.problems
    [z] = result.manifests
    assert z.body["push"]["to"] == "all"
    assert Path(z.path).parent.name == "zeta"


@pytest.mark.parametrize("replaces", [False, True], ids=["joins", "replaces"])
def test_an_audience_made_of_keys_from_several_files_is_a_warning(
    tmp_path: Path, replaces: bool
) -> None:
    """An overlay's ``to: {tag: [qa]}`` over a manifest's ``registration_id`` list sends to
    both (an audience is the union of its targets): the example of docs/layers.md did this
    while saying "the QA devices only". Warned, naming the files; none when the overlay takes
    the inherited target away with ``null``."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(
        root,
        "a.yaml",
        MANIFEST.format(name="a") + "push:\n  to: {registration_id: [prod-device]}\n",
    )
    overlay = tmp_path / "ov"
    nulls = ", registration_id: null" if replaces else ""
    write(overlay, "p.yaml", f'"*":\n  push:\n    to: {{tag: [qa]{nulls}}}\n')
    result = load(root, overlay=overlay)
    assert result.errors == [], result.problems
    warned = [p for p in result.warnings if "push.to of 'a'" in p.message]
    if replaces:
        assert warned == []
        assert result.manifests[0].body["push"]["to"] == {"tag": ["qa"]}
    else:
        [warning] = warned
        assert Path(warning.path).name == "p.yaml"
        assert "registration_id from" in warning.message
        assert "tag from" in warning.message
        assert result.manifests[0].body["push"]["to"] == {
            "registration_id": ["prod-device"],
            "tag": ["qa"],
        }


def test_previous_names_from_a_base_are_reported_at_the_base(tmp_path: Path) -> None:
    """Two manifests extending a base that sets lifecycle.previous_names both claim the old
    name: the error is at the base's line, which is where it must be fixed."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "_renamed.yaml", "lifecycle:\n  previous_names: [legacy]\n")
    for name in ("a", "b"):
        write(root, f"{name}.yaml", "extends: _renamed.yaml\n" + MANIFEST.format(name=name))
    result = load(root)
    claims = [p for p in result.errors if "lists 'legacy'" in p.message]
    assert len(claims) == 2, result.problems
    assert {(Path(p.path).name, p.line) for p in claims} == {("_renamed.yaml", 2)}


def test_two_defaults_files_in_one_directory_are_an_error(tmp_path: Path) -> None:
    """_defaults.yaml and _defaults.yml side by side were both merged, the .yml one silently
    winning: one error, once for the directory, and no schedule is planned on a guess."""
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "_defaults.yml", "push:\n  from: other\n")
    write(root, "a.yaml", MANIFEST.format(name="a"))
    write(root, "b.yaml", MANIFEST.format(name="b"))
    result = load(root)
    assert result.manifests == []
    [error] = result.errors
    assert Path(error.path).name == "_defaults.yml"
    assert "one defaults file" in error.message


def test_a_key_missing_from_several_manifests_is_reported_at_each(tmp_path: Path) -> None:
    """Manifests without push.body.platform, under a "*" patch that also writes push.body: a
    missing key was located at the highest file writing its parent, the patch, so the three
    problems became one at the overlay naming no schedule. Each is at its manifest."""
    root = tmp_path / "s"
    body = "push:\n  to: all\n  body:\n    notification: {alert: hi}\n"
    for name in ("a", "b", "c"):
        write(root, f"{name}.yaml", "enabled: true\n" + MANIFEST.format(name=name) + body)
    overlay = tmp_path / "ov"
    write(overlay, "p.yaml", '"*":\n  push:\n    body:\n      options: {time_to_live: 60}\n')
    result = load(root, overlay=overlay)
    missing = [p for p in result.errors if "missing required key 'platform'" in p.message]
    assert sorted(Path(p.path).name for p in missing) == ["a.yaml", "b.yaml", "c.yaml"]


def test_a_credential_an_overlay_spells_in_escapes_is_reported_once_at_the_overlay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overlay alert spelling the AppKey with \\x escapes: one error, at the overlay's line
    (a second one named the manifest's own harmless alert line as holding it)."""
    key = "FAKEAPPKEY1234567890"
    monkeypatch.setenv("ENGAGELAB_APP_KEY", key)
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", "FAKESECRETFAKESECRET123")
    # The scrubber of the credentials is built once per command (reset as a command starts).
    monkeypatch.setattr(redact, "_output_scrubber", None)
    root = tmp_path / "s"
    write(root, "_defaults.yaml", DEFAULTS)
    write(root, "a.yaml", MANIFEST.format(name="a"))
    escaped = "".join(f"\\x{ord(c):02x}" for c in key)
    overlay = tmp_path / "ov"
    write(
        overlay,
        "p.yaml",
        f'a:\n  push:\n    body:\n      notification:\n        alert: "{escaped}"\n',
    )
    result = load(root, overlay=overlay)
    flagged = [p for p in result.errors if "configured credential" in p.message]
    assert [(Path(p.path).name, p.line) for p in flagged] == [("p.yaml", 5)]
