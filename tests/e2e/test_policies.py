"""Push policies of reconciler.yaml through the CLI against the served emulator: a plan that
breaks an `error` rule is refused before any request, `--allow-policy` lets it through as a
justified exception the plan shows, and apply obeys the same rules."""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import single

CONFIG = """\
environments:
  default:
    timezone: Europe/Berlin
    policies:
      quiet_hours:
        from: "22:00"
        to: "08:00"
      required_fields:
        fields: [push.body.options.time_to_live]
        level: warning
"""


def _night(project: Project) -> None:
    (project.root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    project.write("night_owl", trigger=single("2027-03-01 23:30:00"))  # Berlin time
    project.write("daytime", trigger=single("2027-03-01 12:00:00"))


def test_plan_breaking_an_error_policy_is_refused_without_any_request(project: Project) -> None:
    """A one-shot at 23:30 in the app's zone breaks the quiet hours: plan exits 1, names the
    manifest at the line of its trigger time, the rule and the firing, and the emulator sees no
    request at all (the check runs before the remote is read)."""
    _night(project)
    project.mark()
    result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert "schedules/night_owl.yaml:" in result.output
    assert (
        "policy quiet_hours: 'night_owl' fires at 2027-03-01 23:30 Europe/Berlin" in result.output
    )
    assert "--allow-policy quiet_hours" in result.output
    assert project.writes() == []
    assert project.emulator.request_log == []
    # The line is that of `time:` under `trigger.single` in the file as written.
    lines = (project.schedules / "night_owl.yaml").read_text(encoding="utf-8").splitlines()
    time_line = next(n for n, text in enumerate(lines, 1) if "time: '2027-03-01 23:30:00'" in text)
    assert f"schedules/night_owl.yaml:{time_line}:" in result.output


def test_allow_policy_lets_the_plan_through_and_shows_the_exception(project: Project) -> None:
    """`--allow-policy quiet_hours` turns the refusal into a justified exception: the plan is
    made (text, json and markdown each show the exception), the warning-level rule is still
    a warning, and apply with the same flag creates both schedules."""
    _night(project)
    text = project.run("plan", "--allow-policy", "quiet_hours")
    assert text.exit_code == 0, text.output
    assert "Policy exceptions (allowed with --allow-policy):" in text.output
    assert "quiet_hours: 'night_owl' fires at 2027-03-01 23:30" in text.output
    assert "warning: schedules/daytime.yaml:" in text.output  # required_fields, a warning
    as_json = project.run("plan", "--format", "json", "--allow-policy", "quiet_hours")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert [(e["rule"], e["schedule"]) for e in data["policy_exceptions"]] == [
        ("quiet_hours", "night_owl")
    ]
    assert data["summary"]["create"] == 2
    markdown = project.run("plan", "--format", "markdown", "--allow-policy", "quiet_hours")
    assert markdown.exit_code == 0, markdown.output
    assert "**Policy exceptions (allowed with --allow-policy):**" in markdown.stdout
    assert markdown.stdout.rstrip().splitlines()[-1].startswith("<sub>planned at")
    assert project.writes() == []

    refused = project.apply()
    assert refused.exit_code == 1, refused.output
    assert "policy quiet_hours" in refused.output
    assert project.writes() == []
    applied = project.apply("--allow-policy", "quiet_hours")
    assert applied.exit_code == 0, applied.output
    assert "Policy exceptions" in applied.output
    assert sorted(project.remote_ids()) == ["daytime", "night_owl"]


def test_allow_policy_naming_no_rule_of_the_environment_is_refused(project: Project) -> None:
    """A misspelt `--allow-policy` must not silently allow nothing: exit 1 naming the rules."""
    _night(project)
    project.mark()
    result = project.run("plan", "--allow-policy", "quiet-hours")
    assert result.exit_code == 1, result.output
    assert "has no such policy" in result.output
    assert "quiet_hours" in result.output
    assert project.emulator.request_log == []


def test_min_lead_time_applies_to_new_one_shots_not_to_created_ones(project: Project) -> None:
    """A one-shot created long ago is not new: as its time nears, plan still goes through; a
    new one-shot for the same moment is refused (its manifest has no state entry)."""
    from datetime import UTC, datetime

    project.write("existing", trigger=single("2027-03-01 12:00:00"))
    assert project.apply().exit_code == 0
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    timezone: Europe/Berlin\n    policies:\n"
        "      min_lead_time: {hours: 2}\n",
        encoding="utf-8",
    )
    project.emulator.set_time(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))  # 11:00 in Berlin
    assert project.run("plan").exit_code == 0
    project.write("newcomer", trigger=single("2027-03-01 12:00:00"))
    project.mark()
    refused = project.run("plan")
    assert refused.exit_code == 1, refused.output
    assert "policy min_lead_time: new one-shot 'newcomer'" in refused.output
    assert "'existing'" not in refused.output
    assert project.emulator.request_log == []
