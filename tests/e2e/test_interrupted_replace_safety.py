"""An interrupted replace is finished even while a safety rule refuses the rest of the plan.

A replace that died after its new task was created leaves two live tasks of one schedule, both
firing. Deleting the old one pays a debt the journal recorded for a change applied half-way; the
safety rules (fire guard, mass delete, prevent_destroy, active limit) guard *new* changes, so
none of them may hold it up: apply deletes the old task, then refuses the plan as before.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from reconciler.planning import canonical
from tests.e2e.helpers import Project
from tests.kit.bodies import body, single

PROMO_AT = "2027-03-05 10:00:00"


def interrupted_replace(project: Project) -> tuple[str, str]:
    """ "promo" replaced (zone_type 1 -> 2) by an apply that died after the POST committed.

    The state is what such a crash leaves (tests/e2e/test_crash.py makes it by killing a real
    apply): the old entry, and a pending replace of it with the new body's fingerprint. The new
    task exists on the server. Returns (old id, new id)."""
    project.write("promo", trigger=single(PROMO_AT, zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    new_body = project.write("promo", trigger=single(PROMO_AT, zone_type=2))
    new = project.out_of_band_create(new_body)
    data = project.state()
    data["pending"]["promo"] = {
        "op": "replace",
        "name": "promo",
        "fingerprint": canonical.fingerprint(new_body),
        "old_schedule_id": old,
        "started_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
    }
    project.state_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    project.mark()
    return old, new


class Rule:
    """One safety rule: ``setup`` writes manifests applied with "promo", ``violate`` then makes
    the plan break the rule; ``reason`` is in the refusal."""

    reason = ""

    def setup(self, project: Project) -> None:
        pass

    def violate(self, project: Project) -> None:
        pass


class FireGuard(Rule):
    """An update of "flash", which then fires in 3 minutes (default guard: 5)."""

    reason = "'flash' fires at"
    at = "2027-03-01 10:00:00"

    def setup(self, project: Project) -> None:
        project.write("flash", trigger=single(self.at), alert="v1")

    def violate(self, project: Project) -> None:
        hour = datetime.strptime(self.at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        project.emulator.set_time(hour.replace(hour=9, minute=57))
        project.write("flash", trigger=single(self.at), alert="v2")


class OldTaskInGuard(FireGuard):
    """As FireGuard, at the time the old "promo" task fires as well."""

    at = PROMO_AT


class MassDelete(Rule):
    """Four of eleven managed manifests removed (more than 30 %)."""

    reason = "mass delete: 4 of 11"
    names = tuple(f"s{i:02d}" for i in range(10))

    def setup(self, project: Project) -> None:
        for name in self.names:
            project.write(name)

    def violate(self, project: Project) -> None:
        for name in self.names[:4]:
            project.remove(name)


class PreventDestroy(Rule):
    """The manifest of a prevent_destroy schedule ("keep") removed."""

    reason = "'keep' has lifecycle.prevent_destroy"

    def setup(self, project: Project) -> None:
        project.write("keep", protected=True)

    def violate(self, project: Project) -> None:
        project.remove("keep")


class MaxActive(Rule):
    """An active limit of 2 ("promo" and "steady") and a new manifest ("extra") to create."""

    reason = "active limit: apply would need 3"

    def setup(self, project: Project) -> None:
        project.write("steady")

    def violate(self, project: Project) -> None:
        (project.root / "reconciler.yaml").write_text(
            "environments:\n  default:\n    max_active: 2\n", encoding="utf-8"
        )
        project.write("extra")


RULES: dict[str, Rule] = {
    "fire guard": FireGuard(),
    "fire guard on the old task itself": OldTaskInGuard(),
    "mass delete": MassDelete(),
    "prevent_destroy elsewhere": PreventDestroy(),
    "active limit": MaxActive(),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_an_interrupted_replace_is_finished_while_a_rule_refuses_the_plan(
    project: Project, rule: str
) -> None:
    """With an unrelated safety violation in the plan, apply still deletes the replaced task
    (one DELETE, nothing else), exits 1 naming the rule, and leaves one "promo" task (the new
    one) that the state points at with an empty journal."""
    RULES[rule].setup(project)
    old, new = interrupted_replace(project)
    RULES[rule].violate(project)
    project.mark()
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "the plan is unsafe and was not applied" in result.output
    assert RULES[rule].reason in result.output, result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    assert [t["schedule_id"] for t in project.remote()["promo"]] == [new]
    assert project.state_ids()["promo"] == new
    assert project.state()["pending"] == {}


def test_plan_says_apply_finishes_the_journal_while_it_refuses(project: Project) -> None:
    """`reconciler plan` (read-only) refuses the unsafe plan and says that apply still finishes
    the interrupted replace."""
    PreventDestroy().setup(project)
    interrupted_replace(project)
    PreventDestroy().violate(project)
    project.mark()
    result = project.run("plan")
    assert result.exit_code == 1
    assert "finishes it even while the safety rules below refuse" in result.output
    assert project.writes() == []


def test_an_unresolved_name_does_not_hold_up_a_resolved_replace(project: Project) -> None:
    """Another journalled create that an incomplete read cannot resolve stops the plan, but the
    replace whose new task was found is finished first (its old task deleted)."""
    from reconciler.emulator import Faults

    old, new = interrupted_replace(project)
    data = project.state()
    data["pending"]["ghost"] = {
        "op": "create",
        "name": "ghost",
        "fingerprint": canonical.fingerprint(body("ghost")),
        "started_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
    }
    project.state_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    project.write("ghost")
    # Unmanaged tasks appear and vanish between list pages: the read never adds up.
    for i in range(60):
        project.out_of_band_create(body(f"filler{i:02d}"))
    project.emulator.faults = Faults(churn_per_page=3)
    project.mark()
    result = project.apply()
    project.emulator.fresh_faults()
    assert result.exit_code == 1, result.output
    assert "cannot be resolved from an incomplete remote read" in result.output
    assert [w for w in project.write_summary() if w[1].endswith(old)] == [
        ("DELETE", f"/v4/schedules/{old}")
    ]
    assert [t["schedule_id"] for t in project.remote()["promo"]] == [new]
    assert "ghost" in project.state()["pending"]


def _refuse_deleting(project: Project, monkeypatch: pytest.MonkeyPatch, schedule_id: str) -> None:
    """The server refuses to delete ``schedule_id`` (400) until the test ends."""
    from reconciler.emulator.wire import invalid

    delete = project.emulator.api_delete

    def refusing(target: str) -> object:
        if target == schedule_id:
            raise invalid("this task cannot be deleted now")
        return delete(target)

    monkeypatch.setattr(project.emulator, "api_delete", refusing)


def test_a_debt_that_cannot_be_paid_keeps_the_name_out_of_the_run(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old task of an interrupted replace cannot be deleted in this run (the server refuses
    its DELETE), and the manifest changed again so that "promo" is to be replaced once more.
    Carried out, that replace would journal over the debt and the old task would fire on with
    nothing left to delete it. Apply leaves "promo" alone (exit 1, saying why); once the
    DELETE goes through, the next apply pays the debt and replaces: one "promo" task."""
    old, new = interrupted_replace(project)
    project.write("promo", trigger=single(PROMO_AT, zone_type=1))  # away from the new task's 2
    refuse = project.emulator.api_delete
    _refuse_deleting(project, monkeypatch, old)
    project.mark()
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert f"still owes the delete of the replaced task {old}" in result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    assert project.state()["pending"]["promo"]["old_schedule_id"] == old

    monkeypatch.setattr(project.emulator, "api_delete", refuse)
    result = project.apply()
    assert result.exit_code == 0, result.output
    (task,) = project.remote()["promo"]
    assert task["schedule_id"] not in (old, new)
    assert project.state_ids()["promo"] == task["schedule_id"]
    assert project.state()["pending"] == {}


def test_a_schedule_with_an_unpaid_debt_can_still_be_disabled(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what needs the journal's entry waits for the debt: disabling "promo" (an update of
    the new task) goes through, and the debt stays journalled for the next run."""
    old, new = interrupted_replace(project)
    project.write("promo", trigger=single(PROMO_AT, zone_type=2), enabled=False)
    _refuse_deleting(project, monkeypatch, old)
    project.mark()
    result = project.apply()
    assert result.exit_code == 1, result.output  # the debt's DELETE failed, and says so
    assert ("PUT", f"/v4/schedules/{new}") in project.write_summary()
    assert project.state()["pending"]["promo"]["old_schedule_id"] == old
    assert project.state_ids()["promo"] == new


def test_a_rename_onto_an_unpaid_debt_waits_and_the_rest_goes_on(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "promo" is renamed (lifecycle.previous_names) while the delete of its replaced task is
    refused: the rename, and what it would carry, wait for the debt; an unrelated change is
    applied all the same."""
    project.write("other", alert="v1")
    old, new = interrupted_replace(project)
    project.write("other", alert="v2")
    project.remove("promo")
    renamed = body("promo2", trigger=single(PROMO_AT, zone_type=2))
    project.write_body({**renamed, "lifecycle": {"previous_names": ["promo"]}})
    _refuse_deleting(project, monkeypatch, old)
    project.mark()
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "not carried out, the journal still owes the delete" in result.output
    other = project.state_ids()["other"]
    assert ("PUT", f"/v4/schedules/{other}") in project.write_summary()
    assert project.state()["pending"]["promo"]["old_schedule_id"] == old
    assert project.state_ids()["promo"] == new
    assert "promo2" not in project.state_ids()


def test_a_removed_manifest_with_an_unpaid_debt_has_both_tasks_deleted_in_the_end(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is removed while the replaced task cannot be deleted: the new task is
    deleted now, the debt stays journalled without a state entry, and the next apply deletes
    the old task: no "promo" task is left."""
    project.write("other")  # not an empty manifest set: that is refused on its own
    old, new = interrupted_replace(project)
    project.remove("promo")
    delete = project.emulator.api_delete
    _refuse_deleting(project, monkeypatch, old)
    project.mark()
    first = project.apply()
    assert first.exit_code == 1, first.output
    assert ("DELETE", f"/v4/schedules/{new}") in project.write_summary(), first.output
    assert project.state()["pending"]["promo"]["old_schedule_id"] == old
    assert "promo" not in project.state_ids()

    monkeypatch.setattr(project.emulator, "api_delete", delete)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert "promo" not in project.remote()
    assert project.state()["pending"] == {}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_drift_reports_the_old_task_of_an_interrupted_replace_as_live_drift(
    project: Project, fmt: str
) -> None:
    """Both tasks of an interrupted replace fire. Drift exited 2 with a warning on stderr, but
    its report (the text, the issue's Markdown, the JSON a cron reads) said "No drift" and
    `has_drift: false`. The old task is an item of the report now; apply, which deletes it,
    says so (its "No changes" is of the plan)."""
    old, new = interrupted_replace(project)
    result = project.run("drift", "--format", fmt)
    assert result.exit_code == 2, result.output
    assert "No drift" not in result.output
    assert "owed a delete by the journal of an interrupted apply" in result.output
    if fmt == "json":
        report = json.loads(result.output[result.output.index("{") :])
        assert report["has_drift"] is True
        assert [i["schedule_id"] for i in report["items"]] == [old]
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert f"deleted {old}: the task 'promo' had before an interrupted replace" in applied.output
    assert [t["schedule_id"] for t in project.emulator.schedules()] == [new]
    assert project.run("drift", "--format", fmt).exit_code == 0
