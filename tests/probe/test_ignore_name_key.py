"""Probe: an ignore rule and a manifest whose name the server would store in another form."""

from __future__ import annotations

from reconciler.emulator import Faults
from tests.e2e.helpers import Project
from tests.kit.bodies import body

IGNORE_ADHOC = "environments:\n  default:\n    ignore:\n      names: ['adhoc*']\n"


def test_an_ignored_task_of_a_manifests_stored_name_is_never_duplicated(
    project: Project,
) -> None:
    """Promise: never two live tasks of one schedule.

    The server stores names stripped ("adhoc_sale " as "adhoc_sale"); a live, unmanaged
    "adhoc_sale" matches the rule ``adhoc*``. A manifest "adhoc_sale " is one name with it
    for the planner (``canonical.name_key``: a conflict, nothing created), but the ignore
    rules kept only tasks whose name equals a manifest's exactly, so the task was hidden and
    apply created a second "adhoc_sale".
    """
    project.emulator.faults = Faults(strip_names=True)
    sid = project.out_of_band_create(body("adhoc_sale"))
    project.write("mine")
    project.write_body(body("adhoc_sale "), file="adhoc_sale.yaml")
    (project.root / "reconciler.yaml").write_text(IGNORE_ADHOC, encoding="utf-8")

    project.apply()

    live = [t["schedule_id"] for t in project.emulator.schedules() if t["name"] == "adhoc_sale"]
    assert live == [sid], f"{len(live)} live tasks named 'adhoc_sale' after apply"
