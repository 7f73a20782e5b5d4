"""Names a server may store in another spelling ("promo " as "promo") are one name to the
planner and to the journal: never a second task because a server stripped a space."""

from __future__ import annotations

import pytest

from reconciler.apply.healing import heal_journal, require_healed
from reconciler.errors import InventoryError, PlanError
from reconciler.limits import LATE_COMMIT_GRACE
from reconciler.planning import canonical
from reconciler.planning.actions import ConflictAction, CreateAction
from reconciler.planning.inputs import Desired
from reconciler.state.schema import PendingEntry
from tests.plan.builders import NOW, body, entry, inventory, plan, remote, state


def _desired(name: str) -> Desired:
    return Desired(name, body(name), False, "schedules/promo.yaml:1")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("promo ", "promo"),
        (" promo", "promo"),
        ("spring  sale", "spring sale"),
        ("\u2f00x", "\u4e00x"),  # a compatibility ideograph (KANGXI RADICAL ONE) and its form
        ("promo", "promo"),
        ("Promo", "Promo"),  # case is kept: servers keep it
    ],
)
def test_name_key_is_the_form_a_server_may_store(name: str, key: str) -> None:
    """The key strips surrounding whitespace, folds inner runs and applies NFKC, nothing more."""
    assert canonical.name_key(name) == key


def test_a_journalled_create_is_adopted_when_the_server_stripped_its_name() -> None:
    """The POST of "promo " was answered by nothing; the server holds "promo" with the same
    body otherwise. Healing adopts it instead of concluding the POST never took effect (which
    made the next run create a second task)."""
    sent = body("promo ")
    stored = {**sent, "name": "promo"}
    pending = PendingEntry(
        op="create", name="promo ", fingerprint=canonical.fingerprint(sent), started_at=NOW
    )
    healing = heal_journal(state(pending={"promo ": pending}), inventory(remote("x1", stored)), NOW)
    assert healing.unresolved == []
    assert healing.state.pending == {}
    assert healing.state.entries["promo "].schedule_id == "x1"
    assert any("stored the name of x1 as 'promo'" in n for n in healing.notes)


def _lost_create(name: str, sent: dict[str, object]) -> PendingEntry:
    return PendingEntry(
        op="create", name=name, fingerprint=canonical.fingerprint(sent), started_at=NOW
    )


def test_a_lost_create_stored_under_a_name_of_the_servers_own_is_not_dropped() -> None:
    """Past the wait, "promo" is not listed but "PROMO" has its body: the server may have
    stored it in a form beyond the name key. The entry stays and the run stops naming the
    task; dropped, the next run would create "promo" a second time."""
    sent = body("promo")
    inv = inventory(remote("x1", {**sent, "name": "PROMO"}))
    later = NOW + LATE_COMMIT_GRACE
    healing = heal_journal(state(pending={"promo": _lost_create("promo", sent)}), inv, later)
    assert healing.look_alikes == [("promo", [("x1", "PROMO")])]
    assert "promo" in healing.state.pending
    with pytest.raises(InventoryError, match=r"x1 \(named 'PROMO'\) has its body"):
        require_healed(healing)


def test_a_replace_blocked_by_a_look_alike_names_the_forced_way_out() -> None:
    """A replace's journal entry is dropped by `state rm --pending` only with --force (its old
    task may still fire): the stop names that command, or the run could only stop again."""
    sent = body("promo")
    pending = PendingEntry(
        op="replace",
        name="promo",
        fingerprint=canonical.fingerprint(sent),
        started_at=NOW,
        old_schedule_id="old1",
    )
    inv = inventory(remote("x1", {**sent, "name": "PROMO"}))
    healing = heal_journal(state(pending={"promo": pending}), inv, NOW + LATE_COMMIT_GRACE)
    with pytest.raises(InventoryError) as raised:
        require_healed(healing)
    assert "`reconciler state rm --pending --force promo`" in str(raised.value.hint)


def test_the_twin_of_another_lost_create_is_no_look_alike() -> None:
    """Two creates of one body under two names, both answers lost: "b" was made (listed, and
    adopted by its own entry), "a" never was. "b"'s task is not taken for "a"'s under another
    name: "a" is dropped and made again, once."""
    a, b = body("a"), {**body("a"), "name": "b"}
    pending = {"a": _lost_create("a", a), "b": _lost_create("b", b)}
    later = NOW + LATE_COMMIT_GRACE
    healing = heal_journal(state(pending=pending), inventory(remote("x1", b)), later)
    assert healing.look_alikes == []
    assert healing.state.pending == {}
    assert healing.state.entries["b"].schedule_id == "x1"
    assert "'a': the interrupted create did not take effect" in healing.notes


def test_a_same_key_task_with_another_body_is_not_adopted() -> None:
    """Only the body decides ownership beside the name: a "promo" with other content is not the
    journalled create (it becomes a conflict in the plan, not a second task)."""
    sent = body("promo ")
    other = body("promo", alert="someone else's")
    pending = PendingEntry(
        op="create", name="promo ", fingerprint=canonical.fingerprint(sent), started_at=NOW
    )
    inv = inventory(remote("x1", other))
    healing = heal_journal(state(pending={"promo ": pending}), inv, NOW)
    assert "promo " not in healing.state.entries
    p = plan([_desired("promo ")], inv, healing.state)
    assert [type(a) for a in p.actions] == [ConflictAction]


def test_a_manifest_whose_name_a_server_would_strip_conflicts_with_the_stripped_task() -> None:
    """An unmanaged remote "promo" and a manifest "promo ": a create would be a second "promo"
    on a normalising server, so the plan shows a conflict and a warning about the name."""
    p = plan([_desired("promo ")], inventory(remote("x1", body("promo"))))
    assert [a.kind for a in p.actions] == ["conflict"]
    assert any("may store this name as 'promo'" in w for w in p.warnings)


def test_a_managed_task_whose_name_the_server_stripped_is_in_sync() -> None:
    """State "promo " -> x1, the server shows x1 as "promo": in sync, not an update that would
    send the same name back on every run."""
    sent = body("promo ")
    p = plan(
        [_desired("promo ")],
        inventory(remote("x1", {**sent, "name": "promo"})),
        state({"promo ": entry("x1", sent)}),
    )
    assert p.actions == []


def test_two_manifests_that_differ_only_in_whitespace_are_refused() -> None:
    """ "a b" and "a  b" are one name to a normalising server: refused like a duplicate name."""
    with pytest.raises(PlanError, match="differ only in whitespace"):
        plan([_desired("a b"), _desired("a  b")])


def test_plain_names_plan_as_before() -> None:
    """Names without anything to normalise: a create, no warning."""
    p = plan([_desired("promo")])
    assert [type(a) for a in p.actions] == [CreateAction]
    assert p.warnings == []
