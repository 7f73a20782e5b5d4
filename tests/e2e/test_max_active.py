"""``max_active`` in reconciler.yaml sets the active-task limit the plan is checked against."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import Project


def config(project: Project, max_active: object) -> None:
    (project.root / "reconciler.yaml").write_text(
        f"environments:\n  default:\n    max_active: {max_active}\n", encoding="utf-8"
    )


def test_a_lower_limit_refuses_a_plan_that_would_exceed_it(project: Project) -> None:
    """With max_active 2, three creates are refused by the active-limit rule, nothing is sent."""
    config(project, 2)
    for name in ("a", "b", "c"):
        project.write(name)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "apply would need 3 active schedules at its peak (limit 2" in result.output
    assert project.writes() == []


def test_the_limit_is_saved_with_the_plan(project: Project) -> None:
    """A saved plan carries the limit it was checked against (apply re-checks with it)."""
    config(project, 5000)
    project.write("a")
    result = project.run("plan", "--out", "saved.plan")
    assert result.exit_code == 0, result.output
    assert '"max_active":5000' in Path("saved.plan").read_text(encoding="utf-8").replace(" ", "")


def test_a_bad_value_is_reported_with_its_line(project: Project) -> None:
    """max_active must be a whole number of at least 1."""
    config(project, 0)
    result = project.run("plan")
    assert result.exit_code == 1
    assert "reconciler.yaml:3: default.max_active: 0 must be a whole number ≥ 1" in result.output
