"""A server that stores names with surrounding whitespace removed ("promo " as "promo"): a
create whose answer was lost is still found, so no run creates the schedule a second time.

The emulator's ``strip_names`` fault plays that server; ``commit_then_timeout_rate`` with
``hang_seconds`` 0 commits each POST and drops the connection before the answer.
"""

from __future__ import annotations

from reconciler.emulator import Faults
from tests.e2e.helpers import Project
from tests.kit.bodies import body

LOST = Faults(strip_names=True, commit_then_timeout_rate=1.0, hang_seconds=0)


def test_a_lost_create_renamed_by_the_server_is_adopted_not_created_again(
    project: Project,
) -> None:
    """Run 1 POSTs "promo " (stored as "promo", answer lost) and adopts the task it finds;
    run 2 sends nothing and the plan after it is empty: one task, one POST in all."""
    project.write_body(body("promo "), file="promo.yaml")
    project.emulator.faults = LOST
    first = project.apply()
    assert first.exit_code == 0, first.output
    project.emulator.faults = Faults(strip_names=True)
    second = project.apply()
    assert second.exit_code == 0, second.output
    assert [m for m, _ in project.write_summary()] == ["POST"]
    (task,) = project.emulator.schedules()
    assert task["name"] == "promo"
    assert project.state_ids() == {"promo ": task["schedule_id"]}
    assert project.state()["pending"] == {}
    plan = project.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "may store this name as 'promo'" in plan.output


def test_a_manifest_whose_name_the_server_would_strip_is_a_conflict_not_a_second_task(
    project: Project,
) -> None:
    """An unmanaged "promo" exists; the manifest "promo " would become a second "promo" on
    this server, so apply creates nothing and says how to adopt the existing task."""
    sid = project.out_of_band_create(body("promo"))
    project.mark()
    project.write_body(body("promo "), file="promo.yaml")
    project.emulator.faults = Faults(strip_names=True)
    result = project.apply()
    assert result.exit_code == 0, result.output
    assert project.writes() == []
    assert f"reconciler import promo ={sid}" in result.output or sid in result.output
    assert [t["schedule_id"] for t in project.emulator.schedules()] == [sid]
