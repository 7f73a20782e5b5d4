"""The layering's guards against what gets around them: an overlay's `shift: null`, a defaults
file that reaches `extends:` through a link, overlay keys YAML does not read as text, and a key
left empty over an inherited value."""

from __future__ import annotations

from pathlib import Path

from tests.layers.test_merge import DEFAULTS, MANIFEST, load, where, write


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
        'ov/p.yaml:2:10: a.shift: true is not a shift; give a signed duration in days, hours '
        'and minutes, e.g. "+1d", "-2h", "+1d12h30m" (or null: no shift)'
    ]
