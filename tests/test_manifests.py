"""Manifest loading: every rule of docs/api.md sections 2 and 5, proved by a fixture file each.

Each ``bad-*.yaml`` fixture breaks exactly one rule (its first line says which); the test
asserts the message and the ``line:col`` of the offending node. ``good-*.yaml`` fixtures prove
what is accepted and how it is normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import find
from reconciler.manifests.load import ManifestSet, load_manifests

NOW = datetime(2026, 11, 25, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
EXAMPLES = Path(__file__).parent.parent / "schedules"


def load(*names: str, now: datetime = NOW, tz: str = "UTC") -> ManifestSet:
    return load_manifests([FIXTURES / n for n in names], now=now, tz=ZoneInfo(tz))


@dataclass(frozen=True)
class Bad:
    fixture: str
    line: int
    col: int
    message: str
    valid_documents: int = 0  # other documents of the same file that are fine


BAD = [
    # name and enabled (docs/api.md 2)
    Bad("bad-name-empty.yaml", 2, 7, "name: must not be empty"),
    Bad("bad-name-too-long.yaml", 2, 7, "name: is 258 bytes in UTF-8; the API allows at most 255"),
    Bad("bad-name-charset.yaml", 2, 7, "name: 'Sale!2027' contains '!'"),
    Bad(
        "bad-name-not-text.yaml", 2, 7, 'name: must be text, got the number 2027; quote it: "2027"'
    ),
    Bad("bad-name-missing.yaml", 2, 1, "missing required key 'name'"),
    Bad("bad-enabled-yes.yaml", 3, 10, "enabled: must be true or false, got 'yes'"),
    # trigger (docs/api.md 2, 2.1, 2.2, 2.3)
    Bad(
        "bad-trigger-two-kinds.yaml", 4, 1, "trigger: has single and intelligent; give exactly one"
    ),
    Bad("bad-trigger-empty.yaml", 4, 1, "trigger: needs one of single, periodical or intelligent"),
    Bad("bad-trigger-typo.yaml", 5, 3, "trigger: unknown key 'singel' (did you mean 'single'?)"),
    Bad("bad-single-time-format.yaml", 6, 11, "'2027-3-1 9:00' is not a date-time in the form"),
    Bad("bad-single-time-not-a-date.yaml", 6, 11, "'2027-02-30 09:00:00' is not a real date"),
    Bad(
        "bad-single-time-too-far.yaml",
        6,
        11,
        "trigger.single.time: 2027-11-25 00:00:01 is more than one year ahead",
    ),
    Bad("bad-single-zone-type.yaml", 7, 16, "zone_type: must be 1 or 2, got the number 3"),
    Bad("bad-single-zone-type-bool.yaml", 7, 16, "zone_type: must be a number, got true"),
    Bad(
        "bad-single-missing-zone-type.yaml",
        5,
        3,
        "trigger.single: missing required key 'zone_type'",
    ),
    Bad(
        "bad-periodical-end-before-start.yaml",
        7,
        10,
        "end 2026-12-31 00:00:00 must be after start 2027-01-01 00:00:00",
    ),
    Bad("bad-periodical-span-over-one-year.yaml", 7, 10, "more than one year"),
    Bad("bad-periodical-time-format.yaml", 8, 11, "'9:00' is not a time of day"),
    Bad(
        "bad-periodical-time-unit.yaml",
        9,
        16,
        "time_unit: must be 'day', 'week' or 'month', got 'fortnight'",
    ),
    Bad("bad-periodical-week-point.yaml", 10, 18, "point[1]: 'FUN' is not a weekday"),
    Bad("bad-periodical-week-without-point.yaml", 5, 3, "time_unit week needs point"),
    Bad("bad-periodical-month-point.yaml", 12, 9, "point[1]: the number 32 is not a day of the"),
    Bad("bad-periodical-day-with-points.yaml", 10, 5, "point: is not used with time_unit day"),
    Bad("bad-periodical-frequency.yaml", 10, 16, "frequency: must be at most 100"),
    Bad("bad-intelligent-backup-time.yaml", 6, 18, "backup_time: 'tomorrow' is not a \"now\" or"),
    # push (docs/api.md 5)
    Bad("bad-push-to-text.yaml", 9, 7, 'push.to: must be "all" or a mapping of targets'),
    Bad("bad-push-to-empty.yaml", 9, 3, "push.to: needs at least one of registration_id"),
    Bad("bad-push-tag-too-long.yaml", 12, 9, "push.to.tag[1]: 'tttttttttttttttttttttttttt"),
    Bad("bad-push-alias-empty-list.yaml", 10, 5, "push.to.alias: must not be empty"),
    Bad("bad-push-platform.yaml", 11, 15, "push.body.platform: 'web' is not a platform"),
    Bad("bad-push-no-content.yaml", 10, 3, "push.body: needs one of notification, message"),
    Bad(
        "bad-push-voip-combined.yaml", 14, 5, "push.body.voip: cannot be combined with notification"
    ),
    Bad(
        "bad-push-live-activity-combined.yaml",
        14,
        5,
        "push.body.live_activity: cannot be combined with message",
    ),
    Bad("bad-push-voip-not-ios.yaml", 12, 5, "push.body.voip: voip is iOS only"),
    Bad("bad-push-big-push-duration.yaml", 15, 26, "big_push_duration: must be at most 1440"),
    Bad("bad-push-cid.yaml", 15, 12, "cid: 'no spaces allowed' must be 1 to 64 letters"),
    Bad("bad-push-content-too-large.yaml", 12, 5, "push.body.notification: is 4012 bytes as JSON"),
    Bad(
        "bad-push-unknown-key.yaml",
        14,
        7,
        "push.body.notification: unknown key 'andriod' (did you mean 'android'?)",
    ),
    Bad("bad-push-hmos-badge.yaml", 15, 24, "hmos.badge_add_num: must be at most 99"),
    Bad("bad-push-ios-badge.yaml", 15, 16, 'ios.badge: must be a number or an increment like "+1"'),
    Bad("bad-push-missing-body.yaml", 8, 1, "push: missing required key 'body'"),
    Bad(
        "bad-push-request-id-number.yaml", 14, 15, "request_id: must be text, got the number 12345"
    ),
    # lifecycle (reconciler-only)
    Bad(
        "bad-lifecycle-typo.yaml",
        15,
        3,  # the unknown key itself, not its value
        "lifecycle: unknown key 'prevent_delete' (did you mean 'prevent_destroy'?)",
    ),
    # files and YAML
    Bad("bad-yaml-syntax.yaml", 10, 7, "invalid YAML: expected ',' or ']'"),
    Bad("bad-yaml-tag-mismatch.yaml", 3, 10, "invalid YAML: 'maybe' cannot be read as !!bool"),
    Bad("bad-yaml-nested-too-deep.yaml", 16, 117, "invalid YAML: nested more than 100 levels"),
    Bad("bad-yaml-alias-bomb.yaml", 2, 1, "document has more than 50000 values"),
    Bad("bad-yaml-duplicate-key.yaml", 4, 1, 'invalid YAML: found duplicate key "enabled"'),
    Bad("bad-document-not-mapping.yaml", 2, 1, "is a list, but a schedule is a mapping"),
    Bad("bad-empty-document.yaml", 15, 1, "document 2: empty document", valid_documents=1),
    Bad("bad-empty-file.yaml", 1, 1, "file is empty"),
    Bad("bad-only-comments.yaml", 1, 1, "file is empty"),
    Bad("bad-not-utf8.yaml", 2, 9, "file is not UTF-8 (byte 0xfc); save it as UTF-8"),
    Bad("bad-nul-byte.yaml", 2, 8, "file contains a NUL byte"),
    # at the key itself (16:11), not at the mapping holding it
    Bad(
        "bad-non-text-key.yaml",
        16,
        11,
        'extras: key 1 must be text, but YAML reads it as the number 1; quote it: "1":',
    ),
    Bad(
        "bad-list-key.yaml",
        16,
        13,
        "extras: the key on line 16, column 13 is a list, not text; mapping keys must be text",
    ),
    Bad(
        "bad-number-beyond-64-bits.yaml",
        15,
        7,
        "time_to_live: the number 0xfffffffffffffffffffffffffffffffffff... is beyond the 64-bit",
    ),
    Bad("bad-yaml-float-without-digits.yaml", 13, 14, "'._' cannot be read as !!float; quote it"),
    Bad(
        "bad-yaml-surrogate-pair.yaml",
        13,
        14,
        "escapes '\U0001f389' as a UTF-16 surrogate pair (\\ud83c\\udf89, as JSON tools write "
        "it); YAML escapes it as \\U0001F389, or write the character itself",
    ),
    Bad("bad-yaml-tagged-mapping.yaml", 15, 9, "!custom-tagged mapping cannot be sent to the API"),
    Bad("bad-utf16.yaml", 1, 1, "file is UTF-16 (little-endian), not UTF-8; save it as UTF-8"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.fixture)
def test_bad_fixture_reports_its_one_error_at_the_offending_node(case: Bad) -> None:
    """A fixture that breaks one rule gives exactly that error, at its file:line:col."""
    result = load(case.fixture)
    assert [(p.path, p.line, p.col) for p in result.errors] == [
        ((FIXTURES / case.fixture).as_posix(), case.line, case.col)
    ]
    assert case.message in result.errors[0].message
    assert len(result.manifests) == case.valid_documents


def test_every_bad_fixture_is_covered_by_a_case() -> None:
    """No bad-*.yaml fixture sits unused (each one must prove something)."""
    on_disk = {p.name for p in FIXTURES.glob("bad-*.yaml")}
    assert on_disk == {case.fixture for case in BAD} | {"bad-many-problems.yaml"}


def test_every_problem_in_a_file_is_reported_not_just_the_first() -> None:
    """Three broken fields in one document give three errors, in line order."""
    result = load("bad-many-problems.yaml")
    assert [(p.line, p.col) for p in result.errors] == [(3, 10), (7, 16), (11, 15)]
    assert "enabled: must be true or false, got the number 1" in result.errors[0].message
    assert "zone_type: must be 1 or 2, got the number 7" in result.errors[1].message
    assert "platform: 'web' is not a platform" in result.errors[2].message


def test_problems_in_several_files_are_all_reported() -> None:
    """Validation goes on after a bad file: every file's problems are collected."""
    result = load("bad-name-empty.yaml", "good-periodical.yaml", "bad-push-cid.yaml")
    assert [Path(p.path).name for p in result.errors] == [
        "bad-name-empty.yaml",
        "bad-push-cid.yaml",
    ]
    assert [m.name for m in result.manifests] == ["Daily_tip"]


def test_duplicate_names_across_files_report_both_places() -> None:
    """The same name in two files is an error at each, naming the other place."""
    result = load("bad-duplicate-names")
    first = (FIXTURES / "bad-duplicate-names/first.yaml").as_posix()
    second = (FIXTURES / "bad-duplicate-names/second.yaml").as_posix()
    assert [(p.path, p.line, p.col) for p in result.errors] == [(first, 2, 7), (second, 2, 7)]
    assert f"'Spring_sale' is also used at {second}:2:7" in result.errors[0].message
    assert f"'Spring_sale' is also used at {first}:2:7" in result.errors[1].message


def test_duplicate_names_within_one_file_report_both_documents() -> None:
    """Two documents of one file with the same name are both reported."""
    result = load("good-single.yaml", "good-single-time-in-past.yaml")
    assert [(Path(p.path).name, p.line) for p in result.errors] == [
        ("good-single.yaml", 2),
        ("good-single-time-in-past.yaml", 2),
    ]


# -- warnings -----------------------------------------------------------------------------


def test_spaces_in_a_name_are_a_warning_not_an_error() -> None:
    """The vendor's own examples use spaces: accepted with a warning at the name."""
    result = load("warn-name-spaces.yaml")
    assert result.errors == []
    assert [(p.line, p.col, p.severity) for p in result.warnings] == [(2, 7, "warning")]
    assert "contains spaces" in result.warnings[0].message
    assert [m.name for m in result.manifests] == ["Timed Push Example_single"]


def test_hyphens_in_a_name_are_a_warning() -> None:
    """Hyphens are accepted with a warning too (docs/api.md 2, Decision)."""
    result = load("warn-name-hyphen.yaml")
    assert result.errors == []
    assert "contains hyphens" in result.warnings[0].message


def test_raise_for_errors_ignores_warnings_unless_strict() -> None:
    """Warnings pass by default and fail under strict."""
    result = load("warn-name-spaces.yaml")
    result.raise_for_errors()
    with pytest.raises(ManifestError) as info:
        result.raise_for_errors(strict=True)
    assert info.value.problems == [p.strictly() for p in result.problems]  # errors now


def test_raise_for_errors_lists_every_problem() -> None:
    """ManifestError carries all problems and prints each with its location."""
    result = load("bad-many-problems.yaml")
    with pytest.raises(ManifestError) as info:
        result.raise_for_errors()
    assert len(info.value.problems) == 3
    assert "bad-many-problems.yaml:7:16: error:" in info.value.message


# -- accepted and normalised --------------------------------------------------------------


def test_minimal_single_schedule_is_valid() -> None:
    """A one-time schedule with the required keys loads, positioned at its first key."""
    result = load("good-single.yaml")
    assert result.problems == []
    (manifest,) = result.manifests
    assert (manifest.name, manifest.line, manifest.col) == ("Spring_sale", 2, 1)
    assert manifest.body["trigger"] == {"single": {"time": "2027-03-01 09:00:00", "zone_type": 1}}


def test_time_in_the_past_is_not_an_error() -> None:
    """Past times are the planner's business (it skips them), not a manifest error."""
    assert load("good-single-time-in-past.yaml").problems == []


def test_daily_trigger_gets_an_empty_point_list() -> None:
    """A daily trigger's body carries point: [] as the vendor's example does."""
    (manifest,) = load("good-periodical.yaml").manifests
    assert manifest.body["trigger"]["periodical"]["point"] == []


def test_unquoted_timestamps_stay_api_strings() -> None:
    """YAML would read 2027-01-01 00:00:00 as a timestamp; it stays the API string."""
    (manifest,) = load("good-unquoted-timestamps.yaml").manifests
    periodical = manifest.body["trigger"]["periodical"]
    assert (periodical["start"], periodical["end"]) == (
        "2027-01-01 00:00:00",
        "2027-06-30 00:00:00",
    )


def test_time_unit_and_weekdays_are_normalised() -> None:
    """time_unit Week -> week; weekdays upper-case in weekday order."""
    (manifest,) = load("good-week-points-normalised.yaml").manifests
    periodical = manifest.body["trigger"]["periodical"]
    assert (periodical["time_unit"], periodical["point"]) == ("week", ["MON", "FRI"])


def test_month_points_become_zero_padded_strings() -> None:
    """point: [15, 1] -> ["01", "15"]."""
    (manifest,) = load("good-month-points-normalised.yaml").manifests
    periodical = manifest.body["trigger"]["periodical"]
    assert (periodical["time_unit"], periodical["point"]) == ("month", ["01", "15"])


def test_intelligent_backup_time_now_is_valid() -> None:
    """backup_time: now is one of the two accepted forms (docs/api.md 2.3)."""
    (manifest,) = load("good-intelligent-now.yaml").manifests
    assert manifest.body["trigger"] == {"intelligent": {"backup_time": "now"}}


def test_lifecycle_protects_and_is_not_sent() -> None:
    """lifecycle.prevent_destroy sets Manifest.protected and never reaches the API body."""
    (manifest,) = load("good-lifecycle.yaml").manifests
    assert manifest.protected is True
    assert "lifecycle" not in manifest.body


def test_passthrough_objects_accept_any_keys_and_stay_as_written() -> None:
    """extras, custom_args, third_party_channel, multi_language are passed through."""
    (manifest,) = load("good-passthrough-keys.yaml").manifests
    body = manifest.body["push"]
    assert body["body"]["notification"]["android"]["extras"] == {
        "anyKey": 1,
        "nested": {"deep": [1, "two"]},
    }
    assert body["body"]["options"]["third_party_channel"]["xiaomi"]["channel_id"] == "123"
    assert body["body"]["options"]["multi_language"] == {"de": {"content": "Fruehlingsangebot"}}
    assert body["custom_args"] == {"whatever_you_like": {"a": "b"}}


def test_custom_args_may_be_a_string() -> None:
    """Some vendor examples send custom_args as a string (docs/api.md 5: accept both)."""
    (manifest,) = load("good-custom-args-string.yaml").manifests
    assert manifest.body["push"]["custom_args"] == "push to you"


def test_multi_document_file_gives_one_manifest_per_document() -> None:
    """Documents of one file are separate schedules, each with its own start line."""
    result = load("good-multi-document.yaml")
    assert result.problems == []
    assert [(m.name, m.line) for m in result.manifests] == [("Spring_sale", 2), ("Daily_tip", 15)]


def test_anchors_and_aliases_are_resolved() -> None:
    """YAML anchors work (such files go through ruamel.yaml)."""
    (manifest,) = load("good-anchors.yaml").manifests
    assert manifest.body["push"]["body"]["notification"]["android"]["title"] == "Hello"


def test_json_style_manifest_loads() -> None:
    """A vendor example pasted as JSON is valid YAML and loads."""
    (manifest,) = load("good-flow-style.yaml").manifests
    assert manifest.name == "Flow_style"


def test_live_activity_alone_on_ios_is_valid() -> None:
    """live_activity with platform ios and nothing else is accepted (docs/api.md 5)."""
    assert load("good-ios-live-activity.yaml").problems == []


def test_voip_alone_on_ios_is_valid() -> None:
    """voip with platform [ios] and nothing else is accepted (docs/api.md 5)."""
    assert load("good-voip.yaml").problems == []


def test_one_year_limit_follows_the_configured_time_zone() -> None:
    """2027-11-25 00:00:01 is over a year ahead in UTC but not in Pacific/Kiritimati (+14),
    where it already is 25 November 2026."""
    now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 25 Nov 13:00 in Kiritimati
    assert len(load("bad-single-time-too-far.yaml", now=now).errors) == 1
    assert load("bad-single-time-too-far.yaml", now=now, tz="Pacific/Kiritimati").errors == []


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("good-*.yaml")))
def test_good_fixture_is_valid(fixture: str) -> None:
    """Each good-*.yaml fixture loads without any problem (they share names, so one by one)."""
    result = load(fixture)
    assert result.problems == []
    assert result.manifests


def test_the_example_manifests_are_valid_without_warnings() -> None:
    """schedules/ holds the vendor's three examples plus a weekly and a monthly one."""
    result = load_manifests([EXAMPLES], now=NOW, tz=ZoneInfo("UTC"))
    assert result.problems == []
    kinds = sorted(
        (m.schedule.kind, m.body["trigger"].get("periodical", {}).get("time_unit", "-"))
        for m in result.manifests
    )
    assert kinds == [
        ("intelligent", "-"),
        ("periodical", "day"),
        ("periodical", "month"),
        ("periodical", "week"),
        ("single", "-"),
    ]


# -- finding files ------------------------------------------------------------------------


def test_directories_are_searched_for_yaml_and_yml_files(tmp_path: Path) -> None:
    """*.yaml and *.yml below a directory are loaded; other files and dot-dirs are not."""
    text = (FIXTURES / "good-single.yaml").read_text()
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "sub" / "a.yml").write_text(text.replace("Spring_sale", "A"))
    (tmp_path / "b.yaml").write_text(text.replace("Spring_sale", "B"))
    (tmp_path / "notes.txt").write_text("not: a manifest")
    (tmp_path / ".hidden" / "c.yaml").write_text("broken: [")
    result = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    assert result.problems == []
    assert sorted(m.name for m in result.manifests) == ["A", "B"]


def test_a_manifest_directory_missing_here_but_found_above_says_where_to_run_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from inside `schedules/`, the default `schedules` is missing; the message said to
    create it, which made the manifests and a state file a second time. It names the directory
    above that holds it instead."""
    (tmp_path / "schedules").mkdir()
    monkeypatch.chdir(tmp_path / "schedules")
    result = load_manifests([Path("schedules")], now=NOW, tz=ZoneInfo("UTC"))
    (problem,) = result.errors
    assert problem.message == (
        f"no such file or directory here, but ../schedules exists: run the command from {tmp_path}"
    )


def test_a_manifest_file_with_an_upper_case_suffix_is_an_error(tmp_path: Path) -> None:
    """`Weekly.YAML` was left out without a word, and the plan deleted its schedule as
    "manifest removed". Such a file is an error naming it; `notes.txt` is still not read."""
    text = (FIXTURES / "good-single.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "Weekly.YAML").write_text(text.replace("Spring_sale", "Weekly"))
    (tmp_path / "b.Yml").write_text(text.replace("Spring_sale", "B"))
    (tmp_path / "notes.txt").write_text("not: a manifest")
    result = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    assert sorted((Path(p.path).name, p.message) for p in result.errors) == [
        ("Weekly.YAML", find.suffix_case("Weekly.YAML")),
        ("b.Yml", find.suffix_case("b.Yml")),
    ]
    assert find.suffix_case("Weekly.YAML").endswith("rename it to Weekly.yaml")


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is reported, not ignored."""
    result = load_manifests([tmp_path / "nope"], now=NOW, tz=ZoneInfo("UTC"))
    assert [p.message for p in result.errors] == [find.NOT_FOUND]


def test_a_file_given_twice_is_loaded_once(tmp_path: Path) -> None:
    """A file named directly and through its directory is not a duplicate of itself."""
    target = tmp_path / "a.yaml"
    target.write_text((FIXTURES / "good-single.yaml").read_text())
    result = load_manifests([tmp_path, target], now=NOW, tz=ZoneInfo("UTC"))
    assert result.problems == []
    assert len(result.manifests) == 1


def test_a_file_reached_through_links_inside_the_tree_is_loaded_once(tmp_path: Path) -> None:
    """`alias -> real` (a linked directory beside its target) and `b.yaml -> real/a.yaml`: the
    search knows each file by its real path, so the one schedule is not its own duplicate."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.yaml").write_text((FIXTURES / "good-single.yaml").read_text())
    (tmp_path / "alias").symlink_to("real")
    (tmp_path / "b.yaml").symlink_to(Path("real") / "a.yaml")
    result = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    assert result.problems == []
    assert [m.name for m in result.manifests] == ["Spring_sale"]
    assert result.files == 1


def test_a_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    """Files larger than 1 MiB are not parsed at all."""
    big = tmp_path / "big.yaml"
    big.write_text((FIXTURES / "good-single.yaml").read_text() + "#" * (1024 * 1024))
    result = load_manifests([big], now=NOW, tz=ZoneInfo("UTC"))
    assert [p.message for p in result.errors] == [
        "file is larger than 1 MiB; a manifest file holds a few schedules — split it"
    ]


def test_an_unreadable_path_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A directory given where a file is expected inside the walk cannot crash loading."""
    odd = tmp_path / "dir.yaml"
    odd.mkdir()  # a directory named like a manifest
    result = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    assert result.problems == []
    assert result.files == 0
