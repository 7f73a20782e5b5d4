"""The firings a plan changes in the next 7 days, from the plan alone (no server): the remote
version's trigger is put back together from the planned body and the field changes."""

from __future__ import annotations

from reconciler.planning.firing_changes import changes, remote_body
from tests.kit.bodies import periodical, single
from tests.plan.builders import TZ, body, desired, entry, inventory, plan, remote, state

DAILY = periodical(start="2027-01-01 00:00:00", end="2027-06-01 00:00:00", time_unit="day",
                   point=[], time="09:00:00")  # fmt: skip


def _planned(old: dict[str, object], new_name: str = "s", **new: object) -> list[tuple[str, str]]:
    """(change, local time) of the rows of a plan changing ``old`` into the manifest ``new``."""
    d = desired(new_name, **new)  # type: ignore[arg-type]
    p = plan([d], inventory(remote("id-s", old)), state({"s": entry("id-s", old)}))
    return [
        (r.change, r.firing.start.astimezone(TZ).strftime("%m-%d %H:%M")) for r in changes(p, TZ)
    ]


def test_a_replace_from_a_one_shot_to_a_daily_trigger() -> None:
    """A trigger kind change (a replace, the whole trigger in one field change): the one-shot's
    firing is moved to the daily one of its day, the other days are new (the plan's clock is
    2027-01-01 13:00 in Berlin, so the week's firings run from the 2nd to the 8th)."""
    old = body("s", trigger=single("2027-01-03 18:00:00"))
    rows = _planned(old, trigger=DAILY)
    assert ("moved", "01-03 09:00") in rows
    assert [r for r in rows if r[0] == "new"] == [
        ("new", f"01-0{d} 09:00") for d in (2, 4, 5, 6, 7, 8)
    ]


def test_enabling_a_disabled_schedule_adds_its_firings_and_disabling_removes_them() -> None:
    """``enabled`` decides whether anything fires: switched on, the week's firings are new;
    switched off, they go away."""
    on = _planned(body("s", trigger=DAILY, enabled=False), trigger=DAILY)
    assert {c for c, _ in on} == {"new"}
    assert len(on) == 7
    off = _planned(body("s", trigger=DAILY), trigger=DAILY, enabled=False)
    assert {c for c, _ in off} == {"removed"}
    assert len(off) == 7


def test_a_new_text_alone_marks_the_same_firings_as_new_content() -> None:
    """Same trigger, new alert: every firing of the week stays where it was, with new content;
    (the e2e plan test has a time change without one)."""
    rows = _planned(body("s", trigger=DAILY), trigger=DAILY, alert="New")
    assert {c for c, _ in rows} == {"changed"}
    assert len(rows) == 7


def test_remote_body_puts_back_the_old_trigger_fields() -> None:
    """Each changed trigger field gets its old value; an added field is removed again."""
    from reconciler.planning.diff import FieldChange

    new = body("s", trigger=periodical(frequency=2))
    old = remote_body(
        new,
        [
            FieldChange("trigger.periodical.time", "08:00:00", "09:00:00"),
            FieldChange("trigger.periodical.frequency", None, 2),
            FieldChange("push.body.notification.alert", "a", "b"),
        ],
    )
    assert old is not None
    spec = old["trigger"]["periodical"]
    assert spec["time"] == "08:00:00"
    assert "frequency" not in spec
    assert remote_body(new, [FieldChange("trigger.periodical.point[0]", "MON", "TUE")]) is None
