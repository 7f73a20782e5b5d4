"""The apply operation: under the state lock, heal the journal, re-plan (or vouch for a saved
plan), have the plan approved, carry it out.

One job: the order of an apply's steps and the checks between them. The steps themselves are
the read side's (``observe``), the executor's (``reconciler/apply/executor.py``) and the plan's
own checks; what the person sees and answers comes in through ``ApplyHooks``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.apply import executor as applying
from reconciler.apply.healing import Healing, planning_state
from reconciler.apply.writer import StateWriter
from reconciler.errors import ManifestError, ReconcilerError, UnsafePlanError, UsageError
from reconciler.ops import observe
from reconciler.ops.aio import run_async
from reconciler.ops.feedback import Feedback
from reconciler.ops.neighbours import held_elsewhere
from reconciler.ops.plan import (
    Safety,
    check_policies,
    read_plan_file,
    unresolved_conflicts,
)
from reconciler.planning.canonical import name_key
from reconciler.printable import escaped

if TYPE_CHECKING:
    from reconciler.config.policies import Verdict
    from reconciler.config.policies.subjects import Violation
    from reconciler.manifests.load import Manifest
    from reconciler.options import GlobalOptions
    from reconciler.planning.artifact import Plan
    from reconciler.planning.inputs import Desired
    from reconciler.remote.client import EngageLabClient
    from reconciler.state.schema import State
    from reconciler.state.store import StateStore

LOCK_HOLDER = "reconciler apply"


@dataclass(frozen=True)
class ApplyRequest:
    """What ``reconciler apply`` was asked."""

    plan_file: str | None = None  # a saved plan to carry out instead of a fresh one
    auto_approve: bool = False
    full_refresh: bool = False  # a saved plan: re-read every task, not the list alone
    lock_timeout: float = 0.0
    safety: Safety = field(default_factory=Safety)


def _no_show(plan: Plan, allowed: Sequence[Violation]) -> None:
    """The default for a caller that shows nothing."""


@dataclass(frozen=True)
class ApplyHooks:
    """How an apply talks to the person running it.

    ``show`` gets a fresh plan (and the policy exceptions it carries) before it is carried out;
    ``confirm`` asks a yes/no question and is None where nobody can answer (not a terminal):
    an apply that needs an answer is then refused before the remote read.
    """

    feedback: Feedback = field(default_factory=Feedback)
    show: Callable[[Plan, Sequence[Violation]], None] = _no_show
    confirm: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did: nothing to do, declined, or the executor's report."""

    report: applying.ApplyReport | None  # None: nothing was carried out
    conflicts: tuple[str, ...] = ()  # manifests left unrealised (see ``unresolved_conflicts``)
    failures: tuple[str, ...] = ()  # journal debts not paid, when nothing was carried out
    declined: bool = False  # the person answered no


def state_writer(store: StateStore, state: State, *, dirty: bool) -> StateWriter:
    """The writer of one apply, with ``state`` on disk first when it is new or ``dirty``.

    A state file that does not exist yet gets its binding (app and endpoint) before the first
    write; a journal healed in memory becomes durable before anything else is sent.
    """
    writer = StateWriter(store, state)
    if dirty or not store.path.exists():
        writer.change(_same)
        writer.flush()
    return writer


def _same(state: State) -> State:
    return state


def saved_exceptions(saved: Plan, given: tuple[str, ...]) -> tuple[str, ...]:
    """The rules a saved plan's exceptions name: what its apply allows, and no other.

    ``--allow-policy`` on such an apply may repeat them (the way before plans recorded
    them); one the plan was not made with is refused before anything is read.
    """
    recorded = tuple(dict.fromkeys(e.rule for e in saved.policy_exceptions))
    extra = [name for name in given if name not in recorded]
    if extra:
        # The rules are words of the file (edited, it may hold anything): printed escaped.
        made = ", ".join(f"--allow-policy {r}" for r in recorded) or "no --allow-policy"
        wanted = escaped(extra[0])
        raise UsageError(
            f"--allow-policy {wanted}: the saved plan was made with {escaped(made)}; applying "
            "it allows the exceptions it records and no other",
            hint=f"make a new plan with `reconciler plan --allow-policy {wanted} --out FILE` "
            "and review it",
        )
    return recorded


def _check_saved_exceptions(saved: Plan, verdict: Verdict, feedback: Feedback) -> None:
    """Refuse, before any request, a violation that a saved plan's recorded rules would let
    through but that the plan did not record (a schedule that came to break the rule since)."""
    recorded = {(e.rule, e.schedule) for e in saved.policy_exceptions}
    fresh = [v for v in verdict.allowed if (v.rule, v.name) not in recorded]
    if saved.policy_exceptions:
        # Spelled out: the file is anyone's to edit.
        lines = "; ".join(escaped(f"{e.rule} ({e.schedule})") for e in saved.policy_exceptions)
        feedback.note(f"Policy exceptions recorded in the saved plan: {lines}")
    if fresh:
        raise ManifestError(
            [v.problem("error") for v in fresh],
            hint="the saved plan's policy exceptions do not cover these; make a new plan with "
            "`reconciler plan --out FILE` and review it",
        )


def _debts_approved(healing: Healing, request: ApplyRequest, hooks: ApplyHooks) -> bool:
    """Whether the journal's debts may be paid: asked first where someone can answer.

    They are paid before the plan is made (the plan is of the app as they leave it), so an
    interactive apply answered "no" at its prompt had already deleted them; a journal entry
    added by hand then deleted a task nobody manages. Without a prompt (--auto-approve, a
    saved plan) they are paid as approved earlier."""
    if not healing.finish_deletes or request.auto_approve or hooks.confirm is None:
        return True
    owed = "; ".join(
        f"task {escaped(old)} (journalled for {escaped(name)!r})"
        for name, old in healing.finish_deletes
    )
    hooks.feedback.note(
        "The journal owes deletes that an interrupted apply did not finish (the old task of a "
        f"replace, or a delete): {owed}."
    )
    return hooks.confirm("Delete these tasks before planning?")


async def _pay_debts(
    ws: observe.Workspace, client: EngageLabClient, healing: Healing, feedback: Feedback
) -> tuple[StateWriter, list[str]]:
    """The journal's debts paid: the deletes it owes; returns the writer and the failures."""
    writer = state_writer(ws.store, healing.state, dirty=healing.changed)

    def paid(name: str, old: str) -> None:
        # Said: the stdout's "No changes" that may follow is of the plan, not of this delete.
        feedback.note(
            f"deleted {old}: the task {name!r} had before an interrupted replace (or delete), "
            "owed by the journal"
        )

    return writer, await applying.finish_healing(client, writer, healing, paid)


def _recheck(
    ws: observe.Workspace,
    plan: Plan,
    state: State,
    desired: list[Desired],
    active_now: int,
    complete: bool,
) -> None:
    """The safety rules on the saved plan's own actions (its recorded verdicts are data)."""
    unsafe = plan.recheck_violations(
        state, desired, complete=complete, active_now=active_now, now=ws.clock()
    )
    if unsafe:
        raise UnsafePlanError(
            unsafe, hint="make a new plan with `reconciler plan --out FILE` and review it"
        )


def _checked_plan(
    ws: observe.Workspace, obs: observe.Observation, saved: Plan | None, desired: list[Desired]
) -> Plan:
    """The plan to carry out: the fresh one, or the saved one while it still holds."""
    if saved is None:
        obs.plan.check_safe()
        return obs.plan
    # The state as the plan was made from it: the journal healed, its deletes as done (so
    # the bindings are compared, not skipped for a journal entry still owed).
    planned_from = planning_state(obs.healing)
    saved.check_fresh(obs.desired, obs.inventory, planned_from)
    rows = [(sid, task.name) for sid, task in obs.inventory.schedules.items()]
    saved.check_writes(planned_from, desired, rows, now=ws.clock(), tz=ws.env.tz)
    saved.check_same_actions(obs.plan)
    # Same inputs, same options, but a later clock: a schedule may have come within the
    # fire guard since the plan was saved.
    if obs.plan.violations:
        raise UnsafePlanError(
            obs.plan.violations,
            hint="the saved plan was safe when it was made; make a new one (with the "
            "override a line names, e.g. `reconciler plan --force --out FILE`) or wait",
        )
    _recheck(
        ws,
        saved,
        planned_from,
        desired,
        len(obs.inventory.schedules),
        obs.inventory.complete,
    )
    saved.check_safe()
    return saved


def apply(options: GlobalOptions, request: ApplyRequest, hooks: ApplyHooks) -> ApplyResult:
    """Make the remote app match the manifests (or carry out a saved plan)."""
    feedback = hooks.feedback
    ws = observe.open_workspace(options, feedback)
    safety = request.safety
    allow = safety.allow_policy
    saved = read_plan_file(request.plan_file) if request.plan_file else None
    if saved is not None:
        # A rule taken out of reconciler.yaml since the plan was made has nothing to allow.
        names = ws.env.policies.names
        allow = tuple(r for r in saved_exceptions(saved, allow) if r in names)
    plan_options = saved.options if saved is not None else safety.plan_options(ws)
    ws.say_where(feedback.note)  # before the lock: a wait for it is then a wait for this target

    async def run() -> ApplyResult:
        with ws.store.lock(request.lock_timeout, LOCK_HOLDER):
            # The manifests are read under the lock: ``export --adopt`` writes manifests and the
            # state together while it holds it, and the state must never be planned against an
            # older manifest set.
            loaded: list[Manifest] = []
            desired, warnings = observe.load_desired(ws, strict=safety.strict, loaded=loaded)
            if saved is None and not request.auto_approve and hooks.confirm is None:
                raise UsageError(
                    "apply needs confirmation but this is not a terminal",
                    hint="review `reconciler plan` and pass --auto-approve, or apply a saved "
                    "plan file",
                )
            feedback.warnings([w.located() for w in warnings])
            state = observe.load_state(ws)
            verdict = check_policies(ws, loaded, state, safety, feedback, allow=allow)
            if saved is not None:
                _check_saved_exceptions(saved, verdict, feedback)
                saved.check_state(state)  # before any request
            async with ws.target.client() as client:
                listed = None
                if saved is not None and not request.full_refresh:
                    listed = await observe.check_saved_by_list(ws, client, state, desired, saved)
                if listed is not None:
                    assert saved is not None
                    saved.check_local(desired, state)
                    saved.check_writes(
                        state,
                        desired,
                        observe.kept_rows(ws, listed, state, desired),
                        now=ws.clock(),
                        tz=ws.env.tz,
                    )
                    _recheck(ws, saved, state, desired, len(listed.rows), listed.complete)
                    feedback.note(
                        f"The remote list matches the saved plan ({len(listed.rows)} task(s)); "
                        "task contents are those the plan was made from (--full-refresh "
                        "re-reads them)."
                    )
                    writer, failures = await _pay_debts(ws, client, Healing(state=state), feedback)
                    plan = saved
                    existing = frozenset(listed.rows)
                else:
                    inventory, healing = await observe.read_and_heal(
                        ws, client, state, desired, feedback.progress
                    )
                    feedback.warnings(healing.notes)
                    if not _debts_approved(healing, request, hooks):
                        return ApplyResult(None, declined=True)
                    # The journal's debts (the old task of an interrupted replace, still able
                    # to fire next to its successor) finish changes approved earlier: paid
                    # before, and whatever, the rules for new changes say about this plan.
                    writer, failures = await _pay_debts(ws, client, healing, feedback)
                    try:
                        obs = observe.plan_healed(ws, desired, inventory, healing, plan_options)
                        plan = _checked_plan(ws, obs, saved, desired)
                        await observe.confirm_absences(client, obs, plan, debts_paid=True)
                        existing = frozenset(inventory.schedules) | inventory.listed
                    except ReconcilerError:
                        feedback.warnings(failures)
                        raise
                conflicts = unresolved_conflicts(plan)
                if not plan.has_changes:
                    return ApplyResult(None, conflicts=conflicts, failures=tuple(failures))
                if saved is None:
                    hooks.show(plan, verdict.allowed)
                    if not request.auto_approve:
                        assert hooks.confirm is not None
                        if ws.target.banner is None:  # a real app: said where, at the question
                            feedback.note(
                                f"Applying to environment {ws.env.name!r}: the app at "
                                f"{ws.target.settings.base_url}."
                            )
                        if not hooks.confirm("Apply these changes?"):
                            return ApplyResult(None, declined=True)
                        seen: dict[str, str | None] = dict.fromkeys(existing)
                        seen.update(
                            (sid, name_key(t.name)) for sid, t in inventory.schedules.items()
                        )
                        try:
                            await observe.check_after_waiting(ws, client, plan, seen)
                        except ReconcilerError:
                            feedback.warnings(failures)  # the debts not paid, said before it
                            raise
                try:
                    report = await applying.run_plan(
                        plan,
                        client,
                        writer,
                        now=ws.clock,
                        local=ws.local_clock,
                        progress=feedback.progress,
                        existing=existing,
                        # Another process can write only to an app reached over the network.
                        race_check=ws.target.emulator is None,
                        foreign=lambda: held_elsewhere(ws),
                    )
                except ReconcilerError:
                    feedback.warnings(failures)  # the debts not paid, said before the error
                    raise
                report.failures[:0] = failures
                return ApplyResult(report, conflicts=conflicts)

    return run_async(run())
