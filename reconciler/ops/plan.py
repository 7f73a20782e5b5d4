"""The plan and drift operations: manifests, state and the app observed, judged, planned.

``make_plan`` is what ``reconciler plan`` computes, ``find_drift`` what ``reconciler drift``
reports; both read only (the plan file and the drift report are written by ``write_output``
once the command has shown them). The pieces ``apply`` shares with them live here too: the
safety overrides, the push policies' verdict, the unresolved conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import files, heap
from reconciler.errors import ReconcilerError, UsageError
from reconciler.ops import observe
from reconciler.ops.aio import run_async

if TYPE_CHECKING:
    from reconciler.config.environments import Environment
    from reconciler.config.policies import Verdict
    from reconciler.config.policies.subjects import Violation
    from reconciler.manifests.load import Manifest
    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions
    from reconciler.planning.actions import DriftItem
    from reconciler.planning.artifact import Plan
    from reconciler.planning.safety import PlanOptions
    from reconciler.remote.observed import RemoteSchedule
    from reconciler.state.schema import State


@dataclass(frozen=True)
class Safety:
    """Overrides of the safety rules and push policies (docs/design.md "Safety rules")."""

    max_deletes: int | None = None
    allow_mass_delete: bool = False
    fire_guard: int | None = None
    force: bool = False
    allow_policy: tuple[str, ...] = ()
    strict: bool = False

    def plan_options(self, ws: observe.Workspace) -> PlanOptions:
        """The thresholds: these overrides over reconciler.yaml over the defaults."""
        return observe.plan_options(
            ws,
            max_deletes=self.max_deletes,
            allow_mass_delete=self.allow_mass_delete,
            fire_guard=self.fire_guard,
            force=self.force,
        )


@dataclass(frozen=True)
class PlanRequest:
    """What ``reconciler plan`` was asked: where to save the plan (checked before any read)."""

    out: str | None = None
    safety: Safety = Safety()


@dataclass(frozen=True)
class PlanResult:
    """A plan, what it was judged by, and what is left around it."""

    env: str
    plan: Plan  # the policy exceptions recorded: a saved plan's apply allows these and no other
    allowed: tuple[Violation, ...]  # the exceptions --allow-policy let through
    journal_work: bool  # an interrupted apply left work that `reconciler apply` finishes
    conflicts: tuple[str, ...]  # manifests apply cannot realise (see ``unresolved_conflicts``)

    @property
    def has_changes(self) -> bool:
        """Whether the app differs from the manifests: changes, journal work or a conflict.

        Journal work left (e.g. the old half of an interrupted replace, still able to fire) is
        a change; so is a manifest not realised (a task of its name exists, unmanaged), as
        ``drift`` says for the same app. Foreign tasks no manifest names are not.
        """
        return self.plan.has_changes or self.journal_work or bool(self.conflicts)


@dataclass(frozen=True)
class DriftRequest:
    """What ``reconciler drift`` was asked: the report file and the justified exceptions."""

    report_path: str | None = None
    allow_policy: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftResult:
    """The plan against the app as it is, and the live tasks breaking a push policy."""

    env: str
    plan: Plan
    broken: tuple[DriftItem, ...]  # managed tasks whose live version breaks a policy
    allowed: tuple[Violation, ...]  # such violations --allow-policy lets through
    journal_work: bool
    # Tasks still live that the journal of an interrupted apply owes a delete (the old task of
    # a replace, firing beside its successor): drift, in every report, not a warning alone.
    owed: tuple[DriftItem, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the whole list was read: no drift hides in what it missed."""
        return self.plan.inputs.inventory_complete

    @property
    def drifted(self) -> bool:
        """Whether anything drifted: a plan item, a live policy violation or journal work left."""
        return bool(self.plan.drift_items() or self.broken or self.journal_work)

    @property
    def extra_items(self) -> list[DriftItem]:
        """The drift the plan's actions do not hold: live policy violations, owed deletes."""
        return [*self.broken, *self.owed]


def note_ignored(ignored: tuple[RemoteSchedule, ...], feedback: Feedback) -> None:
    """One line for the tasks the ignore rules leave out (never a conflict, never drift)."""
    if ignored:
        feedback.note(
            f"{len(ignored)} remote task(s) ignored by the environment's `ignore:` rules "
            "(`reconciler remote list` shows them)."
        )


def check_policies(
    ws: observe.Workspace,
    loaded: list[Manifest],
    state: State,
    safety: Safety,
    feedback: Feedback,
    allow: tuple[str, ...] | None = None,
) -> Verdict:
    """The environment's push policies: refused before any request, warnings said."""
    from reconciler.config import policies

    verdict = policies.enforce(
        ws.env,
        loaded,
        known=state.entries.keys(),
        now=ws.now,
        allow=safety.allow_policy if allow is None else allow,
        strict=safety.strict,
    )
    feedback.warnings([str(v) for v in verdict.warnings])
    return verdict


def check_output(ws: observe.Workspace, path: str | None, what: str) -> None:
    """Refuse an unusable output path before anything is read from the server.

    A plan of a large app takes a while to read; a typo in the directory must not cost that.
    No environment's state file, backup, lock, emulator data or pace file, nor the config (also
    through a link), is ever an output; nor is a path any environment's manifests would read.
    """
    if path is None:
        return
    config = Path(ws.options.config_path)
    envs = environments(config, ws.env)
    files.check_output(
        path,
        what=what,
        protected=kept_files(config, envs),
        error=lambda m, h: UsageError(m, hint=h),
        manifests=read_directories(envs),
    )


def environments(config: Path, env: Environment) -> list[Environment]:
    """``env`` and every environment of ``config`` (``env`` alone when it cannot be read)."""
    from reconciler.config.environments import load_environments

    try:
        return [env, *load_environments(config).environments]
    except ReconcilerError:
        return [env]


def kept_files(config: Path, envs: list[Environment]) -> list[Path]:
    """The files the tool keeps for each of ``envs``, and the config itself."""
    from reconciler.config.session import emulator_data_path, pace_path
    from reconciler.state.store import StateStore

    kept = [config]
    for e in envs:
        kept += [*StateStore(e.state).own_files(), emulator_data_path(e), pace_path(e)]
    return list(dict.fromkeys(kept))


def read_directories(envs: list[Environment]) -> list[Path]:
    """The manifest and overlay directories of ``envs``: where no output may go that their
    search would read."""
    return list(dict.fromkeys(d for e in envs for d in (e.manifests, e.overlay) if d is not None))


def unresolved_conflicts(plan: Plan) -> tuple[str, ...]:
    """Manifests apply cannot realise: a task of that name exists and is not managed; or the
    schedule is live twice (a managed task and unmanaged ones named alike, ``Plan.twins``)."""
    from reconciler.planning.actions import (
        ConflictAction,
        keep_one_advice,
        remote_delete_command,
    )

    unrealised = [
        f"{a.name!r} was not created: remote task(s) {', '.join(a.schedule_ids)} carry its name "
        f"but are not managed; {a.adopt_advice()}"
        for a in plan.actions
        if isinstance(a, ConflictAction)
    ]
    twice = [
        f"{name!r} is live more than once: besides its managed task, remote task(s) "
        f"{', '.join(ids)} carry its name and are not managed, and each fires too (the push goes "
        "out again). Check them with `reconciler remote show ID` and delete the extra ones with "
        f"{remote_delete_command(*ids)} (the API's tasks are not in the EngageLab "
        "console). If another checkout's state file manages a copy (two applies at the same "
        "moment, one of them stopped before it settled), deleting it makes that checkout "
        f"create it again: keep one instead. {keep_one_advice(name)}"
        for name, ids in sorted(plan.twins.items())
    ]
    return (*unrealised, *twice)


def make_plan(options: GlobalOptions, request: PlanRequest, feedback: Feedback) -> PlanResult:
    """What apply would change; reads only (the plan file is the caller's to write)."""

    ws = observe.open_workspace(options, feedback)
    check_output(ws, request.out, "plan")
    safety = request.safety
    loaded: list[Manifest] = []
    desired, warnings = observe.load_desired(ws, strict=safety.strict, loaded=loaded)
    ws.say_where(feedback.note)
    feedback.warnings([w.located() for w in warnings])
    state = observe.load_state(ws)
    verdict = check_policies(ws, loaded, state, safety, feedback)
    plan_options = safety.plan_options(ws)

    async def run() -> observe.Observation:
        async with ws.target.client() as client:
            return await observe.observe(
                ws, client, state, desired, plan_options, feedback.progress
            )

    obs = run_async(run())
    feedback.warnings(obs.healing.notes)
    note_ignored(obs.ignored, feedback)
    return PlanResult(
        env=ws.env.name,
        plan=obs.plan.with_policy_exceptions(v.as_json() for v in verdict.allowed),
        allowed=tuple(verdict.allowed),
        journal_work=obs.healing.changed,
        conflicts=unresolved_conflicts(obs.plan),
    )


def find_drift(options: GlobalOptions, request: DriftRequest, feedback: Feedback) -> DriftResult:
    """Remote edits and deletions, unmanaged tasks, unapplied manifest changes and live tasks
    breaking the environment's push policies; reads only."""
    from reconciler.config import policies
    from reconciler.planning.safety import PlanOptions

    ws = observe.open_workspace(options, feedback)
    check_output(ws, request.report_path, "drift report")
    # A misspelt rule must not allow nothing silently: refused before any request.
    policies.judge([], ws.env.policies, request.allow_policy, strict=False, env=ws.env.name)
    loaded: list[Manifest] = []
    desired, warnings = observe.load_desired(ws, loaded=loaded)
    ws.say_where(feedback.note)
    feedback.warnings([w.located() for w in warnings])
    state = observe.load_state(ws)

    async def run() -> observe.Observation:
        async with ws.target.client() as client:
            return await observe.observe(
                ws, client, state, desired, PlanOptions(), feedback.progress, creates=False
            )

    obs = run_async(run())
    feedback.warnings(obs.healing.notes)
    note_ignored(obs.ignored, feedback)
    broken, allowed = _live_policy_violations(ws, obs, loaded, request.allow_policy)
    return DriftResult(
        env=ws.env.name,
        plan=obs.plan,
        broken=tuple(broken),
        allowed=tuple(allowed),
        journal_work=obs.healing.changed,
        owed=tuple(_owed_deletes(obs)),
    )


def _owed_deletes(obs: observe.Observation) -> list[DriftItem]:
    """A drift item for each live task the journal owes a delete: a crash inside a replace left
    the old task firing beside its successor, and the report said "No drift" (a warning on
    stderr and the exit code alone told otherwise)."""
    from reconciler.planning.actions import DriftItem

    return [
        DriftItem(
            kind="unmanaged",
            name=name,
            schedule_id=old,
            detail="still live, owed a delete by the journal of an interrupted apply (the old "
            "task of a replace, or a delete): it fires too until `reconciler apply` deletes it",
        )
        for name, old in obs.healing.finish_deletes
    ]


def _live_policy_violations(
    ws: observe.Workspace,
    obs: observe.Observation,
    loaded: list[Manifest],
    allow: tuple[str, ...],
) -> tuple[list[DriftItem], list[Violation]]:
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


def read_plan_file(plan_file: str) -> Plan:
    """The saved plan in ``plan_file``; every failure is a PlanError naming the file."""
    from reconciler.errors import PlanError
    from reconciler.planning.artifact import Plan

    hint = "write plan files with `reconciler plan --out FILE`"
    try:
        text = files.read_regular(Path(plan_file), limit=files.MAX_PLAN_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = files.reason(exc) if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise PlanError(f"cannot read the plan file {plan_file}: {reason}", hint=hint) from exc
    try:
        saved = Plan.from_json(text)
    except PlanError as exc:
        raise PlanError(f"{plan_file}: {exc.message}", hint=exc.hint) from exc
    heap.keep(saved)  # used to the end of the command (reconciler.heap)
    return saved
