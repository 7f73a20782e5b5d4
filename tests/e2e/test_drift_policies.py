"""`reconciler drift` checks the push policies on the live versions of managed tasks: a task
edited out of band so that it breaks a rule git's version keeps is drift (with its name and the
rule), a violation git's version has too is not (validate and plan judged it), and
`--allow-policy` works as for plan."""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import body, single

CONFIG = """\
environments:
  default:
    timezone: Europe/Berlin
    policies:
      quiet_hours: {from: "22:00", to: "08:00"}
      blackout_dates: {dates: ["2027-12-24"]}
"""


def _edited_into_the_night(project: Project) -> str:
    """'promo' (12:00) and 'night_owl' (23:30, applied as an allowed exception) are managed;
    then someone moves 'promo' to 23:15 in the vendor's API. Returns promo's id."""
    (project.root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    project.write("promo", trigger=single("2027-03-01 12:00:00"))
    project.write("night_owl", trigger=single("2027-03-01 23:30:00"))
    applied = project.apply("--allow-policy", "quiet_hours")
    assert applied.exit_code == 0, applied.output
    sid = project.state_ids()["promo"]
    project.out_of_band_update(sid, body("promo", trigger=single("2027-03-01 23:15:00")))
    project.mark()
    return sid


def test_drift_reports_a_live_task_that_breaks_a_policy_git_keeps(project: Project) -> None:
    """The edited task is a policy drift item (name, id, rule, firing time) beside its remote
    edit, in JSON, text and the Markdown report; the schedule whose manifest breaks the rule
    itself (an exception reviewed in its plan) is not; nothing is written."""
    sid = _edited_into_the_night(project)
    result = project.run("drift", "--format", "json", "--report", "drift.md")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    items = {(i["kind"], i["name"]) for i in data["items"]}
    assert items == {("remote_edit", "promo"), ("policy", "promo")}
    [policy] = [i for i in data["items"] if i["kind"] == "policy"]
    assert policy["schedule_id"] == sid
    assert policy["detail"] == (
        "the live task breaks policy quiet_hours (error): 'promo' fires at 2027-03-01 23:15 "
        "Europe/Berlin, inside the quiet hours 22:00-08:00 in Europe/Berlin"
    )
    assert data["summary"]["policy"] == 1
    text = project.run("drift")
    assert text.exit_code == 2
    assert f"  ! policy promo (id {sid}): the live task breaks policy quiet_hours" in text.output
    assert text.output.rstrip().endswith("1 policy violation(s).")
    report = (project.root / "drift.md").read_text(encoding="utf-8")
    assert "| remote edits | remote deletions | unmanaged | unapplied | policy violations |" in (
        report
    )
    assert "<b>promo</b> — the live task breaks policy quiet_hours" in report
    assert project.writes() == []


def test_drift_allow_policy_lists_the_violation_as_an_exception(project: Project) -> None:
    """`drift --allow-policy quiet_hours` reports the live violation as a justified exception,
    not as drift (the remote edit itself still is); a rule the environment lacks is refused
    before any request."""
    sid = _edited_into_the_night(project)
    result = project.run("drift", "--format", "json", "--allow-policy", "quiet_hours")
    assert result.exit_code == 2, result.output  # the remote edit
    data = json.loads(result.stdout)
    assert {i["kind"] for i in data["items"]} == {"remote_edit"}
    assert [(e["rule"], e["schedule"], e["path"]) for e in data["policy_exceptions"]] == [
        ("quiet_hours", "promo", f"remote task {sid}")
    ]
    text = project.run("drift", "--allow-policy", "quiet_hours")
    assert "Policy exceptions (allowed with --allow-policy):" in text.output
    assert f"  - remote task {sid}: quiet_hours: 'promo' fires at 2027-03-01 23:15" in text.output
    project.mark()
    wrong = project.run("drift", "--allow-policy", "quiet-hours")
    assert wrong.exit_code == 1, wrong.output
    assert "has no such policy" in wrong.output
    assert project.emulator.request_log == []
