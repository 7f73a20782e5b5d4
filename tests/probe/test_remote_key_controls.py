"""Probe: a remote body's keys and values holding control characters or characters that show
nothing, printed in a field path of ``plan``, ``drift`` and their pull-request comments."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body

EVIL_KEY = "k\n::error title=forged::pwned\x1b]0;title\x07\r::stop-commands::x"


def _managed_with_extras(project: Project) -> dict[str, Any]:
    data = body("promo")
    data["push"]["body"]["message"] = {"msg_content": "x", "extras": {"a": "b"}}
    project.write_body(data)
    assert project.apply().exit_code == 0
    task = project.emulator._store.tasks[project.state_ids()["promo"]]
    extras: dict[str, Any] = task.body["push"]["body"]["message"]["extras"]
    return extras


@pytest.mark.parametrize(
    "command",
    [["plan"], ["drift"], ["plan", "--format", "markdown"], ["drift", "--format", "markdown"]],
)
def test_a_remote_key_never_starts_a_workflow_command_or_an_escape_sequence(
    project: Project, command: list[str]
) -> None:
    """An extras key edited in the console (or sent by a server that is not EngageLab's) is part
    of a field's path: ``extras["k\\n::error ..."]`` was printed as it was, so its second line
    ran as a GitHub Actions workflow command (in a drift cron's log, or a plan's), ``ESC ] 0``
    set the terminal's title, and in a pull request's comment the line break could end the
    diff's code block. A key that is not plain is written as a JSON string."""
    extras = _managed_with_extras(project)
    extras[EVIL_KEY] = "v"
    extras["fence\n```\n**approved**"] = "v"
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output  # plan 0, drift 2
    lines = result.output.splitlines()
    assert not [line for line in lines if line.lstrip().lstrip("+-~ ").startswith("::")]
    assert not set("\x1b\x07\r") & set(result.output)
    # The only code fences are the comment's own: one closing line for each diff block.
    assert lines.count("```") == len([line for line in lines if line.startswith("```diff")])
    assert (
        'extras["k\\n::error title=forged::pwned\\u001b]0;title\\u0007\\r::stop-commands::x"]'
        in result.output
    )


@pytest.mark.parametrize("command", [["plan"], ["drift"], ["drift", "--format", "markdown"]])
def test_a_change_by_an_unseen_character_shows_as_a_change(
    project: Project, command: list[str]
) -> None:
    """A value changed by a zero-width space or a direction mark, and a key that differs from
    another by one, read as two equal texts in a field line ("b" -> "b"). They are written as
    escapes, in keys and values."""
    extras = _managed_with_extras(project)
    extras["a"] = "b\u200b"
    extras["a\ufeff"] = "\u2066b\u200e"
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output  # plan 0, drift 2
    assert not set("\u200b\ufeff\u2066\u200e") & set(result.output)
    assert '"b\\u200b"' in result.output
    assert 'extras["a\\ufeff"]' in result.output
    assert '"\\u2066b\\u200e"' in result.output


def test_a_remote_key_with_controls_is_updated_away_and_the_next_plan_is_clean(
    project: Project,
) -> None:
    """The spelling is only how a path is shown: the update still sends the manifest's body,
    and the task then matches it."""
    extras = _managed_with_extras(project)
    extras[EVIL_KEY] = "v\u200b"
    assert project.apply().exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_remote_key_starting_with_two_colons_starts_no_line_of_a_yaml_dump(
    project: Project,
) -> None:
    """``remote show``, ``export`` and ``validate --explain`` write a body as YAML, a key at the
    start of its line (after the indent, which the Actions runner skips): a plain key
    ``::stop-commands::tok`` stopped the job's workflow commands, ``::error ...`` forged an
    annotation. Such keys and values are written double-quoted."""
    extras = _managed_with_extras(project)
    extras["::stop-commands::tok"] = "v"
    extras["::error title=forged::pwned"] = "::warning::w"
    # Longer than the API's content limit: a server's body, not one a manifest can have.
    extras["k\n::error::x"] = "long " * 1000 + "::error::folded"
    shown = project.run("remote", "show", "promo").output
    extras["k\n::error::x"] = "long ::error::x"
    assert project.run("state", "rm", "promo").exit_code == 0
    project.remove("promo")
    exported = project.run("export", "--dir", str(project.root / "exported"))
    assert exported.exit_code == 0, exported.output
    (written,) = (project.root / "exported").glob("*.yaml")
    text = written.read_text(encoding="utf-8")
    written.replace(project.schedules / "promo.yaml")
    explained = project.run("validate", "--explain", "promo")
    assert explained.exit_code == 0, explained.output
    for output in (shown, text, explained.output):
        assert "::stop-commands::tok" in output, output
        assert not [line for line in output.splitlines() if line.lstrip().startswith("::")], output


def test_the_pull_request_comments_warnings_are_never_read_as_markdown(project: Project) -> None:
    """A warning quotes a server's words: a managed task renamed in the console to a text of
    Markdown, with a trigger the tool cannot read, made links, an image loaded on sight, bold
    "APPROVED" text and a team's @-mention in the plan's comment. Each warning is a code span."""
    task = project.emulator._store.tasks[_managed_id(project)]
    task.body["name"] = "**APPROVED** [Details](https://evil.example) ![x](https://e.example/p.png)"
    task.body["name"] += " @org/team `x`"
    task.body["trigger"]["single"]["time"] = "not a time"
    for command in (["plan", "--format", "markdown"], ["drift", "--format", "markdown"]):
        result = project.run(*command)
        warned = [line for line in result.output.splitlines() if "cannot read" in line]
        assert warned, result.output
        for line in warned:
            assert line.startswith("- `` "), line
            assert line.endswith(" ``"), line


def _managed_id(project: Project) -> str:
    project.write("promo")
    assert project.apply().exit_code == 0
    return project.state_ids()["promo"]


@pytest.mark.parametrize(
    "char", ["\u00ad", "\u034f", "\u115f", "\u17b4", "\u180e", "\u3164", "\uffa0", "\U000e0001"]
)
def test_a_value_changed_by_any_character_that_shows_nothing_reads_as_a_change(
    project: Project, char: str
) -> None:
    """A soft hyphen, the combining grapheme joiner, a Hangul filler, a Khmer inherent vowel or
    a language tag in an alert showed as `"Hel­lo" -> "Hello"`: they are written as escapes in
    the text, the markdown and the JSON reports."""
    task = project.emulator._store.tasks[_managed_id(project)]
    task.body["push"]["body"]["notification"]["alert"] = f"Hel{char}lo\u2028"
    for command in (["drift"], ["drift", "--format", "markdown"], ["drift", "--format", "json"]):
        result = project.run(*command)
        assert result.exit_code == 2, result.output
        assert char not in result.output
        assert "\u2028" not in result.output
        assert "Hel\\u" in result.output


LEGACY = "##[error title=Approved]safe to merge"


@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["drift"],
        ["remote", "list"],
        ["remote", "show", "promo"],
        ["plan", "--format", "json"],
    ],
)
def test_the_runners_older_command_syntax_is_never_printed(
    project: Project, command: list[str]
) -> None:
    """GitHub Actions' runner also reads "##[error]..." (its older syntax) anywhere in a line
    of a job's log, not only at its start: a task renamed so, an extras key or value holding it
    forged an annotation in a plan's or a drift cron's log (or, with "##[stop-commands]",
    silenced every later one). The output writes its "#" as an escape."""
    extras = _managed_with_extras(project)
    extras["a"] = LEGACY
    extras["##[set-output name=ok]true"] = "v"
    project.emulator._store.tasks[project.out_of_band_create(body("x1"))].body["name"] = LEGACY
    result = project.run(*command)
    assert result.exit_code in (0, 2), result.output
    assert "##[" not in result.output, result.output
    assert "#\\u0023[error title=Approved]safe to merge" in result.output


def test_a_pull_requests_manifest_key_in_the_runners_older_syntax_is_never_printed(
    project: Project,
) -> None:
    """A manifest's unknown key is quoted in the error that names it, in the log of the pull
    request's plan job."""
    project.schedules.joinpath("promo.yaml").write_text(
        "name: promo\nenabled: true\n'##[error title=Approved]LGTM': 1\n", encoding="utf-8"
    )
    for command in (["validate"], ["plan"]):
        result = project.run(*command)
        assert result.exit_code == 1, result.output
        assert "##[" not in result.output, result.output
        assert "#\\u0023[error title=Approved]LGTM" in result.output


@pytest.mark.parametrize(
    "command", [["plan", "--format", "markdown"], ["drift", "--format", "markdown"]]
)
def test_a_name_in_the_comment_never_mentions_anyone(project: Project, command: list[str]) -> None:
    """A task named "@octocat please approve" (renamed in the console, or an unmanaged task of
    a server) was shown in a `<summary>` of the comment, where GitHub makes "@octocat" a
    mention that notifies them. Names and details holding an "@" are written in `<code>`."""
    sid = _managed_id(project)
    project.emulator._store.tasks[sid].body["name"] = "@octocat please approve"
    project.emulator._store.tasks[project.out_of_band_create(body("x1"))].body["name"] = "@org/team"
    project.remove("promo")
    result = project.run(*command)
    summaries = [line for line in result.output.splitlines() if line.startswith("<summary>")]
    assert [line for line in summaries if "@" in line], result.output
    for line in summaries:
        outside = re.sub(r"<code>.*?</code>", "", line)
        assert "@" not in outside, line


@pytest.mark.parametrize("blank", ["\u00a0", "\u2002", "\u202f", "\u3000", "\u2800"])
@pytest.mark.parametrize("command", [["drift"], ["plan"], ["drift", "--format", "markdown"]])
def test_a_value_changed_by_another_blank_reads_as_a_change(
    project: Project, blank: str, command: list[str]
) -> None:
    """An alert whose space became a no-break, an en, an ideographic space or a braille blank
    showed as `"50% off" -> "50% off"`. When the two sides would read the same, both are
    written with every character beyond ASCII as an escape."""
    project.write("promo", alert="50% off today")
    assert project.apply().exit_code == 0
    task = project.emulator._store.tasks[project.state_ids()["promo"]]
    task.body["push"]["body"]["notification"]["alert"] = f"50%{blank}off today"
    result = project.run(*command)
    assert blank not in result.output
    assert f"50%\\u{ord(blank):04x}off today" in result.output, result.output


def test_an_environment_name_ending_in_a_line_break_is_refused(project: Project) -> None:
    """The name pattern's "$" also matched before a last line break: an environment
    "prod<LF>" (a pull request's reconciler.yaml) was accepted, and split the comment's hidden
    marker line and its heading."""
    config = project.root / "reconciler.yaml"
    config.write_text(
        'environments:\n  "prod\\n":\n    manifests: schedules\n    state: .reconciler/s.json\n',
        encoding="utf-8",
    )
    project.write("promo")
    result = project.run("--config", str(config), "--env", "prod\n", "plan", "--format", "markdown")
    assert result.exit_code == 1, result.output
    assert "environment name 'prod\\n' must be" in result.output, result.output
    assert "reconciler-plan" not in result.output


def test_a_servers_content_type_is_quoted_harmless() -> None:
    """An answer that is not JSON is described with its media type; h11 takes ESC and BEL in
    a header's value, and a CSI sequence there cleared the terminal or hid the rest."""
    import httpx

    from reconciler.remote.answers import content_type

    answer = httpx.Response(200, headers={"Content-Type": "text/html\x1b[2J\x1b[8m##[error]x; q"})
    shown = content_type(answer)
    assert shown == "text/html\\x1b[2J\\x1b[8m##[error]x"


def _ignore_config(project: Project, pattern: str) -> None:
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    manifests: schedules\n    state: .reconciler/state.json\n"
        "    ignore:\n      names:\n        - " + json.dumps(pattern) + "\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    "command", [["validate"], ["remote", "list"], ["import", "--all-matching"]]
)
def test_an_ignore_pattern_with_a_line_break_is_refused(
    project: Project, command: list[str]
) -> None:
    """A pull request's `ignore: names:` pattern is printed as why a task is left alone; a
    character class kept it matching ("foreign_tas[k<LF>::error ...]"), and its line break
    started a workflow command in `remote list` and `import`. No name holds a control
    character: such a pattern is refused with the config."""
    _ignore_config(project, "foreign_tas[k\n::error title=forged::annotation\x1b\x07]")
    project.write("mine")
    result = project.run(*command)
    assert result.exit_code == 1, result.output
    assert "holds a control character" in result.output, result.output
    assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")]
    assert "\x1b" not in result.output


def test_a_full_width_punctuation_edit_keeps_chinese_text_readable(project: Project) -> None:
    """Only blanks and what shows nothing make two sides "read the same": a full-width comma
    for a comma is an edit a reader sees, and a Chinese alert escaped whole (as Unicode's
    compatibility folding had it) could no longer be read."""
    project.write("promo", alert="你好,世界(限时)")
    assert project.apply().exit_code == 0
    project.write("promo", alert="你好，世界（限时）")
    result = project.run("plan")
    assert '"你好,世界(限时)" -> "你好，世界（限时）"' in result.output, result.output
