"""Probe: declarative renames (``lifecycle.previous_names``) and the same-name conflict rule."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body


@pytest.mark.parametrize("ignored", [False, True], ids=["unmanaged", "ignored"])
def test_a_rename_onto_a_live_unmanaged_name_is_a_conflict(project: Project, ignored: bool) -> None:
    """Promise: never two live tasks of one schedule (a name backs one task).

    A new manifest ``New`` beside an unmanaged live task ``New`` is a conflict: nothing is
    written until the user imports or renames. Reaching the same name through
    ``previous_names: [Old]`` skips that rule: the plan only warns, apply PUTs the managed
    task's name to ``New`` and the app then has two live tasks named ``New``. When the other
    ``New`` is matched by an ``ignore:`` rule, not even the warning is shown.
    """
    project.write("mine")
    project.write("Old")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("New", alert="theirs"))
    if ignored:
        (project.root / "reconciler.yaml").write_text(
            f"environments:\n  default:\n    ignore:\n      ids: ['{theirs}']\n",
            encoding="utf-8",
        )
    project.remove("Old")
    renamed = body("New")
    renamed["lifecycle"] = {"previous_names": ["Old"]}
    project.write_body(renamed)

    project.apply()

    live = project.remote().get("New", [])
    assert len(live) == 1, f"{len(live)} live tasks named 'New' after apply"
