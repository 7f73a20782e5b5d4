"""Each push policy on its own: what breaks it, what does not, and where it is reported."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.config.environments import load_environments
from reconciler.config.policies import checks
from reconciler.config.policies.rules import (
    NO_POLICIES,
    RULES,
    FrequencyCap,
    LeadTime,
    QuietHours,
    RequiredFields,
)
from reconciler.config.policies.subjects import Subject, subjects_of
from reconciler.errors import ConfigError
from reconciler.manifests.load import load_manifests
from tests.policies.helpers import (
    BERLIN,
    NOW,
    TIME_LINE,
    check,
    load,
    periodical_text,
    rules,
    single_text,
)

QUIET = {"quiet_hours": {"from": "22:00", "to": "08:00"}}


# -- configuration ---------------------------------------------------------------------------


def test_full_policies_block_is_read_from_reconciler_yaml(tmp_path: Path) -> None:
    """Every rule, with its level, reaches the environment; dates accept ranges and bare YAML
    dates; the default level is error."""
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        """\
environments:
  prod:
    policies:
      quiet_hours: {from: "22:00", to: "08:00"}
      frequency_cap: {max_per_day: 2, level: warning}
      blackout_dates:
        dates: [2026-12-24, "2026-12-31..2027-01-01"]
      min_lead_time: {hours: 2}
      required_fields:
        fields: [push.body.options.time_to_live]
        level: warning
""",
        encoding="utf-8",
    )
    env = load_environments(config).select("prod")
    p = env.policies
    assert p.names == list(RULES)
    assert p.quiet_hours == QuietHours(time(22), time(8), "error")
    assert p.frequency_cap == FrequencyCap(2, "warning")
    assert p.blackout_dates is not None
    assert p.blackout_dates.dates == {date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 1)}
    assert p.min_lead_time == LeadTime(timedelta(hours=2), "error")
    assert p.required_fields == RequiredFields(("push.body.options.time_to_live",), "warning")


def test_every_policy_problem_is_reported_at_its_own_line(tmp_path: Path) -> None:
    """Bad values inside `policies:` are all reported at once, each at the line it is on."""
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        """\
environments:
  prod:
    policies:
      quiet_hours:
        from: 22
        to: "08:00"
      frequency_cap: {max_per_day: 0}
      blackout_dates:
        dates:
          - 2026-12-24
          - "tomorrow"
      min_lead_time: {minutes: 5, level: fatal}
      curfew: {}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_environments(config)
    text = caught.value.message
    assert f"{config}:5: prod.policies.quiet_hours.from: 22 must be a time HH:MM" in text
    assert f"{config}:7: prod.policies.frequency_cap.max_per_day: 0" in text
    assert f"{config}:11: prod.policies.blackout_dates.dates[1]: 'tomorrow'" in text
    assert f"{config}:12: prod.policies.min_lead_time.level: 'fatal'" in text
    assert f"{config}:13: prod.policies: unknown rule 'curfew'" in text


# -- quiet hours -----------------------------------------------------------------------------


def test_quiet_hours_zone_type_1_in_the_app_zone(tmp_path: Path) -> None:
    """zone_type 1 is checked in the environment's zone: 23:00 Berlin is inside 22:00-08:00,
    12:00 is not; the violation points at the trigger's time, with the firing time."""
    subjects = load(
        tmp_path,
        {
            "late.yaml": single_text("late", "2027-01-10 23:00:00"),
            "noon.yaml": single_text("noon", "2027-01-10 12:00:00"),
        },
    )
    found = check(subjects, rules(**QUIET))
    assert [(v.rule, v.path, v.line, v.col) for v in found] == [
        ("quiet_hours", f"{tmp_path.as_posix()}/late.yaml", TIME_LINE, 11)
    ]
    assert "2027-01-10 23:00 Europe/Berlin" in found[0].message
    assert found[0].severity == "error"


def test_quiet_hours_zone_type_2_checks_the_device_local_time_itself(tmp_path: Path) -> None:
    """A zone_type 2 firing at local 07:00 happens at 07:00 on every device: inside the quiet
    hours whatever the app's zone; at 09:00 it is outside for every device."""
    subjects = load(
        tmp_path,
        {
            "early.yaml": single_text("early", "2027-01-10 07:00:00", zone_type=2),
            "fine.yaml": single_text("fine", "2027-01-10 09:00:00", zone_type=2),
        },
    )
    found = check(subjects, rules(**QUIET), tz=ZoneInfo("Pacific/Kiritimati"))
    assert [v.name for v in found] == ["early"]
    assert "2027-01-10 07:00 device local time" in found[0].message
    assert "on each device" in found[0].message


def test_quiet_hours_only_on_the_day_a_clock_change_moves_a_periodical(tmp_path: Path) -> None:
    """Daily at 02:30 Berlin is outside quiet hours 03:00-06:00, except on 28 March 2027, when
    02:30 does not exist and the push goes out at 03:30: exactly that firing is reported."""
    subjects = load(tmp_path, {"p.yaml": periodical_text("p", at="02:30:00")})
    found = check(subjects, rules(quiet_hours={"from": "03:00", "to": "06:00"}))
    assert len(found) == 1
    assert "fires at 2027-03-28 03:30 Europe/Berlin, inside" in found[0].message
    assert "more" not in found[0].message


def test_quiet_hours_warning_level_and_across_midnight(tmp_path: Path) -> None:
    """A weekly periodical at 22:30 is inside 22:00-08:00 on every firing, reported once as a
    warning with the count of firings."""
    subjects = load(
        tmp_path,
        {"w.yaml": periodical_text("w", at="22:30:00", unit="week", point="[MON, FRI]")},
    )
    found = check(subjects, rules(quiet_hours={"from": "22:00", "to": "08:00", "level": "warning"}))
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert "2027-01-01 22:30 Europe/Berlin" in found[0].message  # a Friday
    assert "and 101 more time(s)" in found[0].message  # 52 Mondays + 52 Fridays in 2027 - 3


# -- frequency cap -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "collide"),
    [
        ("{tag: [vip]}", "{tag: [vip, new]}", True),
        ("{tag: [vip]}", "{tag_and: [vip, de]}", True),
        ("{alias: [u1]}", "{alias: [u1]}", True),
        ("{registration_id: [r1]}", "{registration_id: [r1, r2]}", True),
        ("{seg: {id: s1}}", "{seg: {id: s1}}", True),
        ("all", "{alias: [u9]}", True),
        ("all", "all", True),
        ("{tag: [vip]}", "{tag: [other]}", False),
        ("{tag: [vip]}", "{alias: [vip]}", False),
        ("{seg: {id: s1}}", "{seg: {id: s2}}", False),
        ("{tag_not: [vip], tag: [a]}", "{tag: [vip]}", False),
    ],
)
def test_frequency_cap_overlapping_audiences(
    tmp_path: Path, first: str, second: str, collide: bool
) -> None:
    """Two firings on one day break `max_per_day: 1` exactly when the audiences overlap (same
    tag, alias, registration id or segment, or `all`); the later firing is reported at its
    trigger time and names the earlier schedule with its place and time."""
    subjects = load(
        tmp_path,
        {
            "a.yaml": single_text("a", "2027-02-01 09:00:00", to=first),
            "b.yaml": single_text("b", "2027-02-01 18:00:00", to=second),
        },
    )
    found = check(subjects, rules(frequency_cap={"max_per_day": 1}))
    if not collide:
        assert found == []
        return
    assert [(v.name, v.line) for v in found] == [("b", TIME_LINE)]
    assert f"'a' ({tmp_path.as_posix()}/a.yaml:1:1, 2027-02-01 09:00 Europe/Berlin)" in (
        found[0].message
    )
    assert "'b' at 2027-02-01 18:00 Europe/Berlin is firing 2 of the day" in found[0].message


def test_frequency_cap_counts_per_day_and_allows_up_to_n(tmp_path: Path) -> None:
    """`max_per_day: 2` lets two firings to one audience through and reports the third; two
    daily periodicals and a one-shot: the one-shot's day is the only day over the cap."""
    subjects = load(
        tmp_path,
        {
            "d1.yaml": periodical_text("d1", at="09:00:00", to="{tag: [vip]}"),
            "d2.yaml": periodical_text("d2", at="10:00:00", to="{tag: [vip]}"),
            "one.yaml": single_text("one", "2027-05-05 08:00:00", to="all"),
        },
    )
    found = check(subjects, rules(frequency_cap={"max_per_day": 2}))
    assert [v.name for v in found] == ["d2"]
    assert "is firing 3 of the day" in found[0].message
    assert "on 2027-05-05)" in found[0].message
    assert check(subjects, rules(frequency_cap={"max_per_day": 3})) == []


def test_frequency_cap_on_many_days_is_one_problem_with_a_count(tmp_path: Path) -> None:
    """Two daily schedules to one tag collide every day: one problem, the first day and the
    number of other days."""
    subjects = load(
        tmp_path,
        {
            "x.yaml": periodical_text("x", at="09:00:00", to="{tag: [t]}"),
            "y.yaml": periodical_text(
                "y", at="09:00:00", to="{tag: [t]}", end="2027-01-31 00:00:00"
            ),
        },
    )
    found = check(subjects, rules(frequency_cap={"max_per_day": 1, "level": "warning"}))
    assert [(v.name, v.severity) for v in found] == [("y", "warning")]
    assert "(on 2027-01-01 and 29 more day(s))" in found[0].message


def test_disabled_schedules_never_break_firing_rules(tmp_path: Path) -> None:
    """A disabled schedule does not fire, so it breaks neither quiet hours nor the cap."""
    text = single_text("off", "2027-01-10 23:00:00").replace("enabled: true", "enabled: false")
    subjects = load(
        tmp_path, {"off.yaml": text, "on.yaml": single_text("on", "2027-01-10 09:00:00")}
    )
    assert check(subjects, rules(**QUIET, frequency_cap={"max_per_day": 1})) == []


# -- blackout dates ----------------------------------------------------------------------------


def test_blackout_dates_catch_periodical_and_single_firings(tmp_path: Path) -> None:
    """A weekly Friday push hits the blackout Friday 2027-11-19 and the range's Friday
    2027-11-26; a one-shot on 2027-11-25 hits the range; a one-shot on 2027-11-22 does not."""
    subjects = load(
        tmp_path,
        {
            "fri.yaml": periodical_text("fri", unit="week", point="[FRI]"),
            "thu.yaml": single_text("thu", "2027-11-25 10:00:00"),
            "mon.yaml": single_text("mon", "2027-11-22 10:00:00"),
        },
    )
    found = check(
        subjects, rules(blackout_dates={"dates": ["2027-11-19", "2027-11-24..2027-11-26"]})
    )
    assert [(v.name, v.line) for v in found] == [("fri", TIME_LINE), ("thu", TIME_LINE)]
    assert "at 2027-11-19 09:00 Europe/Berlin, 2027-11-26 09:00" in found[0].message
    assert "at 2027-11-25 10:00 Europe/Berlin" in found[1].message


# -- minimum lead time -------------------------------------------------------------------------


def test_min_lead_time_for_new_one_shots_only(tmp_path: Path) -> None:
    """A new one-shot 30 minutes ahead breaks `minutes: 60`; the same one already in the state
    (or renamed from one that is) does not; one two hours ahead does not."""
    now = datetime(2027, 1, 10, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    subjects = load(
        tmp_path,
        {
            "soon.yaml": single_text("soon", "2027-01-10 09:30:00"),
            "later.yaml": single_text("later", "2027-01-10 11:00:00"),
        },
    )
    spec = rules(min_lead_time={"minutes": 60})
    found = check(subjects, spec, now=now)
    assert [(v.name, v.line, v.col) for v in found] == [("soon", TIME_LINE, 11)]
    assert "30 min from now" in found[0].message
    assert check(subjects, spec, now=now, known={"soon"}) == []
    renamed = [
        Subject(s.name, s.body, s.path, s.line, s.col, s.positions, ("old_soon",)) for s in subjects
    ]
    assert check(renamed, spec, now=now, known={"old_soon"}) == []


def test_min_lead_time_zone_type_2_counts_from_the_first_zone(tmp_path: Path) -> None:
    """A zone_type 2 one-shot at local 20:00 first fires at 06:00 UTC (UTC+14): with `now` at
    04:00 UTC that is two hours ahead, short of a three-hour lead time."""
    subjects = load(tmp_path, {"z.yaml": single_text("z", "2027-01-10 20:00:00", zone_type=2)})
    now = datetime(2027, 1, 10, 4, 0, tzinfo=UTC)
    found = check(subjects, rules(min_lead_time={"hours": 3}), now=now)
    assert len(found) == 1
    assert "2 h 00 min from now" in found[0].message
    assert check(subjects, rules(min_lead_time={"hours": 2}), now=now) == []


# -- required fields -------------------------------------------------------------------------


def test_required_fields_missing_is_reported_at_the_nearest_written_parent(tmp_path: Path) -> None:
    """`push.body.options.time_to_live` missing: reported at `body:` (line 9), the deepest key
    written; a manifest that sets it passes."""
    with_ttl = single_text("ttl", "2027-01-10 10:00:00") + "    options:\n      time_to_live: 60\n"
    subjects = load(
        tmp_path,
        {"bare.yaml": single_text("bare", "2027-01-10 10:00:00"), "ttl.yaml": with_ttl},
    )
    found = check(subjects, rules(required_fields={"fields": ["push.body.options.time_to_live"]}))
    assert [(v.name, v.line, v.col) for v in found] == [("bare", 9, 3)]
    assert "push.body.options.time_to_live is required" in found[0].message


def test_required_fields_judge_what_the_manifest_sets_whatever_was_made_before(
    tmp_path: Path,
) -> None:
    """A daily trigger without `point`: the body sent to the API has `point: []` (the canonical
    form), the manifest does not set it. The rule judges the manifest's own fields, in every
    command alike: before, `plan` and `apply` judged the canonical body when they happened to
    have made it already, and `validate` the manifest's fields."""
    daily = periodical_text("daily").replace("    point: []\n", "")
    assert "point" not in daily
    directory = tmp_path / "schedules"
    directory.mkdir()
    (directory / "daily.yaml").write_text(daily, encoding="utf-8")
    loaded = load_manifests([directory], now=NOW, tz=BERLIN)
    assert not loaded.errors, [str(p) for p in loaded.errors]
    spec = rules(required_fields={"fields": ["trigger.periodical.point"]})
    before = check(subjects_of(loaded.manifests), spec)
    (manifest,) = loaded.manifests
    assert manifest.body["trigger"]["periodical"]["point"] == []  # what the API is sent
    after = check(subjects_of(loaded.manifests), spec)
    assert [v.name for v in before] == ["daily"]
    assert [(v.name, v.line, v.col, v.message) for v in after] == [
        (v.name, v.line, v.col, v.message) for v in before
    ]


def test_no_policies_no_work() -> None:
    """An environment without policies checks nothing (and costs nothing)."""
    assert checks.check([], NO_POLICIES, now=NOW, tz=UTC) == []
    assert not NO_POLICIES


def test_the_example_config_sets_every_rule() -> None:
    """reconciler.example.yaml documents the schema: it loads, and production sets all five."""
    example = Path(__file__).resolve().parents[2] / "reconciler.example.yaml"
    env = load_environments(example).select("production")
    assert env.policies.names == list(RULES)
    assert env.policies.min_lead_time == LeadTime(timedelta(hours=1), "error")


def test_a_clock_change_on_the_last_day_of_a_periodical_is_found(tmp_path: Path) -> None:
    """The skipped 02:30 on 28 March 2027 is found when it is the trigger's last day too (the
    offset changes only on the day after it, outside the trigger's span)."""
    text = periodical_text("p", at="02:30:00", end="2027-03-28 23:00:00")
    subjects = load(tmp_path, {"p.yaml": text})
    found = check(subjects, rules(quiet_hours={"from": "03:00", "to": "06:00"}))
    assert len(found) == 1
    assert "fires at 2027-03-28 03:30 Europe/Berlin, inside" in found[0].message


def test_a_violation_a_base_caused_is_reported_at_the_base(tmp_path: Path) -> None:
    """The late time comes from a base the manifest extends: the violation is at the base's
    line, where it must be fixed (it was at the manifest's first line, naming neither)."""
    text = single_text("late", "2027-01-10 23:00:00")
    base = "trigger:\n" + text.split("trigger:\n", 1)[1].split("push:\n", 1)[0]
    manifest = text.replace("trigger:\n" + base.split("trigger:\n", 1)[1], "")
    subjects = load(tmp_path, {"_late.yaml": base, "late.yaml": "extends: _late.yaml\n" + manifest})
    [found] = check(subjects, rules(**QUIET))
    assert (Path(found.path).name, found.line) == ("_late.yaml", 3)
