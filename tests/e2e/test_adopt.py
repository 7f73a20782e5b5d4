"""Adopting an existing app: ``remote list|show``, ``export [--adopt]`` and ``ignore:`` rules.

The remote tasks are created through the vendor's own Python SDK (engagelab-apppush, unmodified)
against the served emulator, as a team's scripts would have made them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import engagelab
import pytest
from hypothesis import HealthCheck, assume, given, settings

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.ops import observe as engine
from tests.e2e.helpers import Project, embedded_with
from tests.kit.bodies import body, periodical
from tests.kit.emulator import RecordingEmulator
from tests.test_manifests_roundtrip import schedules


@pytest.fixture
def sdk(project: Project) -> engagelab.Client:
    assert project.url is not None
    return engagelab.Client(DEMO_APP_KEY, DEMO_MASTER_SECRET, base_url=project.url, timeout=5)


def _push(**body_kw: Any) -> engagelab.PushParam:
    return engagelab.PushParam(
        from_="push",
        to=engagelab.PushTo(registration_id=["1a0018970ab49abda3e", "100d85590955c1d2793"]),
        body=engagelab.PushBody(**body_kw),
        request_id="12345",
        custom_args={"Engagelab": "push to you"},
    )


def _notification(alert: str) -> engagelab.NotificationMessage:
    return engagelab.NotificationMessage(
        alert=alert,
        android=engagelab.AndroidNotification(title=alert, extras={"key1": "value1"}),
        ios=engagelab.IOSNotification(alert=alert, badge="+1", mutable_content=True),
        hmos=engagelab.HmosNotification(alert=alert, title=alert, category="MARKETING"),
    )


def sdk_tasks() -> list[engagelab.SchedulePushParam]:
    """The vendor's three documented examples, weekly and monthly ones, a Chinese name, every
    push section the manifest models know (notification for three platforms, custom message,
    options)."""
    options = engagelab.Options(time_to_live=60, apns_production=False)
    return [
        engagelab.SchedulePushParam(
            name="Timed_Push_Example_single",
            enabled=True,
            trigger=engagelab.ScheduleTrigger(
                single=engagelab.TriggerSingle(time="2027-02-01 10:00:00", zone_type=1)
            ),
            push=_push(platform="android", notification=_notification("single"), options=options),
        ),
        engagelab.SchedulePushParam(
            name="Timed_Push_Example_periodical",
            enabled=True,
            trigger=engagelab.ScheduleTrigger(
                periodical=engagelab.TriggerPeriodical(
                    start="2027-01-01 00:00:00",
                    end="2027-06-30 00:00:00",
                    time="12:00:00",
                    time_unit="DAY",
                    point=[],
                    zone_type=1,
                )
            ),
            push=_push(platform="android", notification=_notification("daily")),
        ),
        engagelab.SchedulePushParam(
            name="Timed_Push_Example_intelligent",
            enabled=True,
            trigger=engagelab.ScheduleTrigger(
                intelligent=engagelab.TriggerIntelligent(backup_time="2027-02-01 08:00:00")
            ),
            push=_push(
                platform="all",
                message=engagelab.CustomMessage(
                    title="in-app", msg_content="hello", content_type="text", extras={"a": 1}
                ),
            ),
        ),
        engagelab.SchedulePushParam(
            name="Weekly_digest",
            enabled=True,
            trigger=engagelab.ScheduleTrigger(
                periodical=engagelab.TriggerPeriodical(
                    start="2027-01-04 00:00:00",
                    end="2027-12-27 00:00:00",
                    time="09:00:00",
                    frequency=2,
                    time_unit="WEEK",
                    point=["thu", "MON"],
                    zone_type=2,
                )
            ),
            push=_push(platform="ios", notification=_notification("digest"), options=options),
        ),
        engagelab.SchedulePushParam(
            name="每月_账单提醒",
            enabled=True,
            trigger=engagelab.ScheduleTrigger(
                periodical=engagelab.TriggerPeriodical(
                    start="2027-01-01 00:00:00",
                    end="2027-12-31 00:00:00",
                    time="08:30:00",
                    time_unit="month",
                    point=["15", "01"],
                    zone_type=1,
                )
            ),
            push=_push(platform="android", notification=_notification("账单")),
        ),
    ]


def _create_all(sdk: engagelab.Client) -> dict[str, str]:
    return {p.name: sdk.schedule.create(p).schedule_id for p in sdk_tasks()}


def test_export_adopt_then_plan_is_a_no_op(project: Project, sdk: engagelab.Client) -> None:
    """SDK-made tasks exported and adopted in one command: the files validate with no warning,
    the state owns every task, and `plan --detailed-exitcode` exits 0 with no write."""
    ids = _create_all(sdk)
    project.mark()
    result = project.run("export", "--adopt")
    assert result.exit_code == 0, result.output
    assert project.state_ids() == ids
    written = sorted(p.name for p in project.schedules.glob("*.yaml"))
    assert len(written) == len(ids)
    validated = project.run("validate", "--strict")
    assert validated.exit_code == 0, validated.output
    assert "warning" not in validated.output
    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert project.writes() == []


def test_exported_files_read_like_hand_written_ones(
    project: Project, sdk: engagelab.Client
) -> None:
    """Block style, quoted date-times, documented key order, normal-form values, the schema
    modeline and a comment naming the task's id."""
    (project.schedules / "schedule.schema.json").write_text("{}", encoding="utf-8")
    ids = _create_all(sdk)
    assert project.run("export").exit_code == 0
    text = (project.schedules / "weekly_digest.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# yaml-language-server: $schema=schedule.schema.json"
    assert f"from remote task {ids['Weekly_digest']}" in text
    keys = [line.split(":")[0] for line in lines if line and not line.startswith((" ", "#"))]
    assert keys == ["name", "enabled", "trigger", "push"]
    assert '    start: "2027-01-04 00:00:00"' in text
    assert '    time: "09:00:00"' in text
    assert "time_unit: week" in text
    assert "      - MON\n      - THU" in text  # weekday case and order normalised
    assert "{" not in text  # no flow mappings
    monthly = next(p for p in project.schedules.glob("*.yaml") if "每月" in p.read_text("utf-8"))
    assert monthly.name.isascii()  # a safe file name for a Chinese schedule name
    assert '      - "01"\n      - "15"' in monthly.read_text("utf-8")


def test_export_never_overwrites_a_file(project: Project) -> None:
    """A file of the same name is kept; the export picks another name unless --overwrite."""
    project.out_of_band_create(body("promo"))
    kept = project.write_body(body("promo_notes"), file="promo.yaml")
    before = kept.read_text(encoding="utf-8")
    result = project.run("export")
    assert result.exit_code == 0, result.output
    assert kept.read_text(encoding="utf-8") == before
    others = [p for p in project.schedules.glob("promo*.yaml") if p != kept]
    assert len(others) == 1
    assert project.run("export", "--overwrite", "--dir", "elsewhere").exit_code == 0


def test_export_marks_a_body_the_models_reject(project: Project) -> None:
    """A task whose name the docs do not allow is written with the problem marked at the top,
    reported, not adopted, and the command exits 1."""
    emulator = project.emulator
    # A task from before the API enforced its documented name rule (the real app may hold such
    # tasks): put into the store directly, past the emulator's create validation.
    with emulator._lock:
        sid = emulator._insert(body("bad name (copy)"), emulator.now()).schedule_id
    result = project.run("export", "--adopt")
    assert result.exit_code == 1, result.output
    assert "NEEDS ATTENTION" in result.output
    [written] = project.schedules.glob("*.yaml")
    text = written.read_text(encoding="utf-8")
    assert "# NEEDS ATTENTION" in text
    assert sid in text
    assert not project.state_path.exists() or sid not in json.dumps(project.state())


def test_export_selects_by_id_pattern_and_trigger(project: Project) -> None:
    """--id, --name patterns and --trigger narrow the export; unknown ids stop it first."""
    a = project.out_of_band_create(body("Spring_sale"))
    project.out_of_band_create(
        body(
            "Spring_teaser",
            trigger=periodical(start="2027-01-04 00:00:00", end="2027-12-27 00:00:00"),
        )
    )
    project.out_of_band_create(body("Autumn_sale"))
    out = Path("picked")
    result = project.run("export", "--name", "Spring_*", "--trigger", "single", "--dir", str(out))
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.yaml")] == ["spring_sale.yaml"]
    assert a in (out / "spring_sale.yaml").read_text(encoding="utf-8")
    missing = project.run("export", "--id", "nope", "--dir", "none")
    assert missing.exit_code == 1
    assert "no remote task has the id nope" in missing.output
    assert not Path("none").exists()


def test_export_skips_a_conflict_and_names_import(project: Project) -> None:
    """A remote task with a manifest's name is not written again: the message says import,
    with the options that chose this app (as every suggested command)."""
    project.write("ours")
    sid = project.out_of_band_create(body("ours"))
    result = project.run("export")
    assert result.exit_code == 0, result.output
    assert f"`reconciler --endpoint {project.url} import ours={sid}`" in result.output
    assert [p.name for p in project.schedules.glob("*.yaml")] == ["ours.yaml"]


def test_export_adopt_never_writes_two_manifests_of_one_name(project: Project) -> None:
    """Names are compared as the planner compares them: a console task "promo " beside the
    managed "promo", and two tasks whose names differ only in Unicode's compatibility form,
    were each exported and adopted, and every later plan failed on two manifests of one name.
    Now the first is a second task of the managed schedule (the plan's "live more than
    once": skipped, with `remote delete` as the way out) and the pair is skipped as one name
    twice; the plan after the export goes on."""
    project.write("promo")
    assert project.apply().exit_code == 0
    spaced = project.out_of_band_create(body("promo "))
    compat = project.out_of_band_create(body("\uf900"))
    unified = project.out_of_band_create(body("\u8c48"))
    result = project.run("export", "--adopt")
    assert result.exit_code == 0, result.output
    assert f"{spaced} ('promo '): a second task of the managed schedule 'promo'" in result.output
    for sid in (compat, unified):
        assert f"{sid} (" in result.output
        assert "2 remote tasks share this name" in result.output
    assert [p.name for p in project.schedules.glob("*.yaml")] == ["promo.yaml"]
    assert list(project.state()["entries"]) == ["promo"]
    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code in (0, 2), planned.output
    assert "error" not in planned.output.lower()


def test_import_all_matching_compares_names_as_the_planner_does(project: Project) -> None:
    """`import --all-matching` with a manifest "promo": tasks "promo" and "promo " are two
    tasks of that name (skipped, none adopted); "promo " alone is named otherwise (skipped
    with what to rename, not a failure of the whole import)."""
    project.write("promo")
    exact = project.out_of_band_create(body("promo"))
    spaced = project.out_of_band_create(body("promo "))
    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert "'promo': 2 remote tasks" in result.output
    assert not project.state_path.exists()  # nothing adopted, nothing saved
    project.out_of_band_delete(exact)
    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert f"task {spaced} is named 'promo '" in result.output
    assert "Nothing imported: every task above was skipped." in result.output
    assert not project.state_path.exists()  # nothing adopted, nothing saved


def test_import_all_matching_that_finds_nothing_says_so(project: Project) -> None:
    """It used to print nothing at all, which reads as success; the one line says nothing was
    recorded and why (a task of another name does not count)."""
    project.write("promo")
    project.out_of_band_create(body("other"))
    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Nothing imported: no remote task that is not managed carries the name of a manifest "
        "that is not managed yet."
    ), result.output
    assert not project.state_path.exists()


def test_import_refuses_a_name_given_twice(project: Project) -> None:
    """Two remote tasks of one name (a copy made by hand): `import a=ID1 a=ID2` used to keep
    the later pair without a word, leaving the other task as a second live copy to find
    later. Refused before anything is read or saved, naming both ids."""
    project.write("a")
    first = project.out_of_band_create(body("a"))
    second = project.out_of_band_create(body("a"))
    project.mark()
    result = project.run("import", f"a={first}", f"a={second}")
    assert result.exit_code != 0
    assert f"'a' is named twice ({first} and {second})" in result.output
    assert "Traceback" not in result.output
    assert not project.state_path.exists()
    assert project.emulator.request_log == []


def test_import_refuses_a_task_id_given_for_two_names(project: Project) -> None:
    """`import a=ID b=ID`: refused before any request, with that reason (a task is only ever
    imported under its own name, so the read would refuse one of the two as well)."""
    project.write("a")
    project.write("b")
    sid = project.out_of_band_create(body("a"))
    project.mark()
    result = project.run("import", f"a={sid}", f"b={sid}")
    assert result.exit_code != 0
    assert f"task {sid} is named for both 'a' and 'b'" in result.output
    assert not project.state_path.exists()
    assert project.emulator.request_log == []


def _overlay(project: Project, file: str, key: str) -> None:
    """An environment overlay whose ``file`` sets ``time_to_live: 60`` under ``key``."""
    overlay = project.root / "overlays"
    overlay.mkdir()
    (overlay / file).write_text(
        f"{key}:\n  push:\n    body:\n      options:\n        time_to_live: 60\n"
    )
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    manifests: schedules\n    overlay: overlays\n"
    )


def test_export_adopt_reads_each_file_with_the_defaults_and_overlay_it_will_live_under(
    project: Project,
) -> None:
    """A directory default (`push.from`) or an environment overlay (`time_to_live`) merges
    into every manifest: the exported files were adopted, and the next apply would have
    rewritten every live task. Now a file whose merged body differs from its live task is
    marked NEEDS ATTENTION with the fields, and not adopted; one that matches is adopted."""
    (project.schedules / "_defaults.yaml").write_text("push:\n  from: marketing\n")
    plain = project.out_of_band_create(body("plain", sender=None))
    same = project.out_of_band_create(body("same", sender="marketing"))
    result = project.run("export", "--adopt")
    assert result.exit_code == 1, result.output
    assert f"from {plain}: NEEDS ATTENTION" in result.output
    assert "differs from the live task in push.from" in result.output
    # With the options that chose this app, as every suggested command.
    assert f"`reconciler --endpoint {project.url} import plain={plain}`" in result.output
    assert f"from {same} (adopted)" in result.output
    assert list(project.state()["entries"]) == ["same"]

    # The same with an overlay instead of a default, named by the environment.
    (project.schedules / "_defaults.yaml").unlink()
    for path in project.schedules.glob("*.yaml"):
        path.unlink()
    project.state_path.unlink()
    _overlay(project, "all.yaml", '"*"')
    result = project.run("export", "--adopt")
    assert result.exit_code == 1, result.output
    assert "differs from the live task in push.body.options" in result.output
    assert not project.state_path.exists() or project.state()["entries"] == {}


def test_export_adopt_under_an_overlay_that_patches_another_schedule_by_name(
    project: Project,
) -> None:
    """An overlay that patches one schedule by its name: each exported draft is read alone
    under the overlay, where that patch finds no manifest of its name. That is no problem of
    the draft: it is adopted when it matches its live task."""
    _overlay(project, "mine.yaml", "mine")
    project.write("mine")
    assert project.apply().exit_code == 0, project.apply().output
    theirs = project.out_of_band_create(body("theirs"))
    result = project.run("export", "--adopt")
    assert result.exit_code == 0, result.output
    assert f"from {theirs} (adopted)" in result.output
    assert sorted(project.state()["entries"]) == ["mine", "theirs"]


def test_export_adopt_refuses_a_hidden_directory_the_search_skips(project: Project) -> None:
    """`--dir schedules/.drafts` is inside the manifest directory, but the manifest search
    skips hidden directories: adopted there, the tasks would have no manifest and the next
    apply would delete them. Refused before any request, nothing written."""
    project.out_of_band_create(body("theirs"))
    project.mark()
    result = project.run("export", "--adopt", "--dir", "schedules/.drafts")
    assert result.exit_code != 0, result.output
    assert "hidden directory" in result.output
    assert "Traceback" not in result.output
    assert project.emulator.request_log == []
    assert not (project.schedules / ".drafts").exists()
    assert not project.state_path.exists()


def test_remote_list_marks_every_status(project: Project) -> None:
    """managed, unmanaged, conflict and ignored, in text and json."""
    project.write("mine")
    project.write("clash")
    assert project.apply().exit_code == 0
    project.remove("clash")
    project.write("twin")
    project.out_of_band_create(body("twin"))
    project.out_of_band_create(body("stranger"))
    project.out_of_band_create(body("adhoc_push"))
    config = project.root / "reconciler.yaml"
    config.write_text(
        "environments:\n  default:\n    ignore:\n      names: ['adhoc_*']\n", encoding="utf-8"
    )
    result = project.run("remote", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    status = {t["name"]: t["status"] for t in data["tasks"]}
    assert status == {
        "mine": "managed",
        "clash": "managed",
        "twin": "conflict",
        "stranger": "unmanaged",
        "adhoc_push": "ignored",
    }
    text = project.run("remote", "list")
    assert "ignored (names: adhoc_*)" in text.output
    shown = project.run("remote", "show", "stranger")
    assert shown.exit_code == 0, shown.output
    assert "name: stranger" in shown.output


def test_ignored_tasks_are_neither_conflict_nor_drift(project: Project) -> None:
    """With only ignored tasks beside the managed ones, drift exits 0 and plan shows nothing
    for them; without the rule the same app drifts."""
    project.write("mine")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("mine_too"))
    project.out_of_band_create(body("adhoc_1"))
    assert project.run("drift").exit_code == 2
    (project.root / "reconciler.yaml").write_text(
        f"environments:\n  default:\n    ignore:\n      names: ['adhoc_*']\n"
        f"      ids: ['{theirs}']\n",
        encoding="utf-8",
    )
    drift = project.run("drift")
    assert drift.exit_code == 0, drift.output
    assert "2 remote task(s) ignored" in drift.output
    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert "adhoc_1" not in planned.output


def test_a_managed_task_is_never_ignored(project: Project) -> None:
    """An ignore pattern matching a managed name does not hide its task: removing the
    manifest still plans the delete."""
    project.write("adhoc_ours")
    project.write("kept")
    assert project.apply().exit_code == 0
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    ignore:\n      names: ['adhoc_*']\n", encoding="utf-8"
    )
    project.remove("adhoc_ours")
    planned = project.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "delete" in planned.output


def test_a_bad_ignore_block_is_a_config_error(project: Project) -> None:
    """`ignore:` with an unknown key or a non-list is reported with file and line."""
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    ignore:\n      name: ['x']\n", encoding="utf-8"
    )
    result = project.run("plan")
    assert result.exit_code == 1
    assert "reconciler.yaml:4" in result.output or "reconciler.yaml:3" in result.output
    assert "names" in result.output


EMULATOR = RecordingEmulator()  # in-process (embedded path); emptied for every example


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=schedules)
def test_every_body_the_emulator_accepts_exports_to_a_no_op_plan(raw: dict[str, Any]) -> None:
    """Property: a body the emulator stores, exported and adopted, plans as no change (or, for a
    body the manifests cannot express, is marked and not adopted)."""
    EMULATOR.fresh()
    raw = {**raw, "enabled": True}
    try:
        EMULATOR.add_schedule(raw)
    except ValueError:
        assume(False)  # the API refuses it: nothing to export
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "resolve_target", embedded_with(EMULATOR))
        project = Project(Path(tmp), EMULATOR, None, config=True)
        exported = project.run("export", "--adopt")
        if exported.exit_code == 1:
            assert "NEEDS ATTENTION" in exported.output, exported.output
            assert not project.state_path.exists() or project.state_ids() == {}
            return
        assert exported.exit_code == 0, exported.output
        project.mark()
        planned = project.run("plan", "--detailed-exitcode")
        assert planned.exit_code == 0, planned.output
        assert project.writes() == []
