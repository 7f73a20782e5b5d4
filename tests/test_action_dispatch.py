"""The plan's action kinds are one union, and mypy proves every ``match`` over it handles each kind.

Apply, the renderer, the drift report and the safety rules dispatch on the action's class with
``match`` and end in ``case _: assert_never(a)``; a kind added to the union and forgotten in one
of them is a type error, not an action silently skipped. These tests show that mypy really
reports such a dispatch (so the project's ``mypy`` run is the proof), and that the union holds
every action class.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

from reconciler.planning import actions
from reconciler.planning.actions import GROUP, Action

ROOT = Path(__file__).resolve().parents[1]


def _kinds() -> list[type[actions.BaseModel]]:
    union = typing.get_args(Action)[0]  # Annotated[Union[...], Field(discriminator="kind")]
    return list(typing.get_args(union))


def test_the_union_holds_every_action_class_and_every_kind_has_a_group() -> None:
    """Every concrete action model is in ``Action``, and every kind has an apply order."""
    classes = {
        c
        for c in vars(actions).values()
        if isinstance(c, type) and issubclass(c, actions._Action) and c is not actions._Action
    }
    assert set(_kinds()) == classes
    assert {c.model_fields["kind"].default for c in classes} == set(GROUP)


def _dispatch(name: str, handled: list[str]) -> str:
    classes = " | ".join(f"{c}()" for c in handled)
    return (
        f"def {name}(a: Action) -> str:\n"
        "    match a:\n"
        f"        case {classes}:\n"
        "            return a.name\n"
        "        case _:\n"
        "            assert_never(a)\n"
    )


def test_mypy_reports_a_match_that_misses_an_action_kind(tmp_path: Path) -> None:
    """One snippet, type-checked strictly: a dispatch over all kinds passes; for each kind, a
    dispatch that leaves it out is an error naming exactly that kind."""
    names = [c.__name__ for c in _kinds()]
    parts = [
        "from typing import assert_never\n",
        f"from reconciler.planning.actions import Action, {', '.join(names)}\n\n",
        _dispatch("complete", names),
    ]
    for missing in names:
        parts.append("\n\n" + _dispatch(f"without_{missing}", [n for n in names if n != missing]))
    snippet = tmp_path / "snippet.py"
    snippet.write_text("".join(parts), "utf-8")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports=silent",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    unreported = re.findall(r'incompatible type "(\w+)"; expected "Never"', "\n".join(errors))
    assert sorted(unreported) == sorted(names), done.stdout + done.stderr
    assert len(errors) == len(names), done.stdout  # and nothing else, not the complete one
    lines = snippet.read_text("utf-8").splitlines()
    complete_end = lines.index("def without_" + names[0] + "(a: Action) -> str:")
    assert all(int(e.split(":")[1]) > complete_end for e in errors)


def _action_classes() -> set[str]:
    return {c.__name__ for c in _kinds()}


def _isinstance_of_action(test: ast.expr, names: set[str]) -> bool:
    """``isinstance(x, SomeAction)`` or ``isinstance(x, A | B)``, possibly inside ``and``/``or``."""
    for node in ast.walk(test):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node.args[1]))
        ):
            return True
    return False


def test_action_kinds_are_dispatched_by_match_with_assert_never() -> None:
    """No module tells action kinds apart with an ``if``/``elif`` chain of isinstance tests (a
    kind missing there is silently skipped), and every ``match`` on action classes ends in
    ``case _: assert_never(...)``, which is what makes mypy check it."""
    names = _action_classes()
    found: list[str] = []
    for path in sorted((ROOT / "reconciler").rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.If) and _isinstance_of_action(node.test, names):
                chain = 1
                branch = node
                while len(branch.orelse) == 1 and isinstance(branch.orelse[0], ast.If):
                    branch = branch.orelse[0]
                    chain += _isinstance_of_action(branch.test, names)
                if chain > 1:
                    found.append(f"{where}:{node.lineno}: if/elif chain on action classes")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += _sequential_ifs(node, names, where)
            if isinstance(node, ast.Match) and any(
                isinstance(n, ast.MatchClass) and isinstance(n.cls, ast.Name) and n.cls.id in names
                for case in node.cases
                for n in ast.walk(case.pattern)
            ):
                last = node.cases[-1]
                ends_never = (
                    isinstance(last.pattern, ast.MatchAs)
                    and last.pattern.pattern is None
                    and len(last.body) == 1
                    and isinstance(last.body[0], ast.Expr)
                    and isinstance(last.body[0].value, ast.Call)
                    and isinstance(last.body[0].value.func, ast.Name)
                    and last.body[0].value.func.id == "assert_never"
                )
                if not ends_never:
                    found.append(f"{where}:{node.lineno}: match without assert_never")
    assert found == []


def _sequential_ifs(
    func: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str], where: Path
) -> list[str]:
    """``if isinstance(a, X): return ...`` followed by more such ``if``s in one block: the
    early-return form of an isinstance chain."""
    out: list[str] = []
    for block in [func.body, *(n.body for n in ast.walk(func) if isinstance(n, ast.For))]:
        run = [
            s
            for s in block
            if isinstance(s, ast.If)
            and _isinstance_of_action(s.test, names)
            and any(isinstance(b, ast.Return) for b in s.body)
        ]
        if len(run) > 1:
            out.append(f"{where}:{run[0].lineno}: {len(run)} returning isinstance tests")
    return out
