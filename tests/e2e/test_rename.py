"""Declarative renames (``lifecycle.previous_names``): a rename in a pull request, no state edit.

The plan shows ``~ rename OLD -> NEW`` and one update of the same task (its name is part of the
full body); apply moves the state entry and PUTs the new name; nothing is deleted or created.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body


def _renamed(project: Project, old: str, new: str, **kw: Any) -> None:
    project.remove(old)
    data = body(new, **kw)
    data["lifecycle"] = {"previous_names": [old]}
    project.write_body(data)


def test_a_declared_rename_updates_the_same_task(project: Project) -> None:
    """Old_name -> New_name: one PUT of the same id, the state follows, the next plan is clean."""
    project.write("Old_name")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["Old_name"]
    _renamed(project, "Old_name", "New_name")
    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "~ rename Old_name -> New_name" in planned.output
    assert "delete" not in planned.output.split("Plan:")[0].replace("to delete", "")
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in planned.output
    project.mark()
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.state_ids() == {"New_name": sid}
    assert project.remote_ids() == {"New_name": sid}
    again = project.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "previous_names 'Old_name' manage(s) no task any more" in again.output


def test_a_rename_with_other_changes_is_still_one_update(project: Project) -> None:
    """Renaming and changing the text in one pull request: one PUT carrying both."""
    project.write("Old_name", alert="Hello")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["Old_name"]
    _renamed(project, "Old_name", "New_name", alert="Bonjour")
    project.mark()
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    [task] = project.remote()["New_name"]
    assert task["push"]["body"]["notification"]["alert"] == "Bonjour"


def test_a_rename_interrupted_after_the_state_moved_converges(project: Project) -> None:
    """Apply moves the state entry before the PUT. Stopped right there (the state as that step
    leaves it, the remote task still under its old name), the next apply updates the same task:
    nothing is created twice or deleted."""
    project.write("Old_name")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["Old_name"]
    _renamed(project, "Old_name", "New_name")
    assert project.run("state", "mv", "Old_name", "New_name").exit_code == 0
    project.mark()
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.remote_ids() == {"New_name": sid}


def test_a_rename_whose_put_landed_before_the_state_moved_converges(project: Project) -> None:
    """The other order (the remote task already renamed, the state still under the old name,
    as a hand rename or an older version leaves it): a state-only refresh, no write."""
    project.write("Old_name")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["Old_name"]
    _renamed(project, "Old_name", "New_name")
    with project.api() as api:
        put = api.put(f"/v4/schedules/{sid}", json=body("New_name"))
    assert put.status_code == 200, put.text
    project.mark()
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    assert project.writes() == []
    assert project.state_ids() == {"New_name": sid}


def test_previous_names_must_not_name_the_schedule_itself(project: Project) -> None:
    """validate rejects a manifest listing its own name as a previous one."""
    data = body("Same")
    data["lifecycle"] = {"previous_names": ["Same"]}
    project.write_body(data)
    result = project.run("validate")
    assert result.exit_code == 1
    assert "previous_names lists the schedule's own name" in result.output


@pytest.mark.parametrize("spelling", ["promo", "promo "], ids=["same", "trailing-space"])
def test_a_rename_onto_an_unmanaged_task_of_the_same_name_key_is_refused(
    project: Project, spelling: str
) -> None:
    """Another task is named "promo" or "promo " (a trailing space): either way, renaming a
    managed task to "promo" would leave two live tasks of one name (names are compared as the
    planner compares them everywhere). The plan refuses before any write."""
    project.write("Old")
    assert project.apply().exit_code == 0
    project.out_of_band_create(body(spelling))
    _renamed(project, "Old", "promo")
    project.mark()
    planned = project.run("plan")
    assert planned.exit_code == 1, planned.output
    assert f"a remote task named {spelling!r} exists" in planned.output
    applied = project.apply()
    assert applied.exit_code == 1, applied.output
    assert project.writes() == []


def _with_previous(project: Project, name: str, *previous: str) -> None:
    data = body(name)
    data["lifecycle"] = {"previous_names": list(previous)}
    project.write_body(data)


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("apply", "--auto-approve")])
@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (
            lambda p: (p.write("Promo"), p.write_body(body("Promo "), file="copy.yaml")),
            "only in whitespace or character forms",
        ),
        (
            lambda p: (p.write("Old_name"), _with_previous(p, "New_name", "Old_name")),
            "lists 'Old_name', the name of the manifest at",
        ),
        (
            lambda p: (_with_previous(p, "A_one", "Gone"), _with_previous(p, "B_two", "Gone")),
            "lists 'Gone', as the manifest at",
        ),
    ],
    ids=["names-alike", "previous-name-in-use", "previous-name-twice"],
)
def test_names_the_plan_would_refuse_are_refused_before_any_request(
    project: Project, command: tuple[str, ...], setup: Any, said: str
) -> None:
    """Two names the server may store as one, and previous names that clash, are refused when
    the manifests are read, at the field: validate said "valid" and plan read the whole app
    before it refused them."""
    setup(project)
    project.mark()
    result = project.run(*command)
    assert result.exit_code == 1, result.output
    assert said in result.output, result.output
    assert ".yaml:" in result.output
    assert project.emulator.request_log == []
