"""Probe: remote task names holding control characters, printed by ``plan``, ``drift`` and
``remote list`` into a terminal or a GitHub Actions log."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body

EVIL = "evil\n::error title=forged::annotation\x1b]0;pwned\x07\r::stop-commands::x"


def _renamed_on_the_server(project: Project, name: str) -> str:
    """A task the emulator holds under ``name``, which its API would refuse: what another
    tool's task, or a server that is not EngageLab's, answers."""
    sid = project.out_of_band_create(body("placeholder"))
    project.emulator._store.tasks[sid].body["name"] = name
    return sid


@pytest.mark.parametrize(
    "command", [["plan"], ["drift"], ["remote", "list"], ["drift", "--format", "markdown"]]
)
def test_a_remote_name_never_starts_a_workflow_command_or_an_escape_sequence(
    project: Project, command: list[str]
) -> None:
    """Promise: a server's answer (or a task another tool made) cannot drive the CI runner or
    the terminal through the tool's output.

    The API's names hold letters, digits, ``_`` and ideographs (docs/api.md 2); an unmanaged
    task named ``evil\\n::error title=forged::...`` was printed as is, so its second line ran
    as a GitHub Actions workflow command (a forged annotation; ``::stop-commands::`` silences
    the job's own), and ``ESC ] 0;... BEL`` set the terminal's title (OSC 52 writes its
    clipboard).
    """
    _renamed_on_the_server(project, EVIL)
    project.write("mine")
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("::")], result.output
    assert "\x1b" not in result.output
    assert "\r" not in result.output
    if command == ["remote", "list"]:
        assert "evil ::error title=forged::annotation\\x1b]0;pwned\\x07" in result.output


def test_a_remote_name_with_a_newline_is_still_one_name_with_the_manifests(
    project: Project,
) -> None:
    """The planner's same-name search is unchanged: a live "promo\\n" (whitespace made a
    space) is still a conflict for a manifest "promo", never a second task."""
    sid = _renamed_on_the_server(project, "promo\n")
    project.write("promo")
    project.mark()
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert sid in result.output


@pytest.mark.parametrize("command", [["plan"], ["drift"], ["remote", "list"]])
def test_a_remote_name_cannot_reorder_the_line_it_is_printed_on(
    project: Project, command: list[str]
) -> None:
    """A right-to-left override (U+202E) or isolate (U+2067) in a server's name makes a terminal
    or a pull request's page show the rest of its line reversed: ``delete`` could read as
    something else. They are spelled out like the other controls."""
    _renamed_on_the_server(project, "promo\u202eeteled\u2067x\u2069")
    project.write("mine")
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output
    assert not set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") & set(result.output)
    if command == ["remote", "list"]:
        assert "promo\\u202eeteled\\u2067x\\u2069" in result.output


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_no_output_holds_a_character_that_reorders_its_line(project: Project, fmt: str) -> None:
    """An alert written with a right-to-left override (a pull request's manifest, a task made
    elsewhere) is shown with it written ``\\u202e`` in every format, the C1 control CSI
    (0x9b, a terminal's ESC [) likewise; the JSON still reads as the same text, and a drift
    report file is written the same way."""
    alert = "Sale \u202eelas\u202c ends \x9b31m soon"
    project.write("promo", alert=alert)
    result = project.run("plan", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert not set("\u202e\u202c\x9b") & set(result.output)
    if fmt == "json":
        assert alert in json.dumps(json.loads(result.stdout), ensure_ascii=False)
        saved = project.root / "plan.json"
        assert project.run("plan", "--out", str(saved)).exit_code == 0
        text = saved.read_text(encoding="utf-8")
        assert not set("\u202e\u202c\x9b") & set(text)
        assert alert in json.dumps(json.loads(text), ensure_ascii=False)
        assert project.run("apply", str(saved)).exit_code == 0  # its checksum still holds
        assert alert in json.dumps(project.emulator.schedules(), ensure_ascii=False)
    project.write("promo", alert="x")
    assert project.apply().exit_code == 0
    project.out_of_band_update(project.state_ids()["promo"], body("promo", alert=alert))
    report = project.root / f"drift.{'json' if fmt == 'json' else 'md'}"
    drift = project.run("drift", "--report", str(report))
    assert drift.exit_code == 2, drift.output
    assert not set("\u202e\u202c\x9b") & set(drift.output + report.read_text("utf-8"))


# Characters that show nothing, one of each kind: a zero-width space, a zero-width joiner, a
# byte-order mark, a soft hyphen, a Hangul filler, a variation selector and a tag character.
UNSEEN_NAMES = {
    "promo\u200b": "promo\\u200b",
    "promo\u200d": "promo\\u200d",
    "\ufeffpromo": "\\ufeffpromo",
    "pro\u00admo": "pro\\xadmo",
    "promo\u3164": "promo\\u3164",
    "promo\ufe0f": "promo\\ufe0f",
    "promo\U000e0041": "promo\\U000e0041",
}


@pytest.mark.parametrize(
    "command",
    [["plan"], ["drift"], ["remote", "list"], ["drift", "--format", "markdown"]],
)
def test_a_remote_name_that_differs_by_an_unseen_character_reads_as_another_name(
    project: Project, command: list[str]
) -> None:
    """Unmanaged tasks named "promo" with a zero-width space (or another character that shows
    nothing) after it were printed beside the manifest "promo" as "unmanaged promo": a second
    task of the schedule to the eye, and a task nobody manages to the tool. Each such character
    is now spelled out."""
    for name in UNSEEN_NAMES:
        _renamed_on_the_server(project, name)
    project.write("promo")
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output
    for name, shown in UNSEEN_NAMES.items():
        assert name not in result.output
        assert shown in result.output, (shown, result.output)
