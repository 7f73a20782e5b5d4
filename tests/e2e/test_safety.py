"""Every safety rule of docs/design.md: a refused plan exits 1, names the rule, writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import Result

from reconciler.emulator import Faults
from tests.e2e.helpers import Project
from tests.kit.bodies import body, single


def managed(project: Project, *names: str, **kwargs: object) -> dict[str, str]:
    """Write and apply manifests ``names``; returns name -> id, with the request log cleared."""
    for name in names:
        project.write(name, **kwargs)  # type: ignore[arg-type]
    result = project.apply()
    assert result.exit_code == 0, result.output
    project.mark()
    return project.state_ids()


def assert_refused(project: Project, result: Result, *reasons: str) -> None:
    assert result.exit_code == 1, result.output
    assert (
        "the plan is unsafe and was not applied" in result.output  # apply
        or "apply would refuse it" in result.output  # plan (it applies nothing)
    )
    for reason in reasons:
        assert reason in result.output, result.output
    assert project.writes() == []


def test_mass_delete_of_more_than_30_percent_is_refused(project: Project) -> None:
    """Deleting 4 of 10 managed schedules (> 30 %) is refused by plan and apply, no call made."""
    names = [f"s{i:02d}" for i in range(10)]
    before = managed(project, *names)
    for name in names[:4]:
        project.remove(name)

    assert_refused(project, project.run("plan"), "mass delete: 4 of 10", "--allow-mass-delete")
    assert_refused(project, project.apply(), "mass delete: 4 of 10")
    assert project.state_ids() == before
    assert len(project.emulator.schedules()) == 10


def test_deleting_up_to_30_percent_needs_no_override(project: Project) -> None:
    """3 of 10 (exactly 30 %) is not a mass delete: three DELETEs."""
    names = [f"s{i:02d}" for i in range(10)]
    managed(project, *names)
    for name in names[:3]:
        project.remove(name)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert [m for m, _ in project.write_summary()] == ["DELETE"] * 3


def test_allow_mass_delete_overrides_the_threshold(project: Project) -> None:
    """--allow-mass-delete lets the 4-of-10 delete through: four DELETEs, state updated."""
    names = [f"s{i:02d}" for i in range(10)]
    before = managed(project, *names)
    for name in names[:4]:
        project.remove(name)
    result = project.apply("--allow-mass-delete")
    assert result.exit_code == 0, result.output
    assert sorted(project.write_summary()) == sorted(
        ("DELETE", f"/v4/schedules/{before[n]}") for n in names[:4]
    )
    assert set(project.state_ids()) == set(names[4:])


def test_max_deletes_is_refused_below_the_ratio(project: Project) -> None:
    """--max-deletes 1 refuses 2 deletes even among 3 managed (where the ratio rule is off)."""
    managed(project, "a", "b", "c")
    project.remove("a")
    project.remove("b")
    assert_refused(project, project.apply("--max-deletes", "1"), "exceed --max-deletes 1")
    result = project.apply("--max-deletes", "2")
    assert result.exit_code == 0, result.output
    assert len(project.writes()) == 2


def test_empty_manifest_set_never_deletes_everything(project: Project) -> None:
    """With every manifest gone, apply refuses (even with --allow-mass-delete): an empty or
    mistyped manifest directory must not wipe the app."""
    before = managed(project, "a", "b")
    project.remove("a")
    project.remove("b")
    assert_refused(project, project.apply("--allow-mass-delete"), "the manifest set is empty")
    assert project.state_ids() == before
    assert len(project.emulator.schedules()) == 2


def test_prevent_destroy_is_remembered_after_the_manifest_is_gone(project: Project) -> None:
    """A protected schedule whose manifest was removed is not deleted: the protection comes from
    the state file. Un-protecting it first (apply with prevent_destroy: false) allows it."""
    before = managed(project, "keep", "other", protected=True)
    project.remove("keep")
    assert_refused(project, project.apply(), "'keep' has lifecycle.prevent_destroy")
    assert project.state_ids() == before

    project.write("keep", protected=False)
    unprotect = project.apply()
    assert unprotect.exit_code == 0, unprotect.output
    assert project.writes() == []  # a state-only refresh
    assert project.state()["entries"]["keep"]["protected"] is False
    project.remove("keep")
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{before['keep']}")]


def test_prevent_destroy_blocks_replace(project: Project) -> None:
    """A zone_type change of a protected schedule would delete it: refused, nothing sent."""
    before = managed(project, "keep", protected=True, trigger=single(zone_type=1))
    project.write("keep", protected=True, trigger=single(zone_type=2))
    assert_refused(project, project.apply(), "'keep' has lifecycle.prevent_destroy")
    assert project.remote_ids() == before


def test_active_limit_counts_unmanaged_tasks(project: Project) -> None:
    """With 999 tasks active that are not ours, one create fits the 1000 limit and a second
    does not: the refusal counts the unmanaged tasks and sends nothing."""
    for i in range(999):
        project.emulator.add_schedule(body(f"foreign_{i:04d}"))
    fast = ("--concurrency", "64")
    project.write("one")
    project.write("two")
    refused = project.run(*fast, "apply", "--auto-approve")
    assert_refused(project, refused, "active limit", "999 active now", "999 of them not managed")

    project.remove("two")
    result = project.run(*fast, "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("POST", "/v4/schedules")]


def test_change_within_the_fire_guard_needs_force(project: Project) -> None:
    """An update of a schedule firing in 3 minutes is refused (default guard 5 min); --force
    sends it."""
    before = managed(project, "flash", trigger=single("2027-03-01 10:00:00"), alert="v1")
    project.emulator.set_time(datetime(2027, 3, 1, 9, 57, tzinfo=UTC))
    project.write("flash", trigger=single("2027-03-01 10:00:00"), alert="v2")
    assert_refused(project, project.apply(), "'flash' fires at", "--force")
    result = project.apply("--force")
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{before['flash']}")]


def test_delete_within_the_fire_guard_needs_force(project: Project) -> None:
    """Deleting a schedule that fires within --fire-guard minutes races the push: refused; the
    same delete outside the guard goes through."""
    before = managed(project, "flash", "other", trigger=single("2027-03-01 10:00:00"))
    project.emulator.set_time(datetime(2027, 3, 1, 9, 50, tzinfo=UTC))
    project.remove("flash")
    assert_refused(project, project.apply("--fire-guard", "15"), "'flash' fires at")
    result = project.apply()  # 10 minutes ahead: outside the default 5-minute guard
    assert result.exit_code == 0, result.output
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{before['flash']}")]


def test_incomplete_inventory_allows_no_delete_and_no_recreate(project: Project) -> None:
    """While tasks appear and vanish between list pages (churn), the read cannot be trusted:
    a delete and a recreate are refused and nothing is sent."""
    ids = managed(project, "gone_out_of_band", "removed", "kept")
    for i in range(60):  # more than one page (50), so churn moves the list between pages
        project.emulator.add_schedule(body(f"foreign_{i:02d}"))
    project.out_of_band_delete(ids["gone_out_of_band"])
    project.remove("removed")
    project.mark()
    project.emulator.faults = Faults(churn_per_page=1, seed=7)

    result = project.apply()
    assert_refused(project, result, "incomplete inventory", "'gone_out_of_band'", "'removed'")
    assert project.state_ids() == ids


def test_a_read_that_misses_part_of_the_list_is_said_and_is_no_all_clear(
    project: Project,
) -> None:
    """While the list does not add up (churn between pages), the plan's warnings say so (in
    every rendering), and `drift` exits 1: a drift check that could not see the
    whole app is no "nothing drifted" for a cron job."""
    managed(project, "kept")
    for i in range(60):  # more than one page (50), so churn moves the list between pages
        project.emulator.add_schedule(body(f"foreign_{i:02d}"))
    project.emulator.faults = Faults(churn_per_page=1, seed=7)
    said = "the remote list was not read completely"
    plan = project.run("plan")
    assert said in plan.output, plan.output
    drift = project.run("drift")
    assert drift.exit_code == 1, drift.output
    assert said in drift.output, drift.output
    # In the plan's own warnings: a PR comment, a JSON consumer and a report file see it too.
    drift = project.run("drift", "--format", "json")
    assert drift.exit_code == 1, drift.output
    assert said in drift.stdout, drift.stdout
    project.emulator.faults = Faults()
    drift = project.run("drift")
    assert drift.exit_code == 2, drift.output  # the foreign tasks: unmanaged, nothing hidden
    assert said not in drift.output
