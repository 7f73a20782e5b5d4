"""Probe: a state file entry whose name holds a line break (the state is committed to git)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body

FORGED = "b\n::error title=forged::annotation\x1b]0;pwned\x07"


def _rename_entry(project: Project, old: str, new: str) -> None:
    """The state file with the entry ``old`` renamed to ``new`` by hand."""
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    data["entries"][new] = data["entries"].pop(old)
    project.state_path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("command", [["plan"], ["drift"], ["state", "list"]])
def test_a_state_name_with_a_line_break_is_refused_and_never_printed_raw(
    project: Project, command: list[str]
) -> None:
    """Promise: a committed file cannot drive the CI runner through the tool's output, and
    a bad state file is a clear message with its repair, before any request.

    A pull request edits ``.reconciler/state.json`` so that an entry's name is
    ``b<LF>::error title=forged::...``: ``plan`` and ``drift`` printed it as the name of a
    delete, the second line running as a GitHub Actions workflow command. Such a name is now
    a state invariant, named escaped, with a repair command that a shell can run.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    _rename_entry(project, "mine", FORGED)
    project.mark()

    result = project.run(*command)

    assert project.writes() == []
    assert all(not line.startswith("::") for line in result.output.splitlines()), result.output
    assert "\x1b" not in result.output
    repair = "state rm $'b\\x0a::error title=forged::annotation\\x1b]0;pwned\\x07'"
    assert repair in result.output
    if command != ["state", "list"]:
        assert result.exit_code == 1, result.output
    # The repair, as printed, is one shell word that names the entry.
    word = repair.removeprefix("state rm ")
    echoed = subprocess.run(
        ["bash", "-c", f"printf %s {word}"], capture_output=True, text=True, check=True
    )
    assert echoed.stdout == FORGED


def test_a_schedule_id_with_control_characters_is_listed_escaped(project: Project) -> None:
    """A hand-edited schedule_id holding an escape sequence: `state list` shows the broken
    state with what is wrong (the id is refused before any request), its table included,
    with the id spelled out; a probe found the table printing it raw."""
    project.write("mine")
    assert project.apply().exit_code == 0
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    data["entries"]["mine"]["schedule_id"] = "x\x1b]0;pwned\x07\u202e"
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    result = project.run("state", "list")
    assert not set("\x1b\x07\u202e") & set(result.output), result.output
    assert "x\\x1b]0;pwned\\x07" in result.output


def test_a_delete_names_the_task_when_the_state_entry_names_another(project: Project) -> None:
    """A state entry edited to point at a task of another name (here one nobody manages): the
    plan's delete line names the task that goes, not only the entry (a probe found only
    "delete Ghost" shown for the deletion of "Foreign_task")."""
    project.write("mine")
    assert project.apply().exit_code == 0
    foreign = project.out_of_band_create(body("Foreign_task"))
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    data["entries"]["Ghost"] = {**data["entries"]["mine"], "schedule_id": foreign}
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "delete" in line)
    assert "Ghost" in line
    assert f"id {foreign}; manifest removed; the task is named 'Foreign_task'" in line


def test_a_schedule_id_holding_the_credentials_is_refused_before_any_request(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state entry's schedule_id edited to the Master Secret (letters and digits, so a
    well-formed id): refused when the state loads, naming the entry and its repair, never
    quoting the id. It was refused only when the first URL was built, after three reads, with
    a message that named no entry."""
    secret = "Q7x2Vb9Lm3Zk8Wd4Np6Rt1Ys5"
    project.write("mine")
    assert project.apply().exit_code == 0
    monkeypatch.setenv("ENGAGELAB_APP_KEY", "0123456789abcdef01234567")
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", secret)
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    data["entries"]["mine"]["schedule_id"] = secret
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    before = len(project.emulator.request_log)
    result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert "the entry 'mine' has a schedule_id that holds the configured credentials" in (
        result.output
    )
    assert "state rm mine" in result.output
    assert secret not in result.output
    assert len(project.emulator.request_log) == before
    repaired = project.run("state", "rm", "mine")  # the repair it names works
    assert repaired.exit_code == 0, repaired.output
    assert "mine" not in project.state_ids()


_SECRET = "Q7x2Vb9Lm3Zk8Wd4Np6Rt1Ys5"
_APP_KEY = "0123456789abcdef01234567"
_STAMP = "2026-12-01T00:00:00Z"


def _forgotten(sid: str = "abc123", reason: str = "fired for good") -> list[dict[str, str]]:
    return [{"schedule_id": sid, "forgotten_at": _STAMP, "reason": reason}]


def _journalled_delete(name: str, old: str) -> dict[str, str]:
    return {"op": "delete", "name": name, "fingerprint": "x", "old_schedule_id": old,
            "started_at": _STAMP}  # fmt: skip


# Each edit puts the credentials where the tool reads them back and would save them again.
_CREDENTIAL_PLACES = {
    "entry name": (
        lambda d: d["entries"].update({f"x{_SECRET}": d["entries"].pop("mine")}),
        "the name of an entry",
    ),
    "journal name": (
        lambda d: d.update(pending={_SECRET: _journalled_delete(_SECRET, "gone1")}),
        "the name of a journal entry",
    ),
    "journalled old id": (
        lambda d: d.update(pending={"gone": _journalled_delete("gone", _SECRET)}),
        "the old schedule_id of the journal entry of 'gone'",
    ),
    "forgotten name": (
        lambda d: d.update(forgotten={f"old{_SECRET}": _forgotten()}),
        "the name of a forgotten task",
    ),
    "forgotten id": (
        lambda d: d.update(forgotten={"old": _forgotten(sid=_SECRET)}),
        "a forgotten task of 'old'",
    ),
    "lineage": (lambda d: d.update(lineage=_SECRET), "the `lineage`"),
    "binding": (lambda d: d.update(binding=f"sha256:{_APP_KEY}{'0' * 40}"), "the `binding`"),
    "entry fingerprint": (
        lambda d: d["entries"]["mine"].update(fingerprint=f"sha256:{_APP_KEY}"),
        "the fingerprint of the entry 'mine'",
    ),
    "journalled fingerprint": (
        lambda d: d.update(
            pending={"gone": {**_journalled_delete("gone", "x1"), "fingerprint": _SECRET}}
        ),
        "the fingerprint of the journal entry of 'gone'",
    ),
    "forgotten reason": (
        lambda d: d.update(forgotten={"old": _forgotten(reason=f"see {_SECRET}")}),
        "a forgotten task of 'old'",
    ),
}


@pytest.mark.parametrize("place", sorted(_CREDENTIAL_PLACES))
@pytest.mark.parametrize("command", [["plan"], ["state", "list"]])
def test_credentials_anywhere_in_the_state_are_refused_and_never_saved_again(
    project: Project, monkeypatch: pytest.MonkeyPatch, place: str, command: list[str]
) -> None:
    """The credentials written by hand into a state name, a journalled id or a forgotten task
    were read, used and saved again with every write of the file. The state is refused when
    it loads (`state list` shows it with the problem): the place named, the text never
    quoted, no request, the file left as it is."""
    project.write("mine")
    assert project.apply().exit_code == 0
    monkeypatch.setenv("ENGAGELAB_APP_KEY", _APP_KEY)
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", _SECRET)
    edit, where = _CREDENTIAL_PLACES[place]
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    edit(data)
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    saved = project.state_path.read_bytes()
    before = len(project.emulator.request_log)
    result = project.run(*command)
    if command == ["plan"]:  # `state list` shows a broken state with what is wrong in it
        assert result.exit_code == 1, result.output
    assert f"{where} holds the configured credentials" in result.output, result.output
    assert _SECRET not in result.output
    assert _APP_KEY not in result.output
    assert "Traceback" not in result.output
    assert len(project.emulator.request_log) == before
    assert project.state_path.read_bytes() == saved


def test_a_schema_error_names_the_entry_escaped(project: Project) -> None:
    """A state file that does not match the schema under an entry whose name holds a line
    break and an escape sequence: the error's location names the entry, quoted and escaped. It
    was printed raw, the line break starting a line GitHub Actions runs as a workflow command."""
    project.write("mine")
    assert project.apply().exit_code == 0
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    entry = data["entries"].pop("mine")
    data["entries"][FORGED] = {**entry, "schedule_id": 12345}
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    project.mark()
    result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert "does not match the state schema: entries." in result.output, result.output
    assert repr(FORGED) in result.output
    assert all(not line.startswith("::") for line in result.output.splitlines()), result.output
    assert "\x1b" not in result.output
    assert "\x07" not in result.output
    assert project.emulator.request_log == []


@pytest.mark.parametrize("name", ["::error title=forged::pwned", "mine\u200b", "mine\u3164"])
@pytest.mark.parametrize("command", [["plan"], ["drift"], ["state", "list"]])
def test_a_state_name_no_schedule_has_is_refused_and_never_printed_raw(
    project: Project, name: str, command: list[str]
) -> None:
    """An entry renamed by hand to ``::error title=...::`` started a line of `state list` (its
    first column), which GitHub Actions runs as a workflow command; one renamed to "mine" with
    a zero-width space read as "mine". No schedule name has either shape: the state is refused
    with the repair, and `state list` writes the name as a shell word (quoted, spelled)."""
    project.write("mine")
    project.write("other")
    assert project.apply().exit_code == 0
    _rename_entry(project, "other", name)
    project.mark()

    result = project.run(*command)

    assert project.writes() == []
    assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")]
    assert name not in result.output.replace(f"'{name}'", "")
    assert "is no schedule name" in result.output, result.output
    if command != ["state", "list"]:
        assert result.exit_code == 1, result.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "fired\n::error title=forged::pwned\x1b]0;TITLE\x07\r"),
        ("schedule_id", "x\n::error title=earlier::pwned"),
        ("name", "::error title=forged::pwned"),
    ],
)
def test_a_forgotten_task_edited_by_hand_is_refused(
    project: Project, field: str, value: str
) -> None:
    """`history NAME` of a schedule the state forgot prints its task's id, the reason and the
    earlier ids: a hand edit of the `forgotten` section put workflow commands and a terminal
    title sequence there. Such a forgotten task is a state invariant like an entry."""
    project.write("mine")
    assert project.apply().exit_code == 0
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    task = {"schedule_id": "abc", "forgotten_at": "2026-11-02T00:00:00+00:00", "reason": "fired"}
    name = "gone"
    if field == "name":
        name = value
    else:
        task[field] = value
    data["forgotten"] = {name: [task]}
    project.state_path.write_text(json.dumps(data), encoding="utf-8")
    project.mark()

    for command in (["history", name], ["plan"]):
        result = project.run(*command)
        assert result.exit_code == 1, result.output
        assert "a forgotten task of" in result.output, result.output
        assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")]
        assert not set("\x1b\x07\r") & set(result.output)
    assert project.emulator.request_log == []


@pytest.mark.parametrize("shape", ["two-names-one-id", "one-name-twice"])
@pytest.mark.parametrize("command", [["plan"], ["state", "list"]])
def test_every_repair_of_a_broken_state_names_it_as_a_shell_word(
    project: Project, shape: str, command: list[str]
) -> None:
    """The repairs of the other invariants (two names on one id, a name twice under
    `entries`) quoted names with shlex, which keeps a line break: the rest of the name started
    a workflow command in the refusal, and in `state list`'s warnings."""
    project.write("mine")
    assert project.apply().exit_code == 0
    data = json.loads(project.state_path.read_text(encoding="utf-8"))
    entry = json.dumps(data["entries"]["mine"])
    if shape == "two-names-one-id":
        data["entries"][FORGED] = dict(data["entries"]["mine"])
        text = json.dumps(data)
    else:
        data["entries"] = {}
        twice = f"{json.dumps(FORGED)}: {entry}, {json.dumps(FORGED)}: {entry}"
        text = json.dumps(data).replace('"entries": {}', '"entries": {' + twice + "}")
    project.state_path.write_text(text, encoding="utf-8")
    result = project.run(*command)
    assert "$'b\\x0a::error title=forged::annotation\\x1b]0;pwned\\x07" in result.output
    assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")]
    assert "\x1b" not in result.output
