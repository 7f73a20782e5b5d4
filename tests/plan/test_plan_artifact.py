"""The plan as an artifact: order, determinism, checksum, JSON round trip, staleness, drift."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reconciler.errors import PlanError, StalePlanError
from reconciler.planning.artifact import Plan
from reconciler.planning.inputs import Desired, json_digest
from reconciler.planning.planner import make_plan
from reconciler.planning.safety import PlanOptions
from reconciler.remote.observed import Inventory
from reconciler.state.schema import State
from tests.kit.bodies import periodical, single
from tests.plan.builders import (
    NOW,
    TZ,
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

FIXTURES = Path(__file__).parent / "fixtures"


def mixed() -> tuple[list[Desired], Inventory, State]:
    """One schedule per kind of action: the scenario of the golden plan file."""
    _, r_upd, e_upd = managed("b-update", "id-upd", alert="old")
    _, r_rep, e_rep = managed("c-replace", "id-rep")
    _, r_del, e_del = managed("d-delete", "id-del")
    _, r_del2, e_del2 = managed("a-delete", "id-del2")
    d_rec = desired("e-recreate", trigger=periodical())
    d_exp = desired("f-expired", trigger=single("2026-06-01 10:00:00"))
    d_conf = desired("g-conflict")
    want = [
        desired("h-create"),
        desired("b-update", alert="new"),
        desired("c-replace", trigger=single(zone_type=2)),
        d_rec,
        d_exp,
        d_conf,
        desired("i-skip", enabled=False),
    ]
    inv = inventory(
        r_upd, r_rep, r_del, r_del2,
        remote("id-conf", body("g-conflict", alert="console")),
        remote("id-stranger", body("z-stranger")),
    )  # fmt: skip
    st = state(
        {
            "b-update": e_upd,
            "c-replace": e_rep,
            "d-delete": e_del,
            "a-delete": e_del2,
            "e-recreate": entry("id-rec", d_rec.body),
            "f-expired": entry("id-exp", d_exp.body),
        }
    )
    return want, inv, st


def test_actions_are_ordered_deletes_updates_creates_then_reports() -> None:
    """Deletes (and forgets) first, then updates and replaces, then creates; by name within."""
    kinds = [(a.kind, a.name) for a in plan(*mixed()).actions]
    assert kinds == [
        ("delete", "a-delete"),
        ("delete", "d-delete"),
        ("expired", "f-expired"),
        ("update", "b-update"),
        ("replace", "c-replace"),
        ("recreate", "e-recreate"),
        ("create", "h-create"),
        ("conflict", "g-conflict"),
        ("skip", "i-skip"),
        ("unmanaged", "z-stranger"),
    ]


def test_same_inputs_in_any_order_give_byte_identical_plans() -> None:
    """Input order does not matter: shuffled manifests and inventory give the same bytes."""
    want, inv, st = mixed()
    shuffled = Inventory(
        schedules=dict(reversed(list(inv.schedules.items()))), total_count=inv.total_count
    )
    first = plan(want, inv, st).to_json()
    second = plan(list(reversed(want)), shuffled, st).to_json()
    assert first == second


def test_plan_file_round_trips_exactly() -> None:
    """from_json(to_json(p)) == p and serialising again gives the same bytes."""
    p = plan(*mixed(), max_deletes=1)
    text = p.to_json()
    again = Plan.from_json(text)
    assert again == p
    assert again.to_json() == text
    assert json.loads(text)["format_version"] == 1


def test_plan_file_format_v1_is_stable() -> None:
    """The golden v1 plan file still loads, round-trips, and equals a fresh plan of its scenario."""
    golden = (FIXTURES / "plan-v1-mixed.json").read_text(encoding="utf-8")
    assert Plan.from_json(golden).to_json() == golden
    assert plan(*mixed()).to_json() == golden


def test_a_plan_file_without_the_listed_digest_still_loads_and_round_trips() -> None:
    """Plan files made before ``listed_digest`` existed: valid, same checksum, same text."""
    older = (FIXTURES / "plan-v1-mixed-no-listed-digest.json").read_text(encoding="utf-8")
    assert "listed_digest" not in older
    loaded = Plan.from_json(older)
    assert loaded.inputs.listed_digest is None
    assert loaded.to_json() == older


def test_a_plan_file_without_the_state_digest_still_loads_and_round_trips() -> None:
    """Plan files made before ``state_digest`` existed: valid, same checksum, same text, and
    their state judged by lineage and serial alone."""
    older = (FIXTURES / "plan-v1-mixed-no-state-digest.json").read_text(encoding="utf-8")
    assert "state_digest" not in older
    loaded = Plan.from_json(older)
    assert loaded.inputs.state_digest is None
    assert loaded.to_json() == older
    _, _, st = mixed()
    rebound = st.model_copy(update={"entries": {}})
    assert loaded.state_stale_reasons(rebound) == []


def test_a_state_rebound_at_the_same_serial_makes_the_plan_stale() -> None:
    """A state file edited or replaced without moving its serial (a name bound to another
    task) is not the one the plan was made with: `apply PLAN_FILE` refuses it, where lineage
    and serial alone let it through. Its journal is not judged (apply resolves it first)."""
    want, inv, st = mixed()
    p = plan(want, inv, st)
    assert p.state_stale_reasons(st) == []
    name, entry = sorted(st.entries.items())[0]
    rebound = st.model_copy(
        update={"entries": {**st.entries, name: entry.model_copy(update={"schedule_id": "x9"})}}
    )
    assert (rebound.serial, rebound.lineage) == (st.serial, st.lineage)
    (reason,) = p.state_stale_reasons(rebound)
    assert "binds other tasks than when the plan was made" in reason
    with pytest.raises(StalePlanError):
        p.check_state(rebound)


def test_edited_plan_file_is_refused() -> None:
    """A plan file whose content no longer matches its checksum is refused."""
    data = json.loads(plan(*mixed()).to_json())
    data["actions"][0]["schedule_id"] = "someone-elses"
    with pytest.raises(PlanError, match="checksum does not match"):
        Plan.from_json(json.dumps(data))


def test_other_format_version_is_refused() -> None:
    """A plan file of another format_version is refused with a hint to re-plan."""
    data = json.loads(plan([]).to_json())
    data["format_version"] = 2
    with pytest.raises(PlanError, match="format_version 2"):
        Plan.from_json(json.dumps(data))


def test_non_json_plan_file_is_refused() -> None:
    """Garbage is a PlanError, not a traceback."""
    with pytest.raises(PlanError, match="not JSON"):
        Plan.from_json("{not json")


def test_schema_mismatch_is_refused() -> None:
    """A JSON object that is not a plan is a PlanError naming the first problem."""
    with pytest.raises(PlanError, match="does not match the plan schema"):
        Plan.from_json(json.dumps({"format_version": 1}))


def _edited_and_checksummed(edit: Callable[[dict[str, Any]], None]) -> str:
    """The mixed plan's file edited by hand, its checksum recomputed as anyone can."""
    data = json.loads(plan(*mixed()).to_json())
    edit(data)
    data["checksum"] = json_digest({k: v for k, v in data.items() if k != "checksum"})
    return json.dumps(data)


def _fires_at(value: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        update = next(a for a in data["actions"] if a["kind"] == "update")
        assert update["fires_at"]  # the honest plan has one to edit
        update["fires_at"] = value

    return edit


# A saved plan's clock, its zone and the next firing of each task it changes are read by the
# fire guard and the plan's views: text that is no time, a time without an offset, a zone no
# machine knows would fail (or mislead) after the first request, so the file is not read.
UNREADABLE_TIMES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "fires_at not a time": (
        _fires_at("soon"),
        r"actions\[3\]\.fires_at: 'soon' is not an ISO 8601 date-time",
    ),
    "fires_at without an offset": (
        _fires_at("2027-03-01T09:00:00"),
        r"actions\[3\]\.fires_at: '2027-03-01T09:00:00' has no UTC offset",
    ),
    "planned_at not a time": (
        lambda data: data.update(planned_at="yesterday"),
        r"planned_at: 'yesterday' is not an ISO 8601 date-time",
    ),
    "planned_at without an offset": (
        lambda data: data.update(planned_at="2027-01-01T12:00:00"),
        r"planned_at: '2027-01-01T12:00:00' has no UTC offset",
    ),
    "timezone unknown": (
        lambda data: data.update(timezone="Mars/Base"),
        r"timezone: 'Mars/Base' is not an IANA time zone name",
    ),
    "timezone a path": (
        lambda data: data.update(timezone="../../etc/passwd"),
        r"timezone: '\.\./\.\./etc/passwd' is not an IANA time zone name",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE_TIMES))
def test_a_plan_file_with_an_unreadable_time_or_zone_is_refused(case: str) -> None:
    """planned_at, timezone and an action's fires_at are checked when the file is read: a
    PlanError naming the field and the value, whatever the checksum says."""
    edit, message = UNREADABLE_TIMES[case]
    with pytest.raises(PlanError, match=message) as info:
        Plan.from_json(_edited_and_checksummed(edit))
    assert "plan --out" in (info.value.hint or "")


def test_a_plan_file_refusal_shows_the_files_control_characters_escaped() -> None:
    """A key or an action kind holding an escape sequence is quoted escaped, never raw."""

    def odd_kind(data: dict[str, Any]) -> None:
        data["actions"][0]["kind"] = "x\x1b]0;t\x07"

    def odd_key(data: dict[str, Any]) -> None:
        data["actions"][0]["k\x1b[2J"] = 1

    for edit, where in ((odd_kind, "actions[0]: "), (odd_key, "actions[0].'k\\x1b[2J': ")):
        with pytest.raises(PlanError) as info:
            Plan.from_json(_edited_and_checksummed(edit))
        assert where in info.value.message
        assert "\x1b" not in info.value.message
        assert "\x07" not in info.value.message


def test_a_plan_file_with_a_key_written_twice_is_refused() -> None:
    """A repeated key (a reader may take the first value, JSON the last) is refused whatever
    the checksum says, in any object of the file; the key is quoted escaped."""
    good = _edited_and_checksummed(lambda data: None)
    Plan.from_json(good)  # the honest file reads
    cases = {
        "'violations'": good.replace('"violations": ', '"violations": [], "violations": ', 1),
        "'name'": good.replace('"name": ', '"name": "other", "name": ', 1),
        r"'k\x1b[2J'": good.replace("{", r'{"k\u001b[2J": 1, "k\u001b[2J": 1, ', 1),
    }
    for shown, doubled in cases.items():
        assert doubled != good, shown
        with pytest.raises(PlanError) as info:
            Plan.from_json(doubled)
        assert f"holds the key {shown} twice in one object" in info.value.message
        assert "\x1b" not in info.value.message


def test_a_repeated_key_holding_a_credential_is_masked_before_it_is_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The repeated key is quoted cut short: cut first, a credential past the cut left a piece
    of it that no scrubber recognises (``...PPPemulator-d...``)."""
    secret = "Q7x2Vb9Lm3Zk8Wd4Np6Rt1Ys5"
    monkeypatch.setenv("ENGAGELAB_APP_KEY", "0123456789abcdef01234567")
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", secret)
    good = _edited_and_checksummed(lambda data: None)
    for pad in range(40, 64):
        key = "P" * pad + secret
        doubled = good.replace("{", f'{{"{key}": 1, "{key}": 1, ', 1)
        with pytest.raises(PlanError) as info:
            Plan.from_json(doubled)
        assert "twice in one object" in info.value.message
        assert not any(secret[n : n + 6] in info.value.message for n in range(len(secret) - 5))


def test_the_times_and_zone_the_planner_writes_read_back() -> None:
    """What the planner writes passes those checks, in any zone: the file reads back as made."""
    want, inv, st = mixed()
    for zone in ("UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"):
        made = make_plan(want, inv, st, now=NOW, tz=ZoneInfo(zone), options=PlanOptions())
        assert any(getattr(a, "fires_at", None) for a in made.actions)
        assert Plan.from_json(made.to_json()) == made


def _variants() -> dict[str, Plan]:
    want, inv, st = mixed()
    edited = [desired("h-create", alert="changed"), *want[1:]]
    protected = [desired("h-create", protected=True), *want[1:]]
    more_remote = inventory(*inv.schedules.values(), remote("id-new", body("new")))
    remote_edit = Inventory(
        schedules={**inv.schedules, "id-upd": remote("id-upd", body("b-update", alert="srv"))},
        total_count=inv.total_count,
    )
    return {
        "desired body": plan(edited, inv, st),
        "desired protection": plan(protected, inv, st),
        "new remote task": plan(want, more_remote, st),
        "remote body": plan(want, remote_edit, st),
        "inventory completeness": plan(
            want, Inventory(inv.schedules, complete=False, total_count=inv.total_count), st
        ),
        "state serial": plan(want, inv, st.model_copy(update={"serial": st.serial + 1})),
        "state lineage": plan(want, inv, st.model_copy(update={"lineage": "other"})),
        "now": plan(want, inv, st, now=NOW + timedelta(seconds=1)),
        "time zone": make_plan(
            want, inv, st, now=NOW, tz=ZoneInfo("Asia/Tokyo"), options=PlanOptions()
        ),
        "options": plan(want, inv, st, force=True),
    }


@pytest.mark.parametrize("what", list(_variants()))
def test_checksum_changes_when_any_input_changes(what: str) -> None:
    """Changing any one input (desired, remote, state, now, zone, options) moves the checksum."""
    base = plan(*mixed())
    assert _variants()[what].checksum != base.checksum


def test_digests_ignore_manifest_file_locations() -> None:
    """Moving a manifest to another file is not a change of the desired set."""
    want, inv, st = mixed()
    moved = [Desired(d.name, d.body, d.protected, "elsewhere.yaml:9") for d in want]
    assert plan(moved, inv, st).inputs == plan(want, inv, st).inputs


def test_fresh_plan_passes_check_fresh() -> None:
    """Against the inputs it was made from, a plan is not stale."""
    want, inv, st = mixed()
    p = plan(want, inv, st)
    assert p.stale_reasons(want, inv, st) == []
    p.check_fresh(want, inv, st)


def test_plan_is_stale_when_manifests_remote_or_state_moved() -> None:
    """Each moved input is named in the stale error."""
    want, inv, st = mixed()
    p = plan(want, inv, st)
    moved_inv = inventory(*inv.schedules.values(), remote("id-x", body("x")))
    moved_st = st.model_copy(update={"serial": st.serial + 1})
    reasons = p.stale_reasons(want[1:], moved_inv, moved_st)
    assert reasons == [
        "the manifests changed since the plan was made",
        "remote task(s) appeared since the plan was made: 'x' (id-x)",
        "the state file moved from serial 3 to 4",
    ]
    with pytest.raises(StalePlanError, match="stale"):
        p.check_fresh(want, inv, moved_st)


def test_has_changes_is_false_for_reports_only() -> None:
    """Conflicts, unmanaged tasks and skips change nothing: has_changes stays False."""
    d = desired("x")
    p = plan(
        [d, desired("y", enabled=False)], inventory(remote("r", d.body), remote("s", body("s")))
    )
    assert {a.kind for a in p.actions} == {"conflict", "skip", "unmanaged"}
    assert not p.has_changes


def test_counts_cover_every_kind() -> None:
    """counts() has every kind, zero when absent."""
    c = plan(*mixed()).counts()
    assert c == {
        "delete": 2,
        "expired": 1,
        "update": 1,
        "replace": 1,
        "refresh": 0,
        "create": 1,
        "recreate": 1,
        "conflict": 1,
        "unmanaged": 1,
        "skip": 1,
    }


def test_drift_items_report_remote_edits_deletions_unmanaged_and_unapplied() -> None:
    """The drift view names remote edits, out-of-band deletions, unmanaged tasks and unapplied
    manifest changes (in plan order), and nothing for schedules in sync."""
    ds, inv, st = in_sync("edited", "quiet")
    d_gone = desired("vanished", trigger=periodical())
    inv = inventory(
        remote("id-edited", body("edited", alert="hand edit")),
        inv.schedules["id-quiet"],
        remote("id-new", body("console")),
    )
    st = state({**st.entries, "vanished": entry("id-v", d_gone.body)})
    items = plan([*ds, d_gone, desired("fresh")], inv, st).drift_items()
    assert [(i.kind, i.name) for i in items] == [
        ("remote_edit", "edited"),
        ("unapplied", "fresh"),
        ("remote_delete", "vanished"),
        ("unmanaged", "console"),
    ]
    assert items[0].changes[0].path == "push.body.notification.alert"


def test_in_sync_plan_has_no_drift() -> None:
    """Nothing drifted: the drift view is empty."""
    assert plan(*in_sync("a", "b")).drift_items() == []


def test_plan_records_active_counts_and_timezone() -> None:
    """The plan says how many tasks are active before and after, and which zone it used."""
    p = plan(*mixed())
    assert (p.active_before, p.active_after, p.managed) == (6, 6, 6)  # -2 delete, +1, +1
    assert p.timezone == str(TZ)
    assert p.planned_at == "2027-01-01T12:00:00+00:00"


def _with_create_body(p: Plan, edit: Callable[[dict[str, Any]], None]) -> Plan:
    """``p`` with its create's body edited as a plan file can be (checksum recomputed)."""
    data = json.loads(p.to_json())
    create = next(a for a in data["actions"] if a["kind"] == "create")
    edit(create["body"])
    forged = Plan.model_validate(data)
    return forged.model_copy(update={"checksum": forged.compute_checksum()})


def test_a_saved_write_body_is_the_manifests_canonical_body_itself() -> None:
    """Apply sends a saved body as the file writes it, so the body must be the manifest's
    canonical body itself: keys in another order pass (the digest sorts them), a body that is
    the same only once canonicalised (a null added, weekdays reordered in another case) is
    refused. It passed before, and the server received what no manifest says."""
    want = [desired("new", trigger=periodical(point=["MON", "THU"]))]
    st = state()
    honest = plan(want, inventory(), st)
    honest.check_writes(st, want, [])

    def reordered(b: dict[str, Any]) -> None:
        trigger = b.pop("trigger")
        b["trigger"] = dict(reversed(list(trigger.items())))

    _with_create_body(honest, reordered).check_writes(st, want, [])

    def rewritten(b: dict[str, Any]) -> None:
        b["push"]["sound"] = None
        b["trigger"]["periodical"]["point"] = ["thu", "mon"]

    with pytest.raises(PlanError, match="its body is not the manifest's"):
        _with_create_body(honest, rewritten).check_writes(st, want, [])


def test_a_saved_write_body_that_is_not_the_manifests_is_refused() -> None:
    want = [desired("new", trigger=periodical(point=["MON", "THU"]))]
    st = state()

    def changed(b: dict[str, Any]) -> None:
        b["trigger"]["periodical"]["point"] = ["MON"]

    forged = _with_create_body(plan(want, inventory(), st), changed)
    with pytest.raises(PlanError, match="its body is not the manifest's"):
        forged.check_writes(st, want, [])
