"""Probe: a remote body's keys and values holding control characters or characters that show
nothing, printed in a field path of ``plan``, ``drift`` and their pull-request comments."""

from __future__ import annotations

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
