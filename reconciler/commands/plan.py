"""``reconciler plan``, ``apply`` and ``drift``: thin commands over engine.py and apply.py."""

from __future__ import annotations

import os
import select
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.commands import (
    format_option,
    global_options,
    option,
    run_async,
    suggest,
)
from reconciler.commands.flags import setting_options
from reconciler.commands.state import lock_timeout_option
from reconciler.settings import SAFETY_OPTIONS

FORMATS = ["text", "json", "markdown"]


def _safety_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Overrides of the safety rules (docs/design.md "Safety rules"), shared by plan and apply."""
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


def _note_ignored(count: int) -> None:
    """One line for the tasks the ignore rules leave out (never a conflict, never drift)."""
    if count:
        click.echo(
            f"{count} remote task(s) ignored by the environment's `ignore:` rules "
            "(`reconciler remote list` shows them).",
            err=True,
        )


def _progress() -> Callable[[str], None] | None:
    """Progress lines on stderr, only when a person is watching a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda text: click.echo(f"  {text}", err=True)


def _render(plan: Any, fmt: str, env: str) -> str:
    from reconciler import render

    if fmt == "json":
        return render.render_json(plan)
    if fmt == "markdown":
        return suggest(render.render_markdown(plan, f"Plan for `{env}`", env=env))
    return suggest(render.render_text(plan, render.use_color(sys.stdout, os.environ)))


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.echo(suggest(f"warning: {line}"), err=True)


def _confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on the terminal, inside the event loop; one Ctrl-C aborts at once.

    ``asyncio.run`` answers the first SIGINT by cancelling its task, which cannot happen while
    the loop is blocked reading the terminal: the read was resumed and the first Ctrl-C lost.
    For the prompt SIGINT raises KeyboardInterrupt again (nothing has been written yet), and
    the answer is awaited in short ``select`` waits rather than one blocking read: a Ctrl-C
    that lands between the prompt and the read would otherwise wait for the next key.
    """
    if threading.current_thread() is not threading.main_thread():
        return click.confirm(question, default=False)
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
        raise click.Abort from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _read_answer() -> str | None:
    """One line from standard input (None at its end), waking every 0.2 s for signals."""
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        if ready:
            line = sys.stdin.readline()
            return line or None


def _check_policies(ws: Any, loaded: list[Any], state: Any, allow: Any, strict: bool) -> Any:
    """The environment's push policies: refused before any request, warnings on stderr."""
    from reconciler.config import policies

    verdict = policies.enforce(
        ws.env,
        loaded,
        known=state.entries.keys(),
        now=ws.now,
        allow=tuple(allow),
        strict=strict,
    )
    _warn([str(v) for v in verdict.warnings])
    return verdict


def _saved_exceptions(saved: Any, given: tuple[str, ...]) -> tuple[str, ...]:
    """The rules a saved plan's exceptions name: what its apply allows, and no other.

    ``--allow-policy`` on such an apply may repeat them (the way before plans recorded
    them); one the plan was not made with is refused before anything is read.
    """
    from reconciler.errors import UsageError

    recorded = tuple(dict.fromkeys(e.rule for e in saved.policy_exceptions))
    extra = [name for name in given if name not in recorded]
    if extra:
        made = ", ".join(f"--allow-policy {r}" for r in recorded) or "no --allow-policy"
        raise UsageError(
            f"--allow-policy {extra[0]}: the saved plan was made with {made}; applying it "
            "allows the exceptions it records and no other",
            hint=f"make a new plan with `reconciler plan --allow-policy {extra[0]} --out FILE` "
            "and review it",
        )
    return recorded


def _check_saved_exceptions(saved: Any, verdict: Any) -> None:
    """Refuse, before any request, a violation that a saved plan's recorded rules would let
    through but that the plan did not record (a schedule that came to break the rule since)."""
    from reconciler.errors import ManifestError

    recorded = {(e.rule, e.schedule) for e in saved.policy_exceptions}
    fresh = [v for v in verdict.allowed if (v.rule, v.name) not in recorded]
    if saved.policy_exceptions:
        lines = "; ".join(f"{e.rule} ({e.schedule})" for e in saved.policy_exceptions)
        click.echo(f"Policy exceptions recorded in the saved plan: {lines}", err=True)
    if fresh:
        raise ManifestError(
            [v.problem("error") for v in fresh],
            hint="the saved plan's policy exceptions do not cover these; make a new plan with "
            "`reconciler plan --out FILE` and review it",
        )


def _same(state: Any) -> Any:
    return state


def _read_plan(plan_file: str) -> Any:
    """The saved plan in ``plan_file``; every failure is a PlanError naming the file."""
    from reconciler import files
    from reconciler.errors import PlanError
    from reconciler.planning.artifact import Plan

    hint = "write plan files with `reconciler plan --out FILE`"
    try:
        text = files.read_regular(Path(plan_file), limit=files.MAX_PLAN_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = files.reason(exc) if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise PlanError(f"cannot read the plan file {plan_file}: {reason}", hint=hint) from exc
    try:
        return Plan.from_json(text)
    except PlanError as exc:
        raise PlanError(f"{plan_file}: {exc.message}", hint=exc.hint) from exc


def _check_output(ws: Any, path: str | None, what: str) -> None:
    """Refuse an unusable output path before anything is read from the server.

    A plan of a large app takes a while to read; a typo in the directory must not cost that.
    The state file, its backup and lock (also through a link) are never outputs.
    """
    if path is None:
        return
    from reconciler import files
    from reconciler.errors import UsageError

    protected = ws.store.own_files()
    if ws.target.emulator is not None:
        protected.append(ws.env.state.parent / "emulator.json")
    if ws.target.pace_file is not None:
        protected.append(ws.target.pace_file)
    files.check_output(
        path, what=what, protected=protected, error=lambda m, h: UsageError(m, hint=h)
    )


def _write(path: str, text: str, what: str) -> None:
    """Write an output file (``--out``, ``--report``); a failure is a message naming the path."""
    from reconciler import files
    from reconciler.errors import UsageError

    try:
        files.write_regular(path, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write the {what} to {path}: {files.reason(exc)}",
            hint="check that its directory exists and is writable",
        ) from exc


def _unresolved_conflicts(plan: Any) -> list[str]:
    """Manifests apply cannot realise: a task of that name exists and is not managed."""
    from reconciler.planning.actions import ConflictAction

    return [
        f"{a.name!r} was not created: remote task(s) {', '.join(a.schedule_ids)} carry its name "
        f"but are not managed; adopt one with `reconciler import {a.name}={a.schedule_ids[0]}`"
        for a in plan.actions
        if isinstance(a, ConflictAction)
    ]


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
    **safety: Any,
) -> int:
    """Show what apply would change; reads only, writes nothing but --out."""
    from reconciler.config import policies
    from reconciler.ops import observe as engine

    ws = engine.open_workspace(global_options(ctx))
    _check_output(ws, out, "plan")
    strict = safety.pop("strict")
    allow = safety.pop("allow_policy")
    loaded: list[Any] = []
    desired, warnings = engine.load_desired(ws, strict=strict, loaded=loaded)
    ws.say_where()
    _warn([str(w) for w in warnings])
    state = engine.load_state(ws)
    verdict = _check_policies(ws, loaded, state, allow, strict)
    options = engine.plan_options(ws, **safety)

    async def run() -> engine.Observation:
        async with ws.target.client() as client:
            return await engine.observe(ws, client, state, desired, options, _progress())

    obs = run_async(run())
    _warn(obs.healing.notes)
    _note_ignored(len(obs.ignored))
    # A saved plan records its exceptions: apply of it allows those and no other.
    made = obs.plan.with_policy_exceptions(v.as_json() for v in verdict.allowed)
    rendered = _render(made, fmt, ws.env.name)
    click.echo(policies.with_exceptions(rendered, fmt, verdict.allowed), nl=False)
    if out:
        _write(out, made.to_json(), "plan")
        saved = f"Plan saved to {out}; apply it with `reconciler apply {shlex.quote(out)}`."
        click.echo(suggest(saved), err=True)
    if obs.healing.changed and not obs.plan.has_changes:
        click.echo(
            "The journal of an interrupted apply has work left (see the warnings above); "
            "`reconciler apply` finishes it.",
            err=True,
        )
    elif obs.healing.changed and not obs.plan.is_safe:
        click.echo(
            "The journal of an interrupted apply has work left (see the warnings above); "
            "`reconciler apply` finishes it even while the safety rules below refuse the "
            "rest of this plan.",
            err=True,
        )
    obs.plan.check_safe(shown=True)
    # Journal work left (e.g. the old half of an interrupted replace, still able to fire) is a
    # change: CI applies on exit code 2 only. A plan without changes is still not clean while a
    # manifest is not realised (a conflict: a task of its name exists, unmanaged): exit 2, as
    # `drift` does for the same app, so a CI gate and the pull-request comment see it. Foreign
    # tasks no manifest names are not a difference from the manifests: they keep exit 0.
    changes = obs.plan.has_changes or obs.healing.changed or bool(_unresolved_conflicts(obs.plan))
    return 2 if detailed_exitcode and changes else 0


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
    **safety: Any,
) -> int:
    """Make the remote app match the manifests (or carry out a saved PLAN_FILE)."""
    from reconciler import render
    from reconciler.apply import executor as applying
    from reconciler.apply.healing import Healing, planning_state
    from reconciler.apply.writer import StateWriter
    from reconciler.config import policies
    from reconciler.errors import ApplyError, ReconcilerError, UnsafePlanError, UsageError
    from reconciler.ops import observe as engine

    ws = engine.open_workspace(global_options(ctx))
    strict = safety.pop("strict")
    allow = safety.pop("allow_policy")
    saved = _read_plan(plan_file) if plan_file else None
    if saved is not None:
        # A rule taken out of reconciler.yaml since the plan was made has nothing to allow.
        names = ws.env.policies.names
        allow = tuple(r for r in _saved_exceptions(saved, allow) if r in names)
    stamp = engine.manifest_stamp(ws)
    loaded: list[Any] = []
    desired, warnings = engine.load_desired(ws, strict=strict, loaded=loaded)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if saved is None and not auto_approve and not interactive:
        raise UsageError(
            "apply needs confirmation but this is not a terminal",
            hint="review `reconciler plan` and pass --auto-approve, or apply a saved plan file",
        )
    ws.say_where()
    _warn([str(w) for w in warnings])
    options = saved.options if saved is not None else engine.plan_options(ws, **safety)

    async def run() -> applying.ApplyReport | None:
        nonlocal desired
        with ws.store.lock(lock_timeout, "reconciler apply"):
            if engine.manifest_stamp(ws) != stamp:
                # Written while we waited for the lock (export --adopt holds it while it writes
                # manifests and the state): plan the state against the manifests as they are.
                loaded.clear()
                desired, more = engine.load_desired(ws, strict=strict, loaded=loaded)
                _warn([str(w) for w in more if w not in warnings])
            state = engine.load_state(ws)
            verdict = _check_policies(ws, loaded, state, allow, strict)
            if saved is not None:
                _check_saved_exceptions(saved, verdict)
                saved.check_state(state)  # before any request
            async with ws.target.client() as client:
                listed = None
                if saved is not None and not full_refresh:
                    listed = await engine.check_saved_by_list(ws, client, state, desired, saved)
                if listed is not None:
                    assert saved is not None
                    saved.check_local(desired, state)
                    saved.check_writes(state, desired, engine.kept_rows(ws, listed, state, desired))
                    _recheck(saved, state, len(listed.rows), listed.complete)
                    click.echo(
                        f"The remote list matches the saved plan ({len(listed.rows)} task(s)); "
                        "task contents are those the plan was made from (--full-refresh "
                        "re-reads them).",
                        err=True,
                    )
                    writer, failures = await _pay_debts(client, Healing(state=state))
                    plan = saved
                else:
                    inventory, healing = await engine.read_and_heal(
                        ws, client, state, desired, _progress()
                    )
                    _warn(healing.notes)
                    # The journal's debts (the old task of an interrupted replace, still able
                    # to fire next to its successor) finish changes approved earlier: paid
                    # before, and whatever, the rules for new changes say about this plan.
                    writer, failures = await _pay_debts(client, healing)
                    try:
                        plan = _checked_plan(
                            engine.plan_healed(ws, desired, inventory, healing, options)
                        )
                    except ReconcilerError:
                        _warn(failures)
                        raise
                conflicts = _unresolved_conflicts(plan)
                if not plan.has_changes:
                    # With a conflict the app does not match the manifests: say what is left.
                    click.echo(
                        "No changes to apply." if conflicts
                        else "No changes. The app matches the manifests."
                    )
                    _warn(conflicts)
                    if failures:
                        raise ApplyError(failures)
                    return None
                if saved is None:
                    text = render.render_text(plan, render.use_color(sys.stdout, os.environ))
                    click.echo(suggest(policies.with_exceptions(text, "text", verdict.allowed)))
                    if not auto_approve and not _confirm("Apply these changes?"):
                        raise click.Abort
                report = await applying.run_plan(
                    plan, client, writer, now=ws.clock, progress=_progress()
                )
                report.failures[:0] = failures
                _warn(conflicts)
                return report

    async def _pay_debts(
        client: Any, healing: Healing
    ) -> tuple[StateWriter, list[str]]:
        writer = StateWriter(ws.store, healing.state)
        if healing.changed or not ws.store.path.exists():
            writer.change(_same)  # the binding and the healed journal become durable
            writer.flush()
        return writer, await applying.finish_healing(client, writer, healing)

    def _recheck(plan: Any, state: Any, active_now: int, complete: bool) -> None:
        """The safety rules on the saved plan's own actions (its recorded verdicts are data)."""
        unsafe = plan.recheck_violations(
            state, desired, complete=complete, active_now=active_now, now=ws.clock()
        )
        if unsafe:
            raise UnsafePlanError(
                unsafe, hint="make a new plan with `reconciler plan --out FILE` and review it"
            )

    def _checked_plan(obs: engine.Observation) -> Any:
        """The plan to carry out: the fresh one, or the saved one while it still holds."""
        if saved is None:
            obs.plan.check_safe()
            return obs.plan
        saved.check_fresh(obs.desired, obs.inventory, obs.healing.state)
        rows = [(sid, task.name) for sid, task in obs.inventory.schedules.items()]
        saved.check_writes(planning_state(obs.healing), desired, rows)
        # Same inputs, same options, but a later clock: a schedule may have come within the
        # fire guard since the plan was saved.
        if obs.plan.violations:
            raise UnsafePlanError(
                obs.plan.violations,
                hint="the saved plan was safe when it was made; make a new one (with the "
                "override a line names, e.g. `reconciler plan --force --out FILE`) or wait",
            )
        _recheck(
            saved,
            planning_state(obs.healing),
            len(obs.inventory.schedules),
            obs.inventory.complete,
        )
        saved.check_safe()
        return saved

    report = run_async(run())
    if report is None:
        return 0
    click.echo(report.summary())
    if report.failures:
        raise ApplyError(
            report.failures,
            hint="the other actions were carried out and recorded; fix the causes and re-run "
            "`reconciler apply` (it resumes safely)",
        )
    return 0


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

    Exit 0 when the app matches manifests and state, 2 on any drift, 1 on error.
    """
    from reconciler import render
    from reconciler.config import policies
    from reconciler.ops import observe as engine
    from reconciler.planning.safety import PlanOptions

    ws = engine.open_workspace(global_options(ctx))
    _check_output(ws, report_path, "drift report")
    # A misspelt rule must not allow nothing silently: refused before any request.
    policies.judge([], ws.env.policies, allow_policy, strict=False, env=ws.env.name)
    loaded: list[Any] = []
    desired, warnings = engine.load_desired(ws, loaded=loaded)
    ws.say_where()
    _warn([str(w) for w in warnings])
    state = engine.load_state(ws)

    async def run() -> engine.Observation:
        async with ws.target.client() as client:
            return await engine.observe(ws, client, state, desired, PlanOptions(), _progress())

    obs = run_async(run())
    _warn(obs.healing.notes)
    _note_ignored(len(obs.ignored))
    plan = obs.plan
    broken, allowed = _live_policy_violations(ws, obs, loaded, allow_policy)
    title = f"Drift in `{ws.env.name}`"

    def rendered(kind: str) -> str:
        if kind == "json":
            text = render.render_drift_json(plan, broken)
        elif kind == "markdown":
            text = render.render_drift_markdown(plan, title, env=ws.env.name, extra=broken)
        else:
            color = render.use_color(sys.stdout, os.environ)
            text = render.render_drift_text(plan, color, broken)
        return policies.with_exceptions(text, kind, allowed)

    click.echo(rendered(fmt) if fmt == "json" else suggest(rendered(fmt)), nl=False)
    if report_path:
        _write(report_path, rendered("json" if report_path.endswith(".json") else "markdown"),
               "drift report")  # fmt: skip
    # An interrupted apply (e.g. a replaced task still active) leaves work as well.
    return 2 if plan.drift_items() or broken or obs.healing.changed else 0


def _live_policy_violations(
    ws: Any, obs: Any, loaded: list[Any], allow: tuple[str, ...]
) -> tuple[list[Any], list[Any]]:
    """Drift items for the managed tasks whose live version breaks a push policy that git's
    version does not, and the violations ``--allow-policy`` lets through (docs/policies.md)."""
    from reconciler.config import policies
    from reconciler.planning.actions import DriftItem

    live = [
        (name, entry.schedule_id, obs.inventory.schedules[entry.schedule_id].body)
        for name, entry in sorted(obs.healing.state.entries.items())
        if entry.schedule_id in obs.inventory.schedules
    ]
    reported, allowed = policies.for_drift(ws.env, loaded, live, now=ws.clock(), allow=allow)
    ids = {name: sid for name, sid, _ in live}
    items = [
        DriftItem(
            kind="policy",
            name=v.name,
            schedule_id=ids.get(v.name),
            detail=f"the live task breaks policy {v.rule} ({v.severity}): {v.message}",
        )
        for v in reported
    ]
    return items, allowed
