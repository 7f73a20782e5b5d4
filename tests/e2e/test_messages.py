"""What the commands tell a user: suggested commands that act on the same app, counts that say
what is in sync, one wording per thing."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

import pytest

from tests.e2e.helpers import Project, pasted
from tests.kit.bodies import body, single


def _prod(project: Project) -> None:
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default: {}\n  prod:\n    manifests: schedules\n"
        "    state: .reconciler/prod/state.json\n",
        encoding="utf-8",
    )


def test_suggested_commands_repeat_the_options_that_chose_the_environment(
    project: Project,
) -> None:
    """Under --env prod (and --endpoint), the conflict's "adopt with `reconciler import ...`" in
    plan and apply carries both, so pasting it adopts the task in the same app and state."""
    _prod(project)
    project.write("a")
    sid = project.out_of_band_create(body("a"))
    expected = f"`reconciler --env prod --endpoint {project.url} import a={sid}`"
    plan = project.run("--env", "prod", "plan")
    assert plan.exit_code == 0, plan.output
    assert expected in plan.output, plan.output
    apply = project.run("--env", "prod", "apply", "--auto-approve")
    assert expected in apply.output, apply.output
    assert "`reconciler import" not in apply.output


def test_the_adoption_each_command_advises_works_as_advised(project: Project) -> None:
    """A console task ``promo `` (a blank typed at its end) is the manifest ``promo``'s as the
    planner compares names, but `import` adopts a task under its own name only. Plan, apply,
    drift and export all advised `reconciler import promo=ID`, which import refused ("is named
    'promo ', not 'promo'"): advice that cannot be followed. They now say to rename the task
    first; renamed as told, the advised import adopts it and the plan is a no-op."""
    project.write("promo")
    sid = project.out_of_band_create(body("promo "))
    command = f"`reconciler --endpoint {project.url} import promo={sid}`"
    rename = "rename it to 'promo' in the EngageLab console"
    for args in (("plan",), ("apply", "--auto-approve"), ("drift",), ("export",)):
        result = project.run(*args)
        assert result.exit_code in (0, 2), result.output
        assert "named 'promo '" in result.output or "('promo ')" in result.output, result.output
        assert rename in result.output, result.output
        assert command in result.output, result.output
    assert project.run("import", f"promo={sid}").exit_code == 1  # as the advice says

    project.out_of_band_update(sid, body("promo"))  # renamed as advised
    plan = project.run("plan")
    advice = f"adopt with {command}"
    assert advice in plan.output, plan.output
    assert rename not in plan.output
    assert project.run("import", f"promo={sid}").exit_code == 0
    assert project.state_ids() == {"promo": sid}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_suggested_commands_with_a_name_holding_a_blank_work_aspasted(project: Project) -> None:
    """A schedule named "Spring sale" (the API takes blanks; a warning prefers _): its
    suggested `import` and `state rm` were printed unquoted, so a pasted line split the name
    ("'Spring' is not NAME=SCHEDULE_ID"), and with schedules "Spring" and "sale" managed,
    `state rm Spring sale` forgot those two. Quoted, each works as pasted."""
    project.write("Spring sale", protected=True)
    project.write("keep")  # not the last manifest: its removal is not the empty set's refusal
    sid = project.out_of_band_create(body("Spring sale"))
    adopt = pasted(project.run("plan").output, "import")
    assert adopt == ["import", f"Spring sale={sid}"], adopt
    assert pasted(project.run("export").output, "import") == adopt  # its skipped task
    assert project.run(*adopt).exit_code == 0
    assert project.state_ids() == {"Spring sale": sid}

    (project.schedules / "Spring sale.yaml").unlink()  # protected: its delete is refused
    refused = project.run("plan")
    assert refused.exit_code == 1, refused.output
    forget = pasted(refused.output, "state rm")
    assert forget == ["state", "rm", "Spring sale"], forget
    assert project.run(*forget).exit_code == 0
    assert project.state_ids() == {}


def test_error_hints_repeat_the_options_that_chose_the_environment(project: Project) -> None:
    """An error's hint under --env prod names `reconciler --env prod ...`, not a bare command."""
    _prod(project)
    result = project.run("--env", "prod", "state", "mv", "nope", "other")
    assert result.exit_code == 1
    assert f"`reconciler --env prod --endpoint {project.url} state list`" in result.output


def test_a_backslash_in_a_chosen_option_is_repeated_as_typed(project: Project) -> None:
    """``--config 'conf\\dev.yaml'`` (a backslash is a legal file-name character here, and every
    Windows path has them) is repeated verbatim in a suggested command: not read as an escape
    (``\\d`` used to end the command in a traceback, ``\\n`` in a line break)."""
    for name in ("conf\\dev.yaml", "conf\\new.yaml"):
        config = project.root / name
        config.write_text("environments:\n  default: {}\n", encoding="utf-8")
        result = project.run("--config", str(config), "state", "mv", "nope", "other")
        assert result.exit_code == 1, result.output
        typed = f"--config {shlex.quote(str(config))} --endpoint {project.url}"
        assert f"`reconciler {typed} state list`" in result.output, result.output


def test_a_plan_without_changes_says_how_many_are_in_sync(project: Project) -> None:
    """A no-change plan over three managed schedules says they are in sync, not "(no
    schedules)"."""
    for name in ("a", "b", "c"):
        project.write(name)
    assert project.apply().exit_code == 0
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    assert "(all 3 managed schedule(s) in sync)" in result.output
    assert "(no schedules)" not in result.output


def test_an_unsafe_plan_lists_each_violation_once_and_says_apply_would_refuse(
    project: Project,
) -> None:
    """plan with a protected schedule's manifest removed: the violation appears once, the error
    says apply would refuse the plan (plan applies nothing), and no override is suggested for a
    rule that has none."""
    project.write("keep", protected=True)
    project.write("other")
    assert project.apply().exit_code == 0
    project.remove("keep")
    result = project.run("plan")
    assert result.exit_code == 1, result.output
    assert result.output.count("has lifecycle.prevent_destroy") == 1, result.output
    assert "listed with it above; apply would refuse it" in result.output
    assert "was not applied" not in result.output
    assert "override" not in result.output


def test_fire_guard_violation_reads_an_update(project: Project) -> None:
    """The fire-guard line says "an update", not "a update"."""
    project.write("flash", trigger=single("2026-12-01 00:03:00"))
    assert project.apply().exit_code == 0
    project.write("flash", trigger=single("2026-12-01 00:03:00"), alert="Changed")
    result = project.run("plan")
    assert result.exit_code == 1
    assert "an update now races the push" in result.output


def test_strict_marks_a_warning_once(project: Project) -> None:
    """Under --strict a name-with-hyphen warning is one error, marked once (no "(--strict)"
    after "(an error under --strict)"); plan --strict counts it as a problem."""
    project.write("my-name")
    validate = project.run("validate", "--strict")
    assert validate.exit_code == 1
    assert "(an error under --strict)\n" in validate.output
    assert "(--strict) (--strict)" not in validate.output
    assert "--strict) (--strict" not in validate.output
    plan = project.run("plan", "--strict")
    assert plan.exit_code == 1
    assert "error: 1 problem(s) in the manifests" in plan.output


def test_fires_next_is_shown_in_the_time_zone_for_creates_and_updates(project: Project) -> None:
    """With --timezone Asia/Shanghai, "fires next" reads in that zone's wall time, for a create
    as well as for an update."""
    project.write("a", trigger=single("2027-03-01 10:00:00"))
    created = project.run("--timezone", "Asia/Shanghai", "apply", "--auto-approve")
    assert created.exit_code == 0, created.output
    assert "# fires next at 2027-03-01 10:00:00 CST" in created.output, created.output
    project.write("a", trigger=single("2027-03-01 10:00:00"), alert="Changed")
    plan = project.run("--timezone", "Asia/Shanghai", "plan")
    assert plan.exit_code == 0, plan.output
    assert "# fires next at 2027-03-01 10:00:00 CST" in plan.output, plan.output


def test_zone_type_2_fires_over_a_span_and_the_guard_watches_its_start(
    project: Project,
) -> None:
    """A zone_type 2 one-shot at 10:00 device time fires from 10:00 at UTC+14 (20:00 UTC the day
    before) to 10:00 at UTC-12: the plan shows that span, and at 09:00 UTC, with devices already
    past 10:00, a change needs --force."""
    project.write("z", trigger=single("2027-03-01 10:00:00", zone_type=2))
    created = project.run("plan")
    assert (
        "fires next between 2027-02-28 20:00:00 UTC and 2027-03-01 22:00:00 UTC "
        "(zone_type 2: each device's own time)"
    ) in created.output, created.output
    assert project.apply().exit_code == 0
    project.emulator.set_time(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    project.write("z", trigger=single("2027-03-01 10:00:00", zone_type=2), alert="Changed")
    project.mark()
    refused = project.apply()
    assert refused.exit_code == 1, refused.output
    assert "'z' fires at 2027-02-28T20:00:00+00:00" in refused.output
    assert project.writes() == []


def test_apply_lists_each_action_with_its_result_and_new_ids(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apply prints one line per action (created with its new id, updated, replaced old -> new)
    before its counts, and its progress names replaces as replaces."""
    project.write("u", alert="v1")
    project.write("r", trigger=single(zone_type=1))
    assert project.apply().exit_code == 0
    before = project.state_ids()
    project.write("u", alert="v2")
    project.write("r", trigger=single(zone_type=2))
    project.write("c")
    progress: list[str] = []
    monkeypatch.setattr("reconciler.commands.plan._progress", lambda: progress.append)
    result = project.apply()
    assert result.exit_code == 0, result.output
    after = project.state_ids()
    assert f"  created 'c' ({after['c']})" in result.output
    assert f"  updated 'u' ({before['u']})" in result.output
    assert f"  replaced 'r' ({before['r']} -> {after['r']})" in result.output
    assert "Apply complete: 3 action(s) done" in result.output
    assert "replace and update: 2/2" in progress


def test_usage_errors_use_the_one_error_style_and_hint_misplaced_global_options(
    project: Project,
) -> None:
    """`plan --timezone UTC`: exit 1, "error:" (not click's "Error:"), and a hint to give the
    top-level option before the command."""
    result = project.run("plan", "--timezone", "UTC")
    assert result.exit_code == 1
    assert "Error:" not in result.output
    assert "error: No such option '--timezone'" in result.output
    assert (
        "hint: --timezone is an option of `reconciler` itself: give it before the command, "
        "e.g. `reconciler --timezone TIMEZONE plan ...`"
    ) in result.output


@pytest.mark.parametrize("command", [["apply"], ["import"], ["state", "rm"], ["state", "mv"]])
def test_lock_timeout_has_one_default(command: list[str]) -> None:
    """Every command taking the state lock waits 30 s by default (one meaning for
    RECONCILER_LOCK_TIMEOUT)."""
    from click.testing import CliRunner

    from reconciler.cli import cli

    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--lock-timeout" in text
    assert "default: 30.0" in text


def test_debug_logs_each_request_once(project: Project) -> None:
    """``--debug`` prints one line per request (the client's, with the full URL, status and
    timing), not a second one from httpx."""
    import os
    import subprocess
    import sys

    project.write("a")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", "--debug", "--endpoint", str(project.url), "plan"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "/v4/schedules?page=1" in line]
    assert len(lines) == 1, proc.stderr
    assert f"GET {project.url}/v4/schedules?page=1 -> 200 in " in lines[0]


def test_import_of_an_unknown_id_points_to_a_command_that_exists(project: Project) -> None:
    """import NAME=ID with an id the app does not have: the hint names `reconciler remote list`
    (which lists the app's tasks with their ids), a command that exists."""
    project.write("a")
    result = project.run("import", "a=00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 1
    assert "no active remote task" in result.output
    assert f"`reconciler --endpoint {project.url} remote list` lists the app's" in result.output
    assert "list the app's tasks" not in result.output


def test_config_help_names_its_variable() -> None:
    """`reconciler --help` shows RECONCILER_CONFIG next to --config, as for every option."""
    from click.testing import CliRunner

    from reconciler.cli import cli

    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert "env var: RECONCILER_CONFIG" in result.output


def test_a_conflict_with_two_tasks_of_the_name_says_to_delete_the_other(project: Project) -> None:
    """Two unmanaged copies of a manifest's name: the advice named `import` of one, and
    following it left the other firing beside the adopted one ("live more than once"). It now
    names the delete of the other too, and following both leaves a clean plan."""
    project.write("dup")
    copies = {project.out_of_band_create(body("dup")) for _ in range(2)}
    plan = project.run("plan")
    imported = pasted(plan.output, "import")
    adopted = imported[-1].removeprefix("dup=")
    [other] = copies - {adopted}
    deleting = pasted(plan.output, "remote delete")
    assert deleting[-1] == other, plan.output
    assert project.run(*imported).exit_code == 0
    assert project.run(*deleting, "--auto-approve").exit_code == 0
    assert project.remote_ids() == {"dup": adopted}
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_conflict_copy_declared_someone_elses_is_not_advised_for_deletion(
    project: Project,
) -> None:
    """Of two tasks of a manifest's name, one is ignored by id (someone else's campaign): the
    advice named `remote delete` of it, which refuses an ignored task. It says whose it is."""
    project.write("dup")
    ours = project.out_of_band_create(body("dup"))
    theirs = project.out_of_band_create(body("dup"))
    (project.root / "reconciler.yaml").write_text(
        f"environments:\n  default:\n    ignore:\n      ids: ['{theirs}']\n", encoding="utf-8"
    )
    plan = project.run("plan")
    assert f"remote delete {theirs}" not in plan.output, plan.output
    assert (
        f"task(s) {theirs} of the name are declared someone else's by reconciler.yaml "
        f"(ids: {theirs})" in plan.output
    ), plan.output
    assert f"import dup={ours}`" in plan.output, plan.output
