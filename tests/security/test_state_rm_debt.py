"""`state rm` never drops the journalled deletion of an old task without saying so.

An interrupted replace leaves the new task in the state and a journal entry that owes the
deletion of the old one; both fire until the next apply pays that debt. Forgetting the entry
silently would leave the old task firing for good.
"""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import single


def _interrupted_replace(project: Project) -> tuple[str, str]:
    """promo replaced, its old task still live and journalled for deletion: (old, new) ids."""
    project.write("promo", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    old = project.state_ids()["promo"]
    data = project.write("promo", trigger=single(zone_type=2))
    new = project.out_of_band_create(data)  # the create half of the replace
    state = project.state()
    state["entries"]["promo"]["schedule_id"] = new
    state["pending"]["promo"] = {
        "op": "delete",
        "name": "promo",
        "fingerprint": state["entries"]["promo"]["fingerprint"],
        "old_schedule_id": old,
        "started_at": "2026-12-01T00:00:00Z",
    }
    project.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return old, new


def test_state_rm_refuses_to_drop_the_deletion_of_an_old_task(project: Project) -> None:
    """`state rm promo` and `state rm --pending promo` exit 1 naming the old task that still
    fires and `reconciler apply` as the way to finish it; the state file is unchanged."""
    old, _new = _interrupted_replace(project)
    before = project.state_path.read_bytes()
    for args in (("state", "rm", "promo"), ("state", "rm", "--pending", "promo")):
        result = project.run(*args)
        assert result.exit_code == 1, result.output
        assert old in result.stderr
        assert f"`reconciler --endpoint {project.url} apply`" in result.stderr
        assert project.state_path.read_bytes() == before


def test_state_rm_force_drops_it_with_a_warning(project: Project) -> None:
    """With --force the journal entry goes, and the output warns that the old task was not
    deleted and still fires."""
    old, new = _interrupted_replace(project)
    result = project.run("state", "rm", "--pending", "--force", "promo")
    assert result.exit_code == 0, result.output
    assert f"the old task {old} was not deleted and still fires" in result.output
    state = project.state()
    assert state["pending"] == {}
    assert state["entries"]["promo"]["schedule_id"] == new


def test_the_debt_kept_by_a_refused_rm_is_paid_by_the_next_apply(project: Project) -> None:
    """After the refusal, `reconciler apply` deletes the old task: one task is left, the new."""
    old, new = _interrupted_replace(project)
    assert project.run("state", "rm", "promo").exit_code == 1
    project.mark()
    assert project.apply().exit_code == 0
    assert project.write_summary() == [("DELETE", f"/v4/schedules/{old}")]
    assert project.remote_ids() == {"promo": new}
