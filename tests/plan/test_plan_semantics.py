"""One test per row of docs/design.md "Plan semantics", plus the edge cases around each row."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.planning import canonical
from reconciler.planning.actions import (
    ConflictAction,
    CreateAction,
    DeleteAction,
    ExpiredAction,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UnmanagedAction,
    UpdateAction,
    drift_of,
)
from reconciler.planning.diff import FieldChange
from reconciler.state.schema import PendingEntry
from tests.kit.bodies import intelligent, periodical, single
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


def test_in_sync_schedules_plan_nothing() -> None:
    """Manifest, remote task and state entry that agree produce no action at all."""
    p = plan(*in_sync("a", "b", "c"))
    assert p.actions == []
    assert not p.has_changes


def test_new_manifest_without_state_or_remote_is_created() -> None:
    """Row 1: manifest, no state entry, no remote task of that name -> create with the body."""
    d = desired("welcome", protected=True)
    p = plan([d])
    assert p.actions == [
        CreateAction(
            name="welcome",
            body=d.body,
            fingerprint=canonical.fingerprint(d.body),
            protected=True,
            source="schedules/welcome.yaml:1",
        )
    ]
    assert p.has_changes


def test_disabled_manifest_not_yet_created_is_skipped() -> None:
    """Row 2: enabled: false and never created -> skip (create would need enabled: true)."""
    p = plan([desired("later", enabled=False)])
    assert p.actions == [
        SkipAction(
            name="later", reason="disabled and not yet created", source="schedules/later.yaml:1"
        )
    ]
    assert not p.has_changes
    assert p.warnings == []


def test_changed_manifest_gives_full_body_update_with_field_changes() -> None:
    """Row 3: manifest differs from the managed task -> update carrying the whole new body."""
    _, r, e = managed("news", "id-1", alert="old text")
    new = desired("news", alert="new text")
    p = plan([new], inventory(r), state({"news": e}))
    (action,) = p.actions
    assert isinstance(action, UpdateAction)
    assert action.schedule_id == "id-1"
    assert action.body == new.body  # full body: all four sections (docs/api.md 2.4)
    assert set(action.body) == {"name", "enabled", "trigger", "push"}
    assert action.changes == [FieldChange("push.body.notification.alert", "old text", "new text")]
    assert action.cause == "manifest"


def test_remote_edit_gives_update_with_cause_remote() -> None:
    """Row 3 (drift): the server's copy was edited, the manifest was not -> cause "remote"."""
    d, _, e = managed("news", "id-1")
    edited = remote("id-1", body("news", alert="edited in a hurry"))
    (action,) = plan([d], inventory(edited), state({"news": e})).actions
    assert isinstance(action, UpdateAction)
    assert action.cause == "remote"
    assert action.changes == [
        FieldChange("push.body.notification.alert", "edited in a hurry", "Hello")
    ]


def test_edit_on_both_sides_gives_update_with_cause_both() -> None:
    """Row 3: manifest and server both moved away from the last applied body -> cause "both"."""
    _, _, e = managed("news", "id-1")
    edited = remote("id-1", body("news", alert="server"))
    (action,) = plan([desired("news", alert="git")], inventory(edited), state({"news": e})).actions
    assert isinstance(action, UpdateAction)
    assert action.cause == "both"


def test_disabling_a_created_schedule_is_an_update() -> None:
    """Row 3: enabled true -> false on an existing task is an update (docs/api.md 2: allowed)."""
    _, r, e = managed("news", "id-1")
    (action,) = plan([desired("news", enabled=False)], inventory(r), state({"news": e})).actions
    assert isinstance(action, UpdateAction)
    assert action.changes == [FieldChange("enabled", True, False)]


def test_zone_type_change_forces_replacement() -> None:
    """Row 4: zone_type 1 -> 2 cannot be updated (docs/api.md 2.4) -> replace, with the reason."""
    _, r, e = managed("news", "id-1", trigger=single(zone_type=1))
    (action,) = plan(
        [desired("news", trigger=single(zone_type=2))], inventory(r), state({"news": e})
    ).actions
    assert isinstance(action, ReplaceAction)
    assert action.old_schedule_id == "id-1"
    assert action.reason == "zone_type changes from 1 to 2"
    assert action.changes == [FieldChange("trigger.single.zone_type", 1, 2)]


def test_trigger_kind_change_forces_replacement() -> None:
    """Row 4: single -> periodical cannot be updated (docs/api.md 2.4) -> replace."""
    _, r, e = managed("news", "id-1")
    (action,) = plan(
        [desired("news", trigger=periodical())], inventory(r), state({"news": e})
    ).actions
    assert isinstance(action, ReplaceAction)
    assert action.reason == "trigger kind changes from single to periodical"


def test_removed_manifest_deletes_the_managed_task() -> None:
    """Row 5: managed remote task whose manifest is gone -> delete (with its last body)."""
    keep = in_sync("a", "b", "c")
    _, r, e = managed("gone", "id-gone")
    inv = inventory(*keep[1].schedules.values(), r)
    st = state({**keep[2].entries, "gone": e})
    p = plan(keep[0], inv, st)
    assert p.actions == [
        DeleteAction(
            name="gone",
            schedule_id="id-gone",
            old_body=r.body,
            protected=False,
            fires_at="2027-03-01T09:00:00+00:00",
        )
    ]
    assert p.violations == []


def test_remote_task_with_manifest_name_not_in_state_is_a_conflict() -> None:
    """Row 6: same name, not ours -> conflict (adopt only via import), never create or update."""
    foreign = remote("foreign-1", body("promo", alert="made in the console"))
    p = plan([desired("promo")], inventory(foreign))
    assert p.actions == [
        ConflictAction(
            name="promo",
            schedule_ids=["foreign-1"],
            identical=False,
            source="schedules/promo.yaml:1",
        )
    ]
    assert not p.has_changes


def test_conflict_says_when_the_foreign_task_is_identical() -> None:
    """Row 6: an identical foreign task is still a conflict, flagged as identical for import."""
    d = desired("promo")
    (action,) = plan([d], inventory(remote("foreign-1", d.body))).actions
    assert isinstance(action, ConflictAction)
    assert action.identical


def test_gone_task_whose_trigger_passed_is_expired() -> None:
    """Row 7: state entry, remote gone, trigger in the past -> expired (forget, never re-send)."""
    d = desired("flash", trigger=single(time="2026-12-31 10:00:00"))
    e = entry("id-flash", d.body)
    p = plan([d], inventory(), state({"flash": e}))
    assert p.actions == [
        ExpiredAction(name="flash", schedule_id="id-flash", reason="trigger time passed")
    ]
    assert p.has_changes  # the state entry goes away


def test_gone_immediate_intelligent_task_is_never_sent_again() -> None:
    """Row 7: backup_time "now" was sent on creation; its entry is kept (not forgotten) so that
    no later plan creates and sends it a second time."""
    d = desired("now", trigger=intelligent("now"))
    p = plan([d], inventory(), state({"now": entry("id-now", d.body)}))
    (action,) = p.actions
    assert isinstance(action, SkipAction)
    assert action.schedule_id == "id-now"
    assert not action.forget
    assert not p.has_changes


def test_gone_task_whose_manifest_was_removed_is_forgotten() -> None:
    """Row 7 variant: no manifest and no remote task -> the state entry is forgotten."""
    d = desired("old")
    (action,) = plan([], inventory(), state({"old": entry("id-old", d.body)})).actions
    assert isinstance(action, ExpiredAction)
    assert action.reason == "manifest removed and the remote task is already gone"


def test_task_deleted_out_of_band_with_trigger_ahead_is_recreated() -> None:
    """Row 8: state entry, remote gone, trigger still ahead -> recreate with the desired body."""
    d = desired("digest", trigger=periodical(), protected=True)
    p = plan([d], inventory(), state({"digest": entry("id-old", d.body, protected=True)}))
    assert p.actions == [
        RecreateAction(
            name="digest",
            old_schedule_id="id-old",
            body=d.body,
            fingerprint=canonical.fingerprint(d.body),
            protected=True,
            source="schedules/digest.yaml:1",
        )
    ]


def test_recreate_uses_the_manifest_trigger_not_the_old_one() -> None:
    """Row 8: a fired one-shot whose manifest moved to a future time is recreated, not expired."""
    old = body("flash", trigger=single(time="2026-12-01 10:00:00"))
    new = desired("flash", trigger=single(time="2027-02-01 10:00:00"))
    (action,) = plan([new], inventory(), state({"flash": entry("id-1", old)})).actions
    assert isinstance(action, RecreateAction)
    assert action.body == new.body


def test_gone_task_is_not_recreated_when_another_task_took_its_name() -> None:
    """Row 8 guard: an unmanaged task with the name exists -> conflict, never a duplicate."""
    d = desired("digest")
    squatter = remote("other", d.body)
    (action,) = plan([d], inventory(squatter), state({"digest": entry("id-old", d.body)})).actions
    assert isinstance(action, ConflictAction)
    assert action.stale_schedule_id == "id-old"
    assert action.schedule_ids == ["other"]


def test_gone_task_with_disabled_manifest_is_skipped_and_forgotten() -> None:
    """Row 8 variant: the manifest is disabled -> nothing to create; the stale entry is dropped."""
    d = desired("paused", enabled=False)
    (action,) = plan([d], inventory(), state({"paused": entry("id-p", d.body)})).actions
    assert action == SkipAction(
        name="paused",
        reason="disabled; its remote task is gone",
        source="schedules/paused.yaml:1",
        forget=True,
        schedule_id="id-p",
    )


def test_gone_task_with_disabled_manifest_whose_trigger_passed_is_expired() -> None:
    """A paused task the server dropped when its time passed was reported by drift as
    "deleted outside the reconciler; the manifest is disabled": it expired, as an enabled one
    does, and nothing is reported."""
    d = desired("paused", enabled=False, trigger=single(time="2026-11-01 10:00:00"))
    p = plan([d], inventory(), state({"paused": entry("id-p", d.body)}))
    assert p.actions == [
        ExpiredAction(name="paused", schedule_id="id-p", reason="trigger time passed")
    ]
    assert drift_of(p.actions[0]) == []


def test_manifest_with_trigger_entirely_in_the_past_is_skipped_with_a_warning() -> None:
    """Row 9: nothing can be created for a past trigger -> skip, and say so as a warning."""
    past = desired(
        "late", trigger=periodical(start="2026-01-01 00:00:00", end="2026-06-01 00:00:00")
    )
    p = plan([past])
    assert p.actions == [
        SkipAction(
            name="late", reason="trigger entirely in the past", source="schedules/late.yaml:1"
        )
    ]
    assert len(p.warnings) == 1
    assert "'late'" in p.warnings[0]
    assert "entirely in the past" in p.warnings[0]


def test_past_manifest_with_live_remote_task_is_left_alone_with_a_warning() -> None:
    """Row 9 variant: a still-listed task whose trigger (like its manifest's) is past, not yet
    expired by the server, is neither updated nor deleted."""
    _, r, e = managed("late", "id-1", trigger=single(time="2026-12-31 10:00:00"))
    past = desired("late", trigger=single(time="2026-12-31 10:00:00"))
    p = plan([past], inventory(r), state({"late": e}))
    (action,) = p.actions
    assert isinstance(action, SkipAction)
    assert "still active" in p.warnings[0]


def test_a_device_time_push_still_on_its_way_west_is_paused() -> None:
    """zone_type 2 fires at its wall time on each device: at 12:00 UTC, a 10:00 push has been
    sent where clocks are ahead of Berlin, and is still to come west of UTC (at UTC-12 it is
    10:00 at 22:00 UTC). Its expiry was judged in the configured zone only, so pausing it read
    as "trigger entirely in the past", left as it is, and the push still went out. It is an
    update now, held by the fire guard like any change of a push under way (it names --force)."""
    at = single(time="2027-01-01 10:00:00", zone_type=2)
    _, r, e = managed("evening", "id-e", trigger=at)
    paused = desired("evening", trigger=at, enabled=False)
    p = plan([paused], inventory(r), state({"evening": e}))
    (action,) = p.actions
    assert isinstance(action, UpdateAction), p.actions
    assert [c.path for c in action.changes] == ["enabled"]
    assert "--force" in p.violations[0], p.violations
    assert plan([paused], inventory(r), state({"evening": e}), force=True).violations == []


def test_an_edit_of_a_task_the_server_still_lists_is_sent_past_the_configured_zone() -> None:
    """A one-shot whose time passed by the configured zone while the server still lists its
    task (the app's zone is another, west of it): an edit, a pause above all, is sent and not
    dropped (the server refuses it if it holds the task finished), with a warning naming the
    `timezone:` setting. An unchanged one stays as it was: left alone, with the warning."""
    at = single(time="2027-01-01 10:00:00")
    _, r, e = managed("late", "id-l", trigger=at)
    for change in ({"enabled": False}, {"alert": "Later"}):
        wanted = desired("late", trigger=at, **change)
        p = plan([wanted], inventory(r), state({"late": e}))
        (action,) = p.actions
        assert isinstance(action, UpdateAction), p.actions
        assert "`timezone:`" in p.warnings[0], p.warnings
        # No firing ahead by the configured zone, but listed: it may be sending now.
        assert "races the push" in p.violations[0], p.violations
        forced = plan([wanted], inventory(r), state({"late": e}), force=True)
        assert isinstance(forced.actions[0], UpdateAction)
        assert forced.violations == []


def test_a_device_time_push_moved_earlier_but_still_due_in_the_west_is_updated() -> None:
    """A zone_type 2 push moved from 20:00 to 10:00, at 12:00 UTC: 10:00 has passed where
    the configured zone is, not at UTC-12 (22:00 UTC). Judged in the configured zone, the
    manifest "never fires again" and its task was deleted; it is updated to the new time."""
    _, r, e = managed("evening", "id-e", trigger=single(time="2027-01-01 20:00:00", zone_type=2))
    moved = desired("evening", trigger=single(time="2027-01-01 10:00:00", zone_type=2))
    p = plan([moved], inventory(r), state({"evening": e}))
    (action,) = p.actions
    assert isinstance(action, UpdateAction), p.actions
    assert [c.path for c in action.changes] == ["trigger.single.time"]


@pytest.mark.parametrize(
    ("remote_kwargs", "warned"),
    [({}, True), ({"enabled": False}, False), ({"alert": "Another"}, False)],
    ids=["the-same-push", "disabled", "another-push"],
)
def test_a_create_with_the_push_of_an_unmanaged_task_is_warned_of(
    remote_kwargs: dict[str, object], warned: bool
) -> None:
    """An exported task whose name no manifest may have ("Café promo"): the person renamed the
    manifest, `import` adopts a task under its own name only, and the plan created the renamed
    schedule beside the live task, both firing, without a word. A create with the very body of
    an unmanaged task, but for its name, is warned of, naming `remote delete`; a disabled task
    (it does not fire) or another push is not."""
    theirs = remote("id-cafe", body("Café promo", **remote_kwargs))
    p = plan([desired("Cafe_promo")], inventory(theirs))
    assert [a.kind for a in p.actions] == ["create", "unmanaged"]
    copies = [w for w in p.warnings if "very push and trigger" in w]
    assert bool(copies) is warned, p.warnings
    if warned:
        assert "`reconciler remote delete id-cafe`" in copies[0]


def test_manifest_moved_into_the_past_deletes_a_task_that_would_still_fire() -> None:
    """A periodical whose manifest `end` moved into the past, while its task would go on
    firing, is deleted: the manifest says it never fires again and the API cannot update a
    finished trigger."""
    running = periodical(start="2026-12-01 00:00:00", end="2027-06-30 00:00:00")
    _, r, e = managed("weekly", "id-w", trigger=running)
    ended = desired(
        "weekly", trigger=periodical(start="2026-12-01 00:00:00", end="2026-12-20 00:00:00")
    )
    p = plan([ended], inventory(r), state({"weekly": e}))
    (action,) = p.actions
    assert isinstance(action, DeleteAction)
    assert action.schedule_id == "id-w"
    assert "would still fire" in p.warnings[0]


def test_remote_task_in_neither_state_nor_manifests_is_unmanaged() -> None:
    """Row 10: a task nobody manages is reported as unmanaged and never changes anything."""
    stranger = remote("s-1", body("console campaign", enabled=False))
    p = plan([], inventory(stranger))
    assert p.actions == [UnmanagedAction(name="console campaign", schedule_id="s-1", enabled=False)]
    assert not p.has_changes
    assert p.violations == []


def test_second_remote_task_named_like_a_managed_one_is_unmanaged_and_a_twin() -> None:
    """Row 10: a duplicate by name next to the managed task is reported, not adopted, and
    recorded as a second live copy of the schedule (the plan is not clean while it fires)."""
    d, r, e = managed("news", "id-1")
    dup = remote("id-2", d.body)
    p = plan([d], inventory(r, dup), state({"news": e}))
    assert p.actions == [UnmanagedAction(name="news", schedule_id="id-2", enabled=True)]
    assert p.twins == {"news": ["id-2"]}
    assert p.warnings == []


def test_prevent_destroy_change_is_recorded_in_state_without_api_call() -> None:
    """Protection lives in state: toggling it alone plans a state-only refresh."""
    _, r, e = managed("news", "id-1", protected=False)
    (action,) = plan([desired("news", protected=True)], inventory(r), state({"news": e})).actions
    assert isinstance(action, RefreshAction)
    assert (action.old_protected, action.protected) == (False, True)
    assert action.schedule_id == "id-1"


def test_pending_journal_entry_is_treated_as_not_in_state_with_warning() -> None:
    """A leftover pending create must not yield a duplicate: its task shows as a conflict."""
    d, r, e = managed("news", "id-1")
    pending = PendingEntry(op="create", name="news", fingerprint=e.fingerprint, started_at=NOW)
    p = plan([d], inventory(r), state({"news": e}, pending={"news": pending}))
    (action,) = p.actions
    assert isinstance(action, ConflictAction)
    assert "unfinished create" in p.warnings[0]


def test_task_renamed_on_the_server_is_updated_back_by_id() -> None:
    """The state maps name -> id, so a server-side rename is an update of the name field."""
    d, _, e = managed("news", "id-1")
    renamed = remote("id-1", body("news2"))
    p = plan([d], inventory(renamed), state({"news": e}))
    (action,) = p.actions
    assert isinstance(action, UpdateAction)
    assert action.changes == [FieldChange("name", "news2", "news")]


def test_server_spelling_differences_are_not_changes() -> None:
    """Upper-case time_unit, lower-case weekdays, unpadded month points and a server-filled
    frequency: 1 are the same schedule and plan nothing."""
    d, _, e = managed("m", "id-1", trigger=periodical(time_unit="month", point=["01", "15"]))
    raw = body("m", trigger=periodical(time_unit="month", point=["01", "15"]))
    raw["trigger"] = {
        "periodical": {
            **raw["trigger"]["periodical"],
            "time_unit": "MONTH",
            "point": [15, "1"],
            "frequency": 1,
        }
    }
    server = remote("id-1", raw)
    assert plan([d], inventory(server), state({"m": e})).actions == []


def test_duplicate_desired_names_are_refused() -> None:
    """Names are keys: two manifests with one name are a PlanError naming both sources."""
    with pytest.raises(PlanError, match="two manifests are named 'x'"):
        plan([desired("x"), desired("x")])


def test_naive_now_is_refused() -> None:
    """`now` must be timezone-aware: a naive clock would silently shift every trigger."""
    with pytest.raises(ValueError, match="timezone-aware"):
        plan([], now=NOW.replace(tzinfo=None))


def test_fire_time_is_read_in_the_environment_time_zone() -> None:
    """zone_type 1 times are local to the configured zone: 10:00 Berlin is 09:00 UTC."""
    _, r, e = managed("n", "id-1")
    (action,) = plan([], inventory(r), state({"n": e})).actions
    assert isinstance(action, DeleteAction)
    assert TZ.key == "Europe/Berlin"
    assert action.fires_at == "2027-03-01T09:00:00+00:00"
