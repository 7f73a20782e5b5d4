"""``reconciler plan``, ``apply`` and ``drift``: thin commands over ``reconciler/ops/plan.py``
and ``reconciler/ops/apply.py`` (parse, run the operation, render, exit code)."""

from __future__ import annotations

import functools
import os
import select
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from reconciler import stopping
from reconciler.commands import (
    feedback,
    format_option,
    global_options,
    option,
    progress_lines,
    suggest,
)
from reconciler.commands.flags import setting_options
from reconciler.commands.state import lock_timeout_option
from reconciler.settings import SAFETY_OPTIONS

if TYPE_CHECKING:
    from reconciler.config.policies.subjects import Violation
    from reconciler.ops.feedback import Feedback
    from reconciler.ops.plan import Safety
    from reconciler.planning.artifact import Plan

FORMATS = ["text", "json", "markdown"]


def _safety_options(command: Callable[..., int]) -> Callable[..., int]:
    """Overrides of the safety rules (docs/design.md "Safety rules"), shared by plan and apply:
    the command receives them as one ``safety`` (``reconciler.ops.plan.Safety``)."""

    @functools.wraps(command)
    def fn(
        *args: object,
        max_deletes: int | None,
        allow_mass_delete: bool,
        fire_guard: int | None,
        force: bool,
        allow_policy: tuple[str, ...],
        strict: bool,
        **kwargs: object,
    ) -> int:
        from reconciler.ops.plan import Safety

        safety = Safety(max_deletes, allow_mass_delete, fire_guard, force, allow_policy, strict)
        return command(*args, safety=safety, **kwargs)

    fn = setting_options(SAFETY_OPTIONS)(fn)
    fn = option(
        "--allow-policy",
        "allow_policy",
        multiple=True,
        metavar="NAME",
        help="Let a plan that breaks the policy NAME of reconciler.yaml through, as a justified "
        "exception shown in the plan (repeatable).",
    )(fn)
    fn = option(
        "--strict",
        is_flag=True,
        default=False,
        help="Treat manifest warnings as errors.",
    )(fn)
    return fn


def _progress() -> Callable[[str], None] | None:
    return progress_lines()


def _feedback() -> Feedback:
    return feedback(_progress())


def _warn(lines: Sequence[str]) -> None:
    for line in lines:
        click.echo(suggest(f"warning: {line}"), err=True)


def _render(plan: Plan, fmt: str, env: str) -> str:
    from reconciler import render

    if fmt == "json":
        return render.render_json(plan)
    if fmt == "markdown":
        return suggest(render.render_markdown(plan, f"Plan for `{env}`", env=env))
    return suggest(render.render_text(plan, render.use_color(sys.stdout, os.environ)))


def terminal_confirm() -> Callable[[str], bool] | None:
    """``confirm_on_terminal`` where a person can answer (stdin and stdout a terminal), else
    None: a command that needs an answer is then refused before it writes."""
    return confirm_on_terminal if sys.stdin.isatty() and sys.stdout.isatty() else None


def confirm_on_terminal(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal, inside the event loop; one Ctrl-C aborts at once.

    Elsewhere the first Ctrl-C only asks the command to stop at its next ``await``
    (``reconciler.stopping``), which cannot come while the loop is blocked reading the terminal:
    the read would go on and the Ctrl-C be lost. For the prompt SIGINT raises KeyboardInterrupt
    at once (nothing has been written yet), and
    the answer is awaited in short ``select`` waits rather than one blocking read: a Ctrl-C
    that lands between the prompt and the read would otherwise wait for the next key.
    """
    if threading.current_thread() is not threading.main_thread():
        return click.confirm(question, default=False)
    if stopping.requested():  # asked to stop while the plan was shown: no question, no write
        raise click.Abort
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            click.echo(f"{question} [y/N]: ", nl=False)
            line = _read_answer()
            if line is None:  # end of input
                raise click.Abort
            answer = line.strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("", "n", "no"):
                return False
            click.echo("error: answer y or n")
    except KeyboardInterrupt:
        click.echo()  # "aborted" on a line of its own, not after the terminal's "^C"
        raise click.Abort from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _read_answer() -> str | None:
    """One line from standard input (None at its end), waking every 0.2 s for signals."""
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        if stopping.requested():  # a SIGTERM: the command stops; the answer no longer matters
            raise click.Abort
        if ready:
            line = sys.stdin.readline()
            return line or None


@click.command()
@option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Save the plan file.")
@format_option(
    "plan", FORMATS, "text for people, json for machines, markdown for a pull-request comment."
)
@option(
    "--detailed-exitcode",
    is_flag=True,
    default=False,
    help="Exit 2 when the plan has changes or a manifest is not realised (a conflict), "
    "0 when clean, 1 on error.",
)
@_safety_options
@click.pass_context
def plan(
    ctx: click.Context,
    /,
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    safety: Safety,
) -> int:
    """Show what apply would change; reads only, writes nothing but --out."""
    from reconciler.config import policies
    from reconciler.ops import plan as ops
    from reconciler.ops.output import plan_file_text, write_output
    from reconciler.ops.plan import PlanRequest

    result = ops.make_plan(global_options(ctx), PlanRequest(out, safety), _feedback())
    made = result.plan
    rendered = _render(made, fmt, result.env)
    click.echo(policies.with_exceptions(rendered, fmt, result.allowed), nl=False)
    if out:
        write_output(out, plan_file_text(made), "plan", scrub=False)
        saved = f"Plan saved to {out}; apply it with `reconciler apply {shlex.quote(out)}`."
        click.echo(suggest(saved), err=True)
    if result.journal_work and not made.has_changes:
        click.echo(
            "The journal of an interrupted apply has work left (see the warnings above); "
            "`reconciler apply` finishes it.",
            err=True,
        )
    elif result.journal_work and not made.is_safe:
        click.echo(
            "The journal of an interrupted apply has work left (see the warnings above); "
            "`reconciler apply` finishes it even while the safety rules below refuse the "
            "rest of this plan.",
            err=True,
        )
    made.check_safe(shown=True)
    # CI applies on exit code 2 only: journal work and unrealised manifests count as changes.
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False))
@option("--auto-approve", is_flag=True, default=False, help="Do not ask for confirmation.")
@option(
    "--full-refresh",
    is_flag=True,
    default=False,
    help="With PLAN_FILE: re-read every task's detail and refuse the plan if any task changed "
    '(default: re-read the list only; see docs/workflow.md "Saved plans").',
)
@lock_timeout_option()
@_safety_options
@click.pass_context
def apply(
    ctx: click.Context,
    /,
    plan_file: str | None,
    auto_approve: bool,
    full_refresh: bool,
    lock_timeout: float,
    safety: Safety,
) -> int:
    """Make the remote app match the manifests (or carry out a saved PLAN_FILE)."""
    from reconciler.errors import ApplyError
    from reconciler.ops import apply as ops

    request = ops.ApplyRequest(plan_file, auto_approve, full_refresh, lock_timeout, safety)
    hooks = ops.ApplyHooks(_feedback(), _show, terminal_confirm())
    result = ops.apply(global_options(ctx), request, hooks)
    if result.declined:
        raise click.Abort
    report = result.report
    if report is None:
        # With a conflict the app does not match the manifests: say what is left.
        click.echo(
            "No changes to apply."
            if result.conflicts
            else "No changes. The app matches the manifests."
        )
        _warn(result.conflicts)
        if result.failures:
            raise ApplyError(list(result.failures))
        return 0
    _warn(result.conflicts)
    click.echo(report.summary())
    _warn(report.notes)
    if report.failures:
        raise ApplyError(
            report.failures,
            hint="the other actions were carried out and recorded; fix the causes and re-run "
            "`reconciler apply` (it resumes safely)",
        )
    return 0


def _show(plan: Plan, allowed: Sequence[Violation]) -> None:
    """A fresh plan, in text, before the question whether to carry it out."""
    from reconciler import render
    from reconciler.config import policies

    text = render.render_text(plan, render.use_color(sys.stdout, os.environ))
    click.echo(suggest(policies.with_exceptions(text, "text", allowed)))


@click.command()
@format_option(
    "drift", FORMATS, "text for people, json for machines, markdown for an issue or comment."
)
@option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report to this file (.json: JSON, otherwise Markdown).",
)
@option(
    "--allow-policy",
    "allow_policy",
    multiple=True,
    metavar="NAME",
    help="Do not report live tasks breaking the policy NAME of reconciler.yaml as drift; list "
    "them as justified exceptions instead (repeatable).",
)
@click.pass_context
def drift(
    ctx: click.Context, /, fmt: str, report_path: str | None, allow_policy: tuple[str, ...]
) -> int:
    """Report remote edits, remote deletions, unmanaged tasks, unapplied manifest changes and
    live tasks breaking the environment's push policies.

    Exit 0 when the app matches manifests and state, 2 on any drift, 1 on error or when the
    remote list could not be read whole.
    """
    from reconciler import render
    from reconciler.config import policies
    from reconciler.ops import plan as ops
    from reconciler.ops.output import write_output

    result = ops.find_drift(
        global_options(ctx), ops.DriftRequest(report_path, allow_policy), _feedback()
    )
    plan, broken, env = result.plan, result.extra_items, result.env
    title = f"Drift in `{env}`"

    def rendered(kind: str) -> str:
        if kind == "json":
            text = render.render_drift_json(plan, broken)
        elif kind == "markdown":
            text = render.render_drift_markdown(plan, title, env=env, extra=broken)
        else:
            color = render.use_color(sys.stdout, os.environ)
            text = render.render_drift_text(plan, color, broken)
        return policies.with_exceptions(text, kind, result.allowed)

    click.echo(rendered(fmt) if fmt == "json" else suggest(rendered(fmt)), nl=False)
    if report_path:
        kind = "json" if report_path.endswith(".json") else "markdown"
        write_output(report_path, rendered(kind), "drift report")
    if not result.complete:
        # A check that could not see the whole app is no all-clear (said above, as a warning).
        return 1
    # An interrupted apply (e.g. a replaced task still active) leaves work as well.
    return 2 if result.drifted else 0
