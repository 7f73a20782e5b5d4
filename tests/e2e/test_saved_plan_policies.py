"""A saved plan keeps the push-policy exceptions it was planned with (`plan --allow-policy ...
--out FILE`): `apply FILE` allows exactly those, without the flags, and no other: not a rule the
plan was not made with, not a schedule that came to break a recorded rule since, not an
exception written into the file afterwards."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.e2e.helpers import Project
from tests.kit.bodies import single
from tests.kit.emulator import START

NIGHT = """\
environments:
  default:
    timezone: Europe/Berlin
    policies:
      quiet_hours: {from: "22:00", to: "08:00"}
      blackout_dates: {dates: ["2027-12-24"]}
"""


def _night_plan(project: Project) -> None:
    """A one-shot at 23:30 breaks the quiet hours; planned with the exception and saved."""
    (project.root / "reconciler.yaml").write_text(NIGHT, encoding="utf-8")
    project.write("night_owl", trigger=single("2027-03-01 23:30:00"))
    project.write("daytime", trigger=single("2027-03-01 12:00:00"))
    made = project.run("plan", "--allow-policy", "quiet_hours", "--out", "plan.json")
    assert made.exit_code == 0, made.output


def test_a_saved_plan_is_applied_with_the_exceptions_it_was_planned_with(
    project: Project,
) -> None:
    """The plan file records the allowed violation; `apply plan.json` without any flag
    creates both schedules and says which exceptions the file carried."""
    _night_plan(project)
    saved = json.loads((project.root / "plan.json").read_text(encoding="utf-8"))
    assert [(e["rule"], e["schedule"]) for e in saved["policy_exceptions"]] == [
        ("quiet_hours", "night_owl")
    ]
    applied = project.run("apply", "plan.json")
    assert applied.exit_code == 0, applied.output
    assert "Policy exceptions recorded in the saved plan: quiet_hours (night_owl)" in applied.output
    assert sorted(project.remote_ids()) == ["daytime", "night_owl"]


def test_apply_of_a_saved_plan_refuses_an_exception_the_plan_was_not_made_with(
    project: Project,
) -> None:
    """`--allow-policy blackout_dates` on the apply of a plan made with quiet_hours only is
    refused before any request; repeating the plan's own flag is accepted."""
    _night_plan(project)
    project.mark()
    refused = project.run("apply", "plan.json", "--allow-policy", "blackout_dates")
    assert refused.exit_code == 1, refused.output
    assert "the saved plan was made with --allow-policy quiet_hours" in refused.output
    assert project.emulator.request_log == []
    same = project.run("apply", "plan.json", "--allow-policy", "quiet_hours")
    assert same.exit_code == 0, same.output


def test_a_recorded_rule_does_not_cover_a_schedule_that_broke_it_since(project: Project) -> None:
    """min_lead_time allowed for the one-shot 1 h ahead; 40 minutes later another new one-shot
    (2 h 30 ahead when planned) is 1 h 50 ahead, inside the 2 h lead time: the saved plan's
    exception is for the first one only, so apply refuses, naming it, and sends nothing."""
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    timezone: UTC\n    policies:\n"
        "      min_lead_time: {hours: 2}\n",
        encoding="utf-8",
    )
    soon, later = START + timedelta(hours=1), START + timedelta(hours=2, minutes=30)
    project.write("soon", trigger=single(f"{soon:%Y-%m-%d %H:%M:%S}"))
    project.write("later", trigger=single(f"{later:%Y-%m-%d %H:%M:%S}"))
    made = project.run("plan", "--allow-policy", "min_lead_time", "--out", "plan.json")
    assert made.exit_code == 0, made.output
    project.emulator.set_time(START + timedelta(minutes=40))
    project.mark()
    refused = project.run("apply", "plan.json", "--allow-policy", "min_lead_time")
    assert refused.exit_code == 1, refused.output
    assert "policy min_lead_time: new one-shot 'later'" in refused.output
    assert "exceptions do not cover these" in refused.output
    assert project.writes() == []


def test_an_exception_written_into_a_plan_file_afterwards_is_refused(project: Project) -> None:
    """The plan file's checksum covers its exceptions: one added by hand (for the blackout
    rule) makes apply refuse the file as edited, before any request."""
    _night_plan(project)
    path = project.root / "plan.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["policy_exceptions"].append({**data["policy_exceptions"][0], "rule": "blackout_dates"})
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    project.mark()
    refused = project.run("apply", "plan.json")
    assert refused.exit_code == 1, refused.output
    assert "checksum does not match its content" in refused.output
    assert project.emulator.request_log == []
