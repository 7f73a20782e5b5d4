"""Malformed state files: every command that reads one refuses it by name and leaves it alone.

A state file is the only handle on API-created schedules, so a command must never "repair" a
broken one by overwriting it, and never go on to call the API with it. Each case is checked
with ``state list``, ``apply`` and, by turns, one more state-reading command (all of them with
``RECONCILER_CAMPAIGN=full``) against a served emulator: exit 1, an ``error:`` message naming
the state file, no request to the API, and the file byte-for-byte as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .conftest import commands_for, subprocess_cases
from .helpers import (
    STATE_PATH,
    TASK_ID,
    assert_clean_failure,
    describe,
    endpoint_args,
    invoke,
    run_module,
    valid_state_bytes,
)
from .tally import tally

# Commands that read the state without needing it to belong to this app (never call the API).
LOCAL_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("state", "list"),
    ("state", "list", "--format", "json"),
    ("state", "show", "weekly_digest"),
    ("state", "rm", "weekly_digest"),
    ("state", "mv", "weekly_digest", "renamed_digest"),
)
# Commands that also check the binding and would go on to the API.
REMOTE_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("plan",),
    ("apply", "--auto-approve"),
    ("drift",),
    ("import", f"weekly_digest={TASK_ID}"),
    ("history", "weekly_digest"),
)


def _obj(url: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(valid_state_bytes(url))
    return loaded


def _edited(**changes: object) -> Callable[[str], bytes]:
    def build(url: str) -> bytes:
        data = _obj(url)
        data.update(changes)
        return json.dumps(data).encode()

    return build


def _entry_edited(**changes: object) -> Callable[[str], bytes]:
    def build(url: str) -> bytes:
        data = _obj(url)
        entries = data["entries"]
        assert isinstance(entries, dict)
        entries["weekly_digest"].update(changes)
        return json.dumps(data).encode()

    return build


def _truncated(fraction: float) -> Callable[[str], bytes]:
    def build(url: str) -> bytes:
        raw = valid_state_bytes(url)
        return raw[: int(len(raw) * fraction)]

    return build


def _merge_conflict(url: str) -> bytes:
    """The state as git leaves it after two branches added an entry each."""
    lines = valid_state_bytes(url).decode().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if '"entries"' in line) + 1
    ours = '    "ours": {"schedule_id": "a1"},\n'
    theirs = '    "theirs": {"schedule_id": "b2"},\n'
    conflict = ["<<<<<<< HEAD\n", ours, "=======\n", theirs, ">>>>>>> feature\n"]
    return "".join([*lines[:at], *conflict, *lines[at:]]).encode()


def _deep(depth: int) -> Callable[[str], bytes]:
    return lambda _url: b"[" * depth + b"]" * depth


CASES: dict[str, Callable[[str], bytes]] = {
    "empty": lambda _url: b"",
    "whitespace-only": lambda _url: b"  \n\t\n",
    "truncated-to-one-byte": _truncated(0.001),
    "truncated-at-a-quarter": _truncated(0.25),
    "truncated-at-half": _truncated(0.5),
    "truncated-before-last-brace": _truncated(0.98),
    "binary-garbage": lambda _url: bytes(range(256)) * 8,
    "gzip-bytes": lambda _url: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 20,
    "invalid-utf8": lambda url: valid_state_bytes(url).replace(
        b"weekly_digest", b"weekly\xffdigest"
    ),
    "latin1": lambda url: valid_state_bytes(url).replace(
        b"weekly_digest", "wöchentlich".encode("latin-1")
    ),
    "json-list": lambda _url: b"[]",
    "json-string": lambda _url: b'"state"',
    "json-number": lambda _url: b"1",
    "json-null": lambda _url: b"null",
    "json-object-without-version": lambda _url: b"{}",
    "version-string": _edited(version="1"),
    "version-true": _edited(version=True),
    "version-float": _edited(version=1.0),
    "version-two": _edited(version=2),
    "version-zero": _edited(version=0),
    "version-negative": _edited(version=-1),
    "version-huge": lambda _url: b'{"version": ' + b"9" * 5000 + b"}",
    "serial-word": _edited(serial="seven"),
    "serial-nan": lambda url: valid_state_bytes(url).replace(b'"serial": 0', b'"serial": NaN'),
    "serial-negative": _edited(serial=-5),
    "serial-true": _edited(serial=True),
    "lineage-number": _edited(lineage=42),
    "lineage-empty": _edited(lineage=""),
    "lineage-with-newline": _edited(lineage="a\nb"),
    "binding-number": _edited(binding=1),
    "binding-not-a-hash": _edited(binding="sha256:xyz"),
    "entries-list": _edited(entries=[]),
    "entries-string": _edited(entries="weekly_digest"),
    "pending-list": _edited(pending=[1, 2]),
    "unknown-top-level-key": _edited(extra_key=True),
    "entry-without-schedule-id": _entry_edited(schedule_id=None),
    "entry-schedule-id-number": _entry_edited(schedule_id=12345),
    "entry-unknown-key": _entry_edited(colour="red"),
    "entry-bad-date": _entry_edited(created_at="2027-02-30T00:00:00Z"),
    "entry-date-far-future": _entry_edited(updated_at=1e300),
    "entry-protected-word": _entry_edited(protected="maybe"),
    "pending-bad-op": _edited(
        pending={
            "x": {
                "op": "explode",
                "name": "x",
                "fingerprint": "f",
                "started_at": "2027-01-01T00:00:00Z",
            }
        }
    ),
    "deep-nesting": _deep(100_000),
    "deep-nesting-in-entries": lambda url: valid_state_bytes(url).replace(
        b'"pending": {}', b'"pending": ' + b"[" * 5000 + b"]" * 5000
    ),
    "nul-bytes": lambda _url: b"\x00" * 64,
    "git-merge-conflict": _merge_conflict,
    # half a character: the fingerprints and the state's own save failed to encode it
    "lone-surrogate-in-a-name": lambda url: valid_state_bytes(url).replace(
        b'"weekly_digest"', b'"\\ud800weekly_digest"', 1
    ),
    # the same as the bytes UTF-8 would give it: not UTF-8, but json reads them
    "lone-surrogate-bytes-in-a-name": lambda url: valid_state_bytes(url).replace(
        b'"weekly_digest"', b'"\xed\xa0\x80weekly_digest"', 1
    ),
}


@pytest.fixture
def state_file(project: Path) -> Path:
    path = project / STATE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_state_file_is_refused_by_every_command(
    state_file: Path, served: tuple[Emulator, str], case: str
) -> None:
    """Every state-reading command exits 1 naming the state file; no call, file unchanged."""
    emulator, url = served
    content = CASES[case](url)
    state_file.write_bytes(content)
    always = [LOCAL_COMMANDS[0], REMOTE_COMMANDS[1]]  # state list, apply
    others = [c for c in (*LOCAL_COMMANDS, *REMOTE_COMMANDS) if c not in always]
    for command in commands_for(case, always, others):
        outcome = invoke([*endpoint_args(url), *command])
        assert_clean_failure(outcome, where=str(STATE_PATH))
        assert state_file.read_bytes() == content, f"{command} changed the refused state file"
    assert emulator.request_log == []
    tally("state")


def test_a_state_file_left_mid_merge_says_so_and_not_to_restore_the_backup(
    state_file: Path, served: tuple[Emulator, str]
) -> None:
    """Conflict markers are a merge to finish, not a truncated write: the usual hint (restore
    the backup) would drop the entries both branches added."""
    _emulator, url = served
    state_file.write_bytes(_merge_conflict(url))
    outcome = invoke([*endpoint_args(url), "plan"])
    assert_clean_failure(outcome, where=str(STATE_PATH))
    assert "holds git merge conflict markers" in outcome.stderr
    assert "do not restore the backup" in outcome.stderr
    assert "truncated" not in outcome.stderr


def test_state_bound_to_another_app_is_refused(
    state_file: Path, served: tuple[Emulator, str]
) -> None:
    """A state file bound to another endpoint/AppKey: refused before any call, unchanged."""
    emulator, url = served
    content = valid_state_bytes("https://pushapi-hk.engagelab.com")
    state_file.write_bytes(content)
    for command in REMOTE_COMMANDS:
        outcome = invoke([*endpoint_args(url), *command])
        assert_clean_failure(outcome, where=str(STATE_PATH))
        assert "another app" in outcome.stderr
    assert state_file.read_bytes() == content
    assert emulator.request_log == []
    tally("state")


def test_state_path_that_is_a_directory_is_refused(
    state_file: Path, served: tuple[Emulator, str]
) -> None:
    """``.reconciler/state.json`` being a directory is a message, not an IsADirectoryError."""
    emulator, url = served
    state_file.mkdir()
    for command in (*LOCAL_COMMANDS[:3], *REMOTE_COMMANDS):
        assert_clean_failure(invoke([*endpoint_args(url), *command]), where=str(STATE_PATH))
    assert emulator.request_log == []
    tally("state")


# The commands that write the state file (they take its lock).
WRITING_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("state", "rm", "weekly_digest"),
    ("state", "mv", "weekly_digest", "renamed_digest"),
    ("apply", "--auto-approve"),
    ("import", f"weekly_digest={TASK_ID}"),
)


def test_backup_path_that_is_a_directory_is_refused_by_every_writer(
    state_file: Path, served: tuple[Emulator, str]
) -> None:
    """``state.json.backup`` a directory: a save cannot keep the previous file there. Every
    command that writes the state exits 1 naming the backup path and saying to remove or move
    it (it blamed the state file itself, and free space), before any call; the state file is
    unchanged, and the commands that only read it go on."""
    emulator, url = served
    content = valid_state_bytes(url)
    state_file.write_bytes(content)
    backup = STATE_PATH.with_name("state.json.backup")
    (state_file.parent / backup.name).mkdir()
    for command in WRITING_COMMANDS:
        outcome = invoke([*endpoint_args(url), *command])
        assert_clean_failure(outcome, where=str(backup))
        assert f"remove or move {backup}" in outcome.stderr, describe(outcome)
        assert "could not write the state file" not in outcome.stderr, describe(outcome)
    assert state_file.read_bytes() == content
    assert emulator.request_log == []
    assert invoke([*endpoint_args(url), "state", "list"]).exit_code == 0
    tally("state")


def test_missing_state_with_a_backup_left_is_refused(
    state_file: Path, served: tuple[Emulator, str]
) -> None:
    """Only ``state.json.backup`` present: someone removed the state; no command guesses."""
    emulator, url = served
    backup = state_file.with_name("state.json.backup")
    backup.write_bytes(valid_state_bytes(url))
    for command in (*LOCAL_COMMANDS[:3], *REMOTE_COMMANDS):
        assert_clean_failure(invoke([*endpoint_args(url), *command]), where=str(STATE_PATH))
    assert not state_file.exists()
    assert emulator.request_log == []
    tally("state")


def test_the_valid_state_is_accepted(state_file: Path, served: tuple[Emulator, str]) -> None:
    """Control: the state file the cases are made from is read fine (so the cases can fail)."""
    _, url = served
    state_file.write_bytes(valid_state_bytes(url))
    assert invoke([*endpoint_args(url), "state", "list"]).exit_code == 0
    outcome = invoke([*endpoint_args(url), "plan"])
    assert outcome.exit_code == 0, outcome.text


@pytest.mark.parametrize(
    "case", subprocess_cases(["deep-nesting", "version-huge", "truncated-at-half"])
)
def test_malformed_state_as_a_subprocess(
    state_file: Path, served: tuple[Emulator, str], case: str
) -> None:
    """``python -m reconciler`` fails cleanly on the same files (real stderr, no traceback)."""
    emulator, url = served
    state_file.write_bytes(CASES[case](url))
    for command in (("state", "list"), ("apply", "--auto-approve")):
        outcome = run_module([*endpoint_args(url), *command], cwd=state_file.parent.parent)
        assert_clean_failure(outcome, where=str(STATE_PATH))
    assert emulator.request_log == []
    tally("state")
