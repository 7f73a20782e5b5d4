"""What the commands tell a user: suggested commands that act on the same app, counts that say
what is in sync, one wording per thing."""

from __future__ import annotations

from tests.e2e.helpers import Project, body


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


def test_error_hints_repeat_the_options_that_chose_the_environment(project: Project) -> None:
    """An error's hint under --env prod names `reconciler --env prod ...`, not a bare command."""
    _prod(project)
    result = project.run("--env", "prod", "state", "mv", "nope", "other")
    assert result.exit_code == 1
    assert f"`reconciler --env prod --endpoint {project.url} state list`" in result.output
