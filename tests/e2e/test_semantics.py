"""Every row of docs/design.md "Plan semantics", end to end: the CLI and the served emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.e2e.helpers import Project
from tests.kit.bodies import body, single


def plan_json(project: Project) -> dict[str, Any]:
    result = project.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def kinds(project: Project) -> dict[str, str]:
    """name -> action kind of the current plan."""
    actions = plan_json(project)["actions"]
    return {a["name"]: a["kind"] for a in actions}


def test_create_posts_new_manifest_and_records_it(project: Project) -> None:
    """Row "manifest, no state entry, no remote task": one POST; the state maps name -> new id."""
    project.write("promo")
    assert kinds(project) == {"promo": "create"}
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert project.state_ids() == project.remote_ids() == {"promo": project.state_ids()["promo"]}
    entry = project.state()["entries"]["promo"]
    assert entry["fingerprint"].startswith("sha256:")
    assert project.state()["pending"] == {}


def test_disabled_manifest_is_skipped_until_enabled(project: Project) -> None:
    """Row "enabled: false, not yet created": skip (no call, no entry); enabling it creates it."""
    project.write("later", enabled=False)
    assert kinds(project) == {"later": "skip"}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    assert project.apply().exit_code == 0
    assert project.writes() == []
    assert project.emulator.schedules() == []
    assert project.state()["entries"] == {}

    project.write("later", enabled=True)
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("POST", "/v4/schedules")]
    assert set(project.state_ids()) == {"later"}


def test_remote_edit_is_undone_by_one_put(project: Project) -> None:
    """Row "manifest and managed remote task differ" (edited out of band): one full-body PUT
    restores the manifest's body."""
    project.write("promo", alert="Ours")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["promo"]
    project.out_of_band_update(sid, body("promo", alert="Theirs"))
    project.mark()

    plan = plan_json(project)
    (action,) = plan["actions"]
    assert (action["kind"], action["cause"]) == ("update", "remote")
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.remote()["promo"][0]["push"]["body"]["notification"]["alert"] == "Ours"


def test_apply_orders_deletes_then_updates_then_creates(project: Project) -> None:
    """One apply with a delete, an update and a create sends DELETE, then PUT, then POST."""
    project.write("gone")
    project.write("kept", alert="v1")
    assert project.apply().exit_code == 0
    ids = project.state_ids()
    project.remove("gone")
    project.write("kept", alert="v2")
    project.write("new")
    project.mark()
    assert project.apply().exit_code == 0
    assert project.write_summary() == [
        ("DELETE", f"/v4/schedules/{ids['gone']}"),
        ("PUT", f"/v4/schedules/{ids['kept']}"),
        ("POST", "/v4/schedules"),
    ]


def test_same_name_not_in_state_is_a_conflict_until_imported(project: Project) -> None:
    """Row "remote task with the manifest's name but not in state": conflict; apply neither
    creates a second task nor touches the existing one; `import NAME=ID` adopts it."""
    sid = project.out_of_band_create(body("promo"))
    project.write("promo")
    project.mark()

    assert kinds(project) == {"promo": "conflict"}
    result = project.apply()
    assert project.writes() == []
    assert "promo" in result.output
    assert [t["schedule_id"] for t in project.remote()["promo"]] == [sid]

    imported = project.run("import", f"promo={sid}")
    assert imported.exit_code == 0, imported.output
    assert project.state_ids() == {"promo": sid}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    assert project.writes() == []


def test_a_second_live_copy_of_a_managed_schedule_keeps_the_plan_unclean(
    project: Project,
) -> None:
    """A managed schedule and another task of its name (made by a second checkout with its
    own state file, or in the console) both fire: the push goes out twice. The plan said "No
    changes" (exit 0, one warning), so the pull-request check stayed quiet. Now plan exits 2
    naming the copy, apply touches nothing and says so, drift names it as a second task."""
    project.write("racer")
    assert project.apply().exit_code == 0
    twin = project.out_of_band_create(body("racer"))
    project.mark()

    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "racer: remote task(s)" in planned.output
    assert twin in planned.output
    assert "a schedule is live more than once" in planned.output
    comment = project.run("plan", "--format", "markdown").output
    assert "**Live more than once" in comment
    assert twin in comment
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert "No changes to apply." in applied.output
    assert "'racer' is live more than once" in applied.output
    # A copy another checkout's state manages would be made again if deleted: how to keep one.
    assert "In the checkout whose copy goes, `reconciler" in applied.output
    assert "state rm racer`, then `reconciler" in applied.output
    assert project.writes() == []
    drift = project.run("drift")
    assert drift.exit_code == 2, drift.output
    assert "a second task of the managed schedule 'racer'" in drift.output


def test_a_schedule_live_more_than_once_is_not_replaced_into_one_copy_more(
    project: Project,
) -> None:
    """A replace creates a task of the name before it deletes the old one. Next to an
    unmanaged copy (made elsewhere, or the new half of an earlier replace whose answer was
    lost) that would leave two live copies after the replace: it is held, named in the plan,
    until the copy is gone; then it goes ahead."""
    project.write("racer", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["racer"]
    twin = project.out_of_band_create(body("racer"))
    project.write("racer", trigger=single(zone_type=2))
    project.mark()

    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "not replaced" in planned.output
    assert twin in planned.output
    held = project.apply()
    assert held.exit_code == 0, held.output
    assert project.writes() == []
    assert sorted(t["schedule_id"] for t in project.remote()["racer"]) == sorted([old, twin])

    project.out_of_band_delete(twin)
    project.mark()
    replaced = project.apply()
    assert replaced.exit_code == 0, replaced.output
    assert [m for m, _ in project.write_summary()] == ["POST", "DELETE"]
    assert len(project.remote()["racer"]) == 1


def test_import_all_matching_adopts_each_conflict(project: Project) -> None:
    """`import --all-matching` adopts every remote task named like exactly one manifest; a
    remote body different from the manifest then shows as an update of the adopted task."""
    same = project.out_of_band_create(body("same"))
    differs = project.out_of_band_create(body("differs", alert="Theirs"))
    stranger = project.out_of_band_create(body("stranger"))
    project.write("same")
    project.write("differs", alert="Ours")
    project.mark()

    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert project.state_ids() == {"same": same, "differs": differs}
    assert project.writes() == []
    assert kinds(project) == {"differs": "update", "stranger": "unmanaged"}
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("PUT", f"/v4/schedules/{differs}")]
    assert stranger in {t["schedule_id"] for t in project.remote()["stranger"]}


def test_fired_one_shot_is_forgotten_and_never_recreated(project: Project) -> None:
    """Row "state entry, remote task gone, trigger time passed": expired. Apply forgets the entry
    without a call, and no later run creates the one-shot again."""
    project.write("flash", trigger=single("2027-03-01 10:00:00"))
    assert project.apply().exit_code == 0
    project.emulator.set_time(datetime(2027, 3, 1, 10, 5, tzinfo=UTC))  # it fires at 10:00
    assert project.emulator.schedules() == []
    project.mark()

    assert kinds(project) == {"flash": "expired"}
    assert project.apply().exit_code == 0
    assert project.state()["entries"] == {}
    for _ in range(2):
        result = project.apply()
        assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert project.emulator.schedules() == []
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_out_of_band_delete_is_recreated(project: Project) -> None:
    """Row "state entry, remote task gone, trigger still ahead": recreate with one POST; the
    state then points at the new task."""
    project.write("promo")
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    project.out_of_band_delete(old)
    project.mark()

    assert kinds(project) == {"promo": "recreate"}
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("POST", "/v4/schedules")]
    new = project.state_ids()["promo"]
    assert new != old
    assert project.remote_ids() == {"promo": new}


def test_trigger_entirely_in_the_past_is_skipped_with_a_warning(project: Project) -> None:
    """Row "manifest whose trigger is entirely in the past": skip with a warning; nothing is
    created."""
    project.write("bygone", trigger=single("2026-11-01 10:00:00"))
    plan = project.run("plan")
    assert plan.exit_code == 0, plan.output
    assert "entirely in the past" in plan.output
    assert kinds(project) == {"bygone": "skip"}
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert project.state()["entries"] == {}


def test_unmanaged_task_is_reported_and_never_touched(project: Project) -> None:
    """Row "remote task not in state and not in manifests": reported as unmanaged; applies that
    create, update and delete managed tasks never write to it."""
    foreign = project.out_of_band_create(body("foreign", alert="Not ours"))
    project.write("mine")
    project.write("also_mine")
    project.mark()
    assert kinds(project) == {"mine": "create", "also_mine": "create", "foreign": "unmanaged"}
    assert "foreign" in project.run("plan").output

    assert project.apply().exit_code == 0
    project.write("mine", alert="changed")
    project.remove("also_mine")
    assert project.apply().exit_code == 0
    assert all(foreign not in path for _, path in project.write_summary())
    assert project.remote()["foreign"][0]["push"]["body"]["notification"]["alert"] == "Not ours"
    assert "foreign" not in project.state_ids()


def test_immediate_intelligent_push_is_sent_once(project: Project) -> None:
    """An intelligent push with backup_time "now" is sent on creation; its vanished task is
    never created (and so sent) again."""
    project.write("now_push", trigger={"intelligent": {"backup_time": "now"}})
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("POST", "/v4/schedules")]
    project.emulator.advance(60)
    assert "now_push" not in project.remote()
    project.mark()
    for _ in range(2):
        result = project.apply()
        assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert kinds(project) == {"now_push": "skip"}
