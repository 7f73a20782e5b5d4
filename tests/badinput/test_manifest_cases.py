"""Hand-written bad manifests: every one is refused with a located message, before any API call.

Readable cases are files in ``fixtures/manifests/`` named for what they prove; binary, huge and
deeply nested ones are built here. Each is run through ``validate`` and through every command
that loads manifests (``apply`` always, one of ``plan``, ``drift``, ``import``, ``test-send`` by
turns; all of them with ``RECONCILER_CAMPAIGN=full``) against a served emulator, which must not
see a single request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .conftest import commands_for, subprocess_cases
from .helpers import (
    VALID_MANIFEST,
    assert_clean_failure,
    assert_validate_failure,
    endpoint_args,
    invoke,
    run_module,
    write_project,
)
from .tally import tally

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
FILES = sorted(p.name for p in FIXTURES.glob("bad-*.yaml"))

MANIFEST_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("plan",),
    ("apply", "--auto-approve"),
    ("drift",),
    ("import", "weekly_digest=00000000-0000-4000-8000-000000000001"),
    ("test-send", "weekly_digest", "--regid", "device-1", "--dry-run"),
)


def _laughs(levels: int = 9, width: int = 9) -> bytes:
    """The "billion laughs" alias bomb (width ** levels values once expanded)."""
    lines = ['lol0: &lol0 "lol"']
    for n in range(1, levels + 1):
        refs = ", ".join([f"*lol{n - 1}"] * width)
        lines.append(f"lol{n}: &lol{n} [{refs}]")
    return (VALID_MANIFEST + "extras:\n" + "".join(f"  {x}\n" for x in lines)).encode()


def _deep_block_maps(depth: int) -> bytes:
    return ("\n".join(" " * n + f"k{n}:" for n in range(depth)) + " leaf\n").encode()


GENERATED: dict[str, Callable[[], bytes]] = {
    "bad-ten-megabytes.yaml": lambda: (
        VALID_MANIFEST.encode()
        + b"".join(b"padding_%07d: some text to make the file big\n" % n for n in range(230_000))
    ),
    "bad-just-over-one-mebibyte.yaml": lambda: (
        VALID_MANIFEST.encode() + b"# " + b"x" * (1024 * 1024) + b"\n"
    ),
    "bad-deep-flow-lists.yaml": lambda: b"name: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "bad-deep-flow-maps.yaml": lambda: b"name: " + b"{a: " * 10_000 + b"1" + b"}" * 10_000 + b"\n",
    "bad-deep-block-sequences.yaml": lambda: b"name:\n" + b"- " * 10_000 + b"x\n",
    "bad-deep-block-maps.yaml": lambda: _deep_block_maps(1_200),
    "bad-deep-flow-in-extras.yaml": lambda: (
        VALID_MANIFEST.encode() + b"  " * 0 + b"extras: " + b"[" * 5_000 + b"]" * 5_000 + b"\n"
    ),
    "bad-billion-laughs.yaml": _laughs,
    "bad-huge-integer.yaml": lambda: VALID_MANIFEST.replace(
        "zone_type: 1", "zone_type: " + "9" * 5000
    ).encode(),
    "bad-huge-hex-integer.yaml": lambda: VALID_MANIFEST.replace(
        "zone_type: 1", "zone_type: 0x" + "f" * 5000
    ).encode(),
    "bad-nul-byte.yaml": lambda: VALID_MANIFEST.replace("Hello", "Hel\x00lo").encode(),
    "bad-invalid-utf8.yaml": lambda: VALID_MANIFEST.encode().replace(b"Hello", b"Hel\xfflo"),
    "bad-utf8-lone-surrogate.yaml": lambda: VALID_MANIFEST.encode().replace(
        b"Hello", b"\xed\xa0\x80"
    ),
    "bad-utf8-overlong.yaml": lambda: VALID_MANIFEST.encode().replace(b"Hello", b"\xc0\xaf"),
    "bad-utf8-truncated-at-end.yaml": lambda: VALID_MANIFEST.encode() + b"# \xe4\xb8",
    "bad-utf16-file.yaml": lambda: VALID_MANIFEST.encode("utf-16"),
    "bad-latin1-file.yaml": lambda: VALID_MANIFEST.replace("Hello", "Grüße").encode("latin-1"),
    "bad-control-character.yaml": lambda: VALID_MANIFEST.replace("Hello", "Hel\x07lo").encode(),
    "bad-escape-character.yaml": lambda: VALID_MANIFEST.replace("Hello", "\x1b[31mred").encode(),
    "bad-very-long-name.yaml": lambda: VALID_MANIFEST.replace(
        "weekly_digest", "n" * 900_000
    ).encode(),
    "bad-empty-file.yaml": lambda: b"",
    "bad-only-bom.yaml": lambda: b"\xef\xbb\xbf",
    "bad-bom-then-garbage.yaml": lambda: b"\xef\xbb\xbf\xef\xbb\xbf{[",
    "bad-rtl-and-combining-everywhere.yaml": lambda: VALID_MANIFEST.replace(
        "weekly_digest", "\u202eweekly\u0301\u200f_digest\U0001f600"
    ).encode(),
    # Names of a base no file can have: a NUL (escaped in YAML) and 5000 characters.
    "bad-extends-nul.yaml": lambda: b'extends: "_a\\0.yaml"\n' + VALID_MANIFEST.encode(),
    "bad-extends-name-too-long.yaml": lambda: (
        b"extends: _" + b"a" * 5000 + b".yaml\n" + VALID_MANIFEST.encode()
    ),
}


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with an empty ``schedules/`` (only the bad file goes in), as the cwd."""
    write_project(tmp_path, {})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused_everywhere(
    root: Path, name: str, content: bytes, served: tuple[Emulator, str]
) -> None:
    emulator, url = served
    (root / "schedules" / name).write_bytes(content)
    where = f"schedules/{name}"
    assert_validate_failure(invoke(["validate"]), path=where)
    for command in commands_for(
        name, MANIFEST_COMMANDS[1:2], MANIFEST_COMMANDS[:1] + MANIFEST_COMMANDS[2:]
    ):
        assert_clean_failure(invoke([*endpoint_args(url), *command]), where=where)
    assert emulator.request_log == [], "a bad manifest must stop every command before any call"
    tally("manifest")


@pytest.mark.parametrize("name", FILES)
def test_bad_manifest_file_is_refused_by_every_command(
    bare: Path, served: tuple[Emulator, str], name: str
) -> None:
    """The fixture file is refused by validate and every manifest-loading command, no calls."""
    _refused_everywhere(bare, name, (FIXTURES / name).read_bytes(), served)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_bad_manifest_is_refused_by_every_command(
    bare: Path, served: tuple[Emulator, str], name: str
) -> None:
    """The built bad file (binary, huge, deep) is refused everywhere, with no call to the API."""
    _refused_everywhere(bare, name, GENERATED[name](), served)


def test_the_valid_manifest_passes(bare: Path, served: tuple[Emulator, str]) -> None:
    """Control: the manifest the bad cases are made from validates and plans (exit 0)."""
    _, url = served
    (bare / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    assert invoke(["validate"]).exit_code == 0
    assert invoke([*endpoint_args(url), "plan"]).exit_code == 0


def test_a_bad_file_among_good_ones_stops_apply(bare: Path, served: tuple[Emulator, str]) -> None:
    """One bad file next to a valid one: apply creates nothing (all or nothing)."""
    emulator, url = served
    (bare / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    (bare / "schedules" / "zz-broken.yaml").write_bytes(GENERATED["bad-invalid-utf8.yaml"]())
    outcome = invoke([*endpoint_args(url), "apply", "--auto-approve"])
    assert_clean_failure(outcome, where="schedules/zz-broken.yaml:13")
    assert emulator.request_log == []
    tally("manifest")


@pytest.mark.parametrize(
    "name",
    subprocess_cases(
        [
            "bad-ten-megabytes.yaml",
            "bad-invalid-utf8.yaml",
            "bad-deep-block-sequences.yaml",
            "bad-billion-laughs.yaml",
            "bad-huge-integer.yaml",
        ]
    ),
)
def test_bad_manifest_as_a_subprocess(bare: Path, served: tuple[Emulator, str], name: str) -> None:
    """``python -m reconciler`` (a real process, real stderr) fails cleanly on the same files."""
    emulator, url = served
    (bare / "schedules" / name).write_bytes(GENERATED[name]())
    where = f"schedules/{name}"
    assert_validate_failure(run_module(["validate"], cwd=bare), path=where)
    outcome = run_module([*endpoint_args(url), "apply", "--auto-approve"], cwd=bare)
    assert_clean_failure(outcome, where=where)
    assert emulator.request_log == []
    tally("manifest")


def _odd_named(root: Path, where: str) -> str:
    """A valid manifest under a Latin-1 name ("caf\\xe9"), as a file or as the directory that
    holds it; the name as the messages show it (skipped where the file system refuses it)."""
    odd = os.fsdecode(b"caf\xe9")  # the byte 0xe9 arrives as the lone surrogate \udce9
    folder = root / "schedules" / odd if where == "directory" else root / "schedules"
    try:
        folder.mkdir(exist_ok=True)
        (folder / (f"{odd}.yaml" if where == "file" else "a.yaml")).write_text(VALID_MANIFEST)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    return "schedules/caf\\xe9.yaml" if where == "file" else "schedules/caf\\xe9"


@pytest.mark.parametrize("where", ["file", "directory"])
def test_a_name_that_is_not_utf8_is_refused_by_every_command(
    bare: Path, served: tuple[Emulator, str], where: str
) -> None:
    """A manifest file, or a directory, named in Latin-1: validate said valid, and plan read the
    whole remote app before its checksum failed on the name (UnicodeEncodeError, a traceback).
    Now the search refuses the name, shown escaped: validate and every manifest-reading
    command exit 1 saying to rename it, and the API sees no request."""
    emulator, url = served
    shown = _odd_named(bare, where)
    outcome = invoke(["validate"])
    assert_validate_failure(outcome, path=f"{shown}: error: its name is not valid UTF-8")
    assert "rename it" in outcome.stdout
    for command in MANIFEST_COMMANDS:
        outcome = invoke([*endpoint_args(url), *command])
        assert_clean_failure(outcome, where=f"{shown}: error: its name is not valid UTF-8")
        assert "rename it" in outcome.stderr
    assert emulator.request_log == []
    tally("manifest")


def test_a_name_that_is_not_utf8_as_a_subprocess(bare: Path, served: tuple[Emulator, str]) -> None:
    """``python -m reconciler`` too (real streams, which cannot print a lone surrogate)."""
    emulator, url = served
    shown = _odd_named(bare, "file")
    assert_validate_failure(run_module(["validate"], cwd=bare), path=shown)
    outcome = run_module([*endpoint_args(url), "plan"], cwd=bare)
    assert_clean_failure(outcome, where=f"{shown}: error: its name is not valid UTF-8")
    assert emulator.request_log == []
    tally("manifest")
