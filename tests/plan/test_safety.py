"""One test per safety rule of docs/design.md, checked on the Plan and reported all together."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.errors import UnsafePlanError
from reconciler.planning.actions import DeleteAction, RecreateAction, ReplaceAction, UpdateAction
from tests.kit.bodies import periodical, single
from tests.plan.builders import (
    NOW,
    body,
    desired,
    entry,
    in_sync,
    inventory,
    managed,
    plan,
    remote,
    state,
)


def _drop(names: list[str], keep: int) -> tuple[list, object, object]:
    """In-sync schedules `names`; the manifests of all but the first `keep` are removed."""
    ds, inv, st = in_sync(*names)
    return ds[:keep], inv, st


def test_deleting_more_than_30_percent_of_10_managed_is_a_mass_delete() -> None:
    """4 of 10 managed deleted (> 30 %) is refused without --allow-mass-delete."""
    names = [f"s{i:02d}" for i in range(10)]
    p = plan(*_drop(names, keep=6))
    assert len(p.of_kind("delete")) == 4
    assert len(p.violations) == 1
    assert p.violations[0].startswith("mass delete: 4 of 10 managed schedules")
    assert "--allow-mass-delete" in p.violations[0]


def test_deleting_exactly_30_percent_is_allowed() -> None:
    """3 of 10 is not more than 30 %: no violation (the threshold is strict)."""
    names = [f"s{i:02d}" for i in range(10)]
    assert plan(*_drop(names, keep=7)).violations == []


def test_mass_delete_ratio_does_not_apply_below_10_managed() -> None:
    """With 9 managed, deleting 5 is not a mass delete by ratio (too few to judge)."""
    names = [f"s{i:02d}" for i in range(9)]
    assert plan(*_drop(names, keep=4)).violations == []


def test_allow_mass_delete_lifts_the_ratio_rule() -> None:
    """--allow-mass-delete accepts a mass delete."""
    names = [f"s{i:02d}" for i in range(10)]
    assert plan(*_drop(names, keep=5), allow_mass_delete=True).violations == []


def test_more_deletes_than_max_deletes_is_refused() -> None:
    """--max-deletes 1 refuses 2 deletes, even far below the ratio rule's minimum."""
    p = plan(*_drop(["a", "b", "c", "d", "e"], keep=3), max_deletes=1)
    assert len(p.violations) == 1
    assert p.violations[0].startswith("too many deletes: 2 exceed --max-deletes 1")


def test_max_deletes_is_lifted_by_allow_mass_delete() -> None:
    """--allow-mass-delete also accepts more deletes than --max-deletes."""
    p = plan(*_drop(["a", "b", "c"], keep=1), max_deletes=1, allow_mass_delete=True)
    assert p.violations == []


def test_empty_manifest_set_never_deletes_everything() -> None:
    """No manifests at all (wrong directory?) never deletes the managed schedules, whatever
    the overrides."""
    p = plan(*_drop(["a", "b"], keep=0), allow_mass_delete=True, force=True)
    assert len(p.of_kind("delete")) == 2
    assert len(p.violations) == 1
    assert p.violations[0].startswith("the manifest set is empty")


def test_prevent_destroy_blocks_delete_even_after_the_manifest_is_gone() -> None:
    """The protection remembered in state blocks a delete whose manifest no longer says so."""
    keep, keep_r, keep_e = managed("keep", "id-k")
    _, r, e = managed("vault", "id-v", protected=True)
    p = plan([keep], inventory(keep_r, r), state({"keep": keep_e, "vault": e}))
    (action,) = p.actions
    assert isinstance(action, DeleteAction)
    assert action.protected
    assert len(p.violations) == 1
    assert "'vault' has lifecycle.prevent_destroy" in p.violations[0]
    assert "would be deleted" in p.violations[0]


def test_prevent_destroy_blocks_replace() -> None:
    """A replacement deletes the old task, so prevent_destroy blocks it too."""
    _, r, e = managed("vault", "id-v", protected=True)
    new = desired("vault", protected=True, trigger=single(zone_type=2))
    p = plan([new], inventory(r), state({"vault": e}))
    assert isinstance(p.actions[0], ReplaceAction)
    assert len(p.violations) == 1
    assert "would be replaced" in p.violations[0]


def test_replace_is_allowed_when_the_manifest_drops_prevent_destroy() -> None:
    """For a replace the manifest is present and authoritative: without prevent_destroy there,
    the replacement may run (and the new entry is recorded unprotected)."""
    _, r, e = managed("vault", "id-v", protected=True)
    new = desired("vault", protected=False, trigger=single(zone_type=2))
    p = plan([new], inventory(r), state({"vault": e}))
    (action,) = p.actions
    assert isinstance(action, ReplaceAction)
    assert not action.protected
    assert p.violations == []


def test_prevent_destroy_does_not_block_update() -> None:
    """An in-place update destroys nothing, so a protected schedule may still be updated."""
    _, r, e = managed("vault", "id-v", protected=True)
    p = plan([desired("vault", protected=True, alert="new")], inventory(r), state({"vault": e}))
    assert isinstance(p.actions[0], UpdateAction)
    assert p.violations == []


def test_active_limit_counts_unmanaged_tasks() -> None:
    """2 unmanaged + 1 managed + 1 create exceeds max_active 3: refused, unmanaged counted."""
    d, r, e = managed("a", "id-a")
    strangers = [remote(f"u{i}", body(f"u{i}")) for i in range(2)]
    p = plan([d, desired("new")], inventory(r, *strangers), state({"a": e}), max_active=3)
    assert (p.active_before, p.active_after) == (3, 4)
    assert len(p.violations) == 1
    assert p.violations[0].startswith("active limit: apply would need 4 active schedules")
    assert "2 of them not managed" in p.violations[0]


def test_active_limit_allows_creates_that_deletes_make_room_for() -> None:
    """Deletes run first: at the limit, one delete makes room for one create."""
    ds, inv, st = in_sync("a", "b", "c")
    p = plan([ds[0], ds[1], desired("d")], inv, st, max_active=3)
    assert p.active_after == 3
    assert p.violations == []


def test_replace_needs_a_free_slot_at_the_limit() -> None:
    """Replace creates before it deletes, so at the limit it cannot run."""
    _, r, e = managed("a", "id-a")
    p = plan(
        [desired("a", trigger=single(zone_type=2))], inventory(r), state({"a": e}), max_active=1
    )
    assert any(v.startswith("active limit") for v in p.violations)


def test_change_to_a_task_firing_within_the_guard_needs_force() -> None:
    """An update of a task that fires in 3 minutes (guard 5) races the push: refused."""
    soon = single(time="2027-01-01 13:03:00")  # 12:03 UTC, now is 12:00 UTC
    _, r, e = managed("soon", "id-s", trigger=soon)
    p = plan([desired("soon", trigger=soon, alert="new")], inventory(r), state({"soon": e}))
    assert len(p.violations) == 1
    assert p.violations[0].startswith("'soon' fires at 2027-01-01T12:03:00+00:00 (in 3.0 min")
    assert "--force" in p.violations[0]


def test_force_lifts_the_fire_guard() -> None:
    """--force accepts a change to a task about to fire."""
    soon = single(time="2027-01-01 13:03:00")
    _, r, e = managed("soon", "id-s", trigger=soon)
    p = plan(
        [desired("soon", trigger=soon, alert="new")], inventory(r), state({"soon": e}), force=True
    )
    assert p.violations == []


def test_fire_guard_ignores_tasks_firing_later_than_the_guard() -> None:
    """A task firing in 6 minutes is outside a 5-minute guard."""
    later = single(time="2027-01-01 13:06:00")
    _, r, e = managed("later", "id-l", trigger=later)
    p = plan([desired("later", trigger=later, alert="new")], inventory(r), state({"later": e}))
    assert p.violations == []


def test_fire_guard_applies_to_deletes() -> None:
    """Deleting a task that fires within the guard needs --force too."""
    soon = single(time="2027-01-01 13:01:00")
    keep, keep_r, keep_e = managed("keep", "id-k")
    _, r, e = managed("soon", "id-s", trigger=soon)
    p = plan([keep], inventory(keep_r, r), state({"keep": keep_e, "soon": e}))
    assert [v.split(" ")[0] for v in p.violations] == ["'soon'"]


def test_fire_guard_ignores_a_disabled_remote_task() -> None:
    """A disabled task does not fire, so changing it cannot race a push."""
    soon = single(time="2027-01-01 13:01:00")
    _, r, e = managed("soon", "id-s", trigger=soon, enabled=False)
    p = plan([desired("soon", trigger=soon)], inventory(r), state({"soon": e}))
    assert isinstance(p.actions[0], UpdateAction)
    assert p.violations == []


def test_fire_guard_uses_the_next_periodical_firing() -> None:
    """A weekly task firing today in 2 minutes is guarded (2027-01-04 is a Monday)."""
    weekly = periodical(time="10:02:00", point=["MON"])
    _, r, e = managed("w", "id-w", trigger=weekly)
    monday = NOW + timedelta(days=3) - timedelta(hours=3)  # 2027-01-04 09:00 UTC = 10:00 Berlin
    p = plan([desired("w", trigger=weekly, alert="x")], inventory(r), state({"w": e}), now=monday)
    assert len(p.violations) == 1
    assert "in 2.0 min" in p.violations[0]


def test_incomplete_inventory_allows_no_delete() -> None:
    """A partial remote read cannot tell deleted from unread: no delete."""
    ds, inv, st = in_sync("a", "b")
    partial = inventory(*inv.schedules.values(), complete=False, problems=("page 2 failed",))
    p = plan(ds[:1], partial, st)
    assert len(p.violations) == 1
    assert p.violations[0].startswith("incomplete inventory (page 2 failed)")
    assert "'b'" in p.violations[0]


def test_incomplete_inventory_allows_no_recreate() -> None:
    """A task missing from a partial read may just be unread: no recreate."""
    d = desired("a")
    p = plan([d], inventory(complete=False), state({"a": entry("id-a", d.body)}))
    assert isinstance(p.actions[0], RecreateAction)
    assert len(p.violations) == 1
    assert p.violations[0].startswith("incomplete inventory (the list did not add up)")


def test_incomplete_inventory_allows_updates_but_not_creates() -> None:
    """An update targets a task the read saw; a create on a partial read could duplicate a
    same-name task the read missed, so it is refused like a delete."""
    _, r, e = managed("a", "id-a")
    p = plan([desired("a", alert="x")], inventory(r, complete=False), state({"a": e}))
    assert [a.kind for a in p.actions] == ["update"]
    assert p.violations == []
    p = plan([desired("a", alert="x"), desired("b")], inventory(r, complete=False), state({"a": e}))
    assert [a.kind for a in p.actions] == ["update", "create"]
    assert len(p.violations) == 1
    assert "creating, replacing, deleting or forgetting 'b'" in p.violations[0]


def test_all_violations_are_reported_together() -> None:
    """Every broken rule is listed in one go, in rule order, and check_safe raises with all."""
    soon = single(time="2027-01-01 13:01:00")
    _, r1, e1 = managed("vault", "id-v", protected=True)
    _, r2, e2 = managed("soon", "id-s", trigger=soon)
    inv = inventory(r1, r2, complete=False)
    p = plan([], inv, state({"vault": e1, "soon": e2}), max_deletes=1)
    assert [v.split(":")[0].split(" ")[0] for v in p.violations] == [
        "incomplete",
        "the",
        "too",
        "'vault'",
        "'soon'",
    ]
    with pytest.raises(UnsafePlanError) as caught:
        p.check_safe()
    assert caught.value.reasons == p.violations
    assert str(caught.value).count("\n  - ") == 5


def test_safe_plan_passes_check_safe() -> None:
    """A plan without violations is safe and check_safe returns quietly."""
    p = plan([desired("a")])
    assert p.is_safe
    p.check_safe()


def test_replacing_into_disabled_manifests_counts_as_deleting() -> None:
    """A replace into a disabled manifest deletes its task and creates none (the API makes no
    disabled task): 5 of 10 such replaces are a mass delete, as 5 deletes are. They were not
    counted, so disabling half the app with a zone change deleted it without a word."""
    names = [f"s{i:02d}" for i in range(10)]
    ds, inv, st = in_sync(*names)
    ds[:5] = [desired(n, enabled=False, trigger=single(zone_type=2)) for n in names[:5]]
    p = plan(ds, inv, st)
    assert len(p.of_kind("replace")) == 5
    assert [v for v in p.violations if v.startswith("mass delete: 5 of 10 managed")]
    assert plan(ds, inv, st, allow_mass_delete=True).violations == []
