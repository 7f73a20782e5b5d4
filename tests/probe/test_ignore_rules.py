"""Probe: ``ignore:`` rules in reconciler.yaml against the duplicate and foreign-write promises."""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import body

IGNORE_ADHOC = "environments:\n  default:\n    ignore:\n      names: ['adhoc_*']\n"


def test_an_ignored_task_of_a_manifests_name_is_never_duplicated(project: Project) -> None:
    """Promise: never two live tasks of one schedule.

    A live task ``adhoc_sale`` is matched by the rule ``adhoc_*``; a manifest of the same name
    (the same body even) is added. Without the rule the plan shows a conflict and creates
    nothing; with it the plan silently creates a second ``adhoc_sale``, so the audience is
    pushed twice. An ignore rule may hide a task from drift, but must not switch off the
    same-name check that keeps a manifest from duplicating a live task.
    """
    project.write("mine")
    project.write("adhoc_sale")
    project.out_of_band_create(body("adhoc_sale"))
    (project.root / "reconciler.yaml").write_text(IGNORE_ADHOC, encoding="utf-8")

    project.apply()

    live = project.remote().get("adhoc_sale", [])
    assert len(live) == 1, f"{len(live)} live tasks named 'adhoc_sale' after apply"


def test_import_all_matching_never_adopts_an_ignored_task(project: Project) -> None:
    """Promise: never edits or deletes a task it does not own.

    ``ignore:`` declares ``adhoc_*`` tasks as another team's. ``import --all-matching`` still
    adopts the live ``adhoc_sale`` because a manifest has its name; from then on plan and apply
    update it to the manifest and delete it when the manifest goes. The bulk import must leave
    ignored tasks alone (an explicit ``import NAME=ID`` remains the way to take one over).
    """
    project.write("mine")
    project.write("adhoc_sale", alert="ours")
    theirs = project.out_of_band_create(body("adhoc_sale", alert="theirs"))
    (project.root / "reconciler.yaml").write_text(IGNORE_ADHOC, encoding="utf-8")

    project.run("import", "--all-matching")

    adopted = project.state_ids() if project.state_path.exists() else {}
    assert theirs not in adopted.values(), f"the ignored task {theirs} was adopted: {adopted}"


def test_a_create_healed_from_the_journal_is_not_created_again_under_an_ignore_rule(
    project: Project,
) -> None:
    """Promise: never two live tasks of one schedule, also after a crash.

    ``apply`` POSTed ``adhoc_sale`` (ours, a manifest) and died before recording it: the
    journal holds a pending create. The environment ignores ``adhoc_*`` (other teams' ad-hoc
    pushes). The next apply heals the journal (adopts the task it finds), but the ignore
    filter is computed from the state *before* healing, so the adopted task is dropped from
    the inventory as ignored; the planner then sees a managed name whose task is gone and
    recreates it: a second live ``adhoc_sale``.
    """
    project.write("mine")
    project.write("adhoc_sale")
    assert project.apply().exit_code == 0
    state = project.state()
    entry = state["entries"].pop("adhoc_sale")
    state["pending"]["adhoc_sale"] = {
        "op": "create",
        "name": "adhoc_sale",
        "fingerprint": entry["fingerprint"],
        "started_at": entry["created_at"],
    }
    project.state_path.write_text(json.dumps(state), encoding="utf-8")
    (project.root / "reconciler.yaml").write_text(IGNORE_ADHOC, encoding="utf-8")
    project.mark()

    project.apply()

    live = project.remote().get("adhoc_sale", [])
    writes = project.write_summary()
    assert len(live) == 1, f"{len(live)} live tasks named 'adhoc_sale'; writes {writes}"
