"""Plan and drift output for machines and pull requests: JSON, Markdown, reports and exit codes."""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import body


def test_plan_json_is_versioned_and_counts_actions(project: Project) -> None:
    """`plan --format json` prints one JSON document: versioned, typed, with per-kind counts and
    the field changes of an update."""
    project.write("a", alert="v1")
    project.write("b")
    assert project.apply().exit_code == 0
    project.mark()
    project.write("a", alert="v2")
    project.write("c")
    result = project.run("plan", "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert (data["format_version"], data["type"], data["has_changes"]) == (1, "plan", True)
    assert data["summary"]["update"] == 1
    assert data["summary"]["create"] == 1
    (update,) = [a for a in data["actions"] if a["kind"] == "update"]
    assert update["name"] == "a"
    assert {"path": "push.body.notification.alert", "old": "v1", "new": "v2"}.items() <= (
        update["changes"][0].items()
    )
    assert project.writes() == []


def test_plan_markdown_starts_with_the_comment_marker(project: Project) -> None:
    """`plan --format markdown` begins with the hidden marker line CI uses to find its comment,
    and has a section for the schedule."""
    project.write("promo")
    result = project.run("plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "<!-- reconciler-plan:default -->"
    assert "<details>" in result.stdout
    assert "<b>promo</b>" in result.stdout


def test_drift_is_zero_when_in_sync(project: Project) -> None:
    """Right after apply, drift exits 0 and makes no write."""
    project.write("promo")
    assert project.apply().exit_code == 0
    project.mark()
    result = project.run("drift")
    assert result.exit_code == 0, result.output
    assert project.writes() == []


def test_drift_reports_an_out_of_band_edit(project: Project) -> None:
    """A task edited behind git's back: drift exits 2, names it and the field, writes the
    report as Markdown and as JSON, and sends nothing."""
    project.write("promo", alert="Ours")
    project.write("quiet")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["promo"]
    project.out_of_band_update(sid, body("promo", alert="Theirs"))
    project.mark()

    md, js = project.root / "drift.md", project.root / "drift.json"
    result = project.run("drift", "--report", str(md))
    assert result.exit_code == 2, result.output
    assert "promo" in result.stdout
    assert "quiet" not in result.stdout
    report = md.read_text(encoding="utf-8")
    assert report.splitlines()[0] == "<!-- reconciler-drift:default -->"
    assert "<b>promo</b>" in report
    assert "Theirs" in report

    assert project.run("drift", "--report", str(js)).exit_code == 2
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["has_drift"] is True
    assert [(i["kind"], i["name"], i["schedule_id"]) for i in data["items"]] == [
        ("remote_edit", "promo", sid)
    ]
    assert project.writes() == []


def test_drift_reports_deletions_unmanaged_and_unapplied(project: Project) -> None:
    """A remote deletion, a new unmanaged task and an unapplied manifest each show up as their
    own kind of drift in `drift --format json`."""
    project.write("deleted")
    project.write("kept")
    assert project.apply().exit_code == 0
    project.out_of_band_delete(project.state_ids()["deleted"])
    stranger = project.out_of_band_create(body("stranger"))
    project.write("fresh")
    project.mark()

    result = project.run("drift", "--format", "json")
    assert result.exit_code == 2, result.output
    items = {(i["kind"], i["name"]) for i in json.loads(result.stdout)["items"]}
    assert items == {
        ("remote_delete", "deleted"),
        ("unmanaged", "stranger"),
        ("unapplied", "fresh"),
    }
    assert stranger in result.stdout
    assert project.writes() == []
