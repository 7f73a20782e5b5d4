"""The rehearsal's GitHub expression evaluator follows GitHub's documented semantics for the
constructs our workflows use (a wrong evaluator would run the wrong steps and prove nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.expressions import ExpressionError, condition, evaluate, render

CONTEXTS: dict[str, Any] = {
    "steps": {"plan": {"outputs": {"exitcode": "2"}, "outcome": "success"}},
    "matrix": {"name": "prod", "app_key_env": "PROD_KEY"},
    "secrets": {"PROD_KEY": "s3cret"},
    "vars": {},
    "github": {"ref_name": "main", "event": {"repository": {"default_branch": "main"}}},
    "needs": {"validate": {"outputs": {"matrix": '{"include":[{"name":"prod"}]}'}}},
}
OK = {
    "always": lambda: True,
    "success": lambda: True,
    "failure": lambda: False,
    "cancelled": lambda: False,
}
FAILED = {**OK, "success": lambda: False, "failure": lambda: True}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("steps.plan.outputs.exitcode == '2'", True),
        ("steps.plan.outputs.exitcode == 2", True),  # mismatched types compare as numbers
        ("steps.missing.outputs.exitcode != ''", False),  # null == '' (both 0)
        ("github.ref_name == github.event.repository.default_branch", True),
        ("'MAIN' == github.ref_name", True),  # strings compare case-insensitively
        ("secrets[matrix.app_key_env]", "s3cret"),
        ("fromJSON(vars.RECONCILER_MAX_PARALLEL || '20')", 20),
        ("steps.plan.outputs.exitcode == '2' && 'error' || 'warn'", "error"),
        ("steps.plan.outputs.exitcode == '0' && 'error' || 'warn'", "warn"),
        ("vars.RECONCILER_EMULATOR != 'true'", True),
        ("fromJSON(needs.validate.outputs.matrix).include[0].name", "prod"),
        ("!(1 < 2)", False),
    ],
)
def test_expression_values(expression: str, expected: Any) -> None:
    """Each expression evaluates to what GitHub would give."""
    assert evaluate(expression, CONTEXTS) == expected


def test_condition_without_status_function_needs_earlier_success() -> None:
    """if: without a status function is implicitly success() && (...)."""
    assert condition("steps.plan.outputs.exitcode == '2'", CONTEXTS, OK) is True
    assert condition("steps.plan.outputs.exitcode == '2'", CONTEXTS, FAILED) is False


def test_condition_with_always_runs_after_a_failure() -> None:
    """always() in the condition lifts the implicit success()."""
    assert condition("${{ always() && vars.RECONCILER_EMULATOR != 'true' }}", CONTEXTS, FAILED)


def test_render_keeps_the_type_of_a_lone_expression_and_formats_mixed_text() -> None:
    """A lone ${{ }} keeps its type (matrices); mixed text is formatted as a string."""
    assert render("${{ fromJSON('[1]') }}", CONTEXTS) == [1]
    assert render("plan-${{ matrix.name }}", CONTEXTS) == "plan-prod"
    assert render("x${{ vars.NOPE }}y", CONTEXTS) == "xy"


def test_unknown_syntax_fails_loudly() -> None:
    """Unknown contexts and functions raise instead of evaluating to null."""
    with pytest.raises(ExpressionError):
        evaluate("nosuch.context", CONTEXTS)
    with pytest.raises(ExpressionError):
        evaluate("hashFiles('x')", CONTEXTS)
