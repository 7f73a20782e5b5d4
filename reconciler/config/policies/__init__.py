"""Push policies: rules a team sets per environment in ``reconciler.yaml``, checked in review.

Each violation is located like a manifest problem (file:line:col of the field) with the rule, the
colliding schedule(s) and the firing time(s). ``validate`` reports them; ``plan`` (and ``apply``)
refuse a violated ``error`` rule unless ``--allow-policy NAME`` names it, and show every allowed
violation as a justified exception; ``drift`` reports those of live tasks. The rules
(docs/policies.md)::

    policies:
      quiet_hours:       {from: "22:00", to: "08:00", level: error}
      frequency_cap:     {max_per_day: 2, level: warning}
      blackout_dates:    {dates: ["2026-12-24", "2026-12-31..2027-01-01"], level: error}
      min_lead_time:     {minutes: 30, level: error}       # or hours: N
      required_fields:   {fields: [push.body.options.time_to_live], level: warning}

``level`` is ``error`` (the default) or ``warning``. Times and days are those of the
environment's time zone; a zone_type 2 firing happens at its local time on every device, so
that local time itself is checked.

One job a module: ``rules`` (the rules as data), ``parsing`` (the ``policies:`` block of
``reconciler.yaml``), ``subjects`` (a schedule as the rules see it, and a violation),
``occurrences`` (a schedule's future firing days and wall time), ``checks`` (``check``: every
rule in force over the manifests) and ``frequency_cap`` (the one rule across schedules). This
module's job is the verdict: what ``validate``, ``plan``/``apply`` and ``drift`` do with the
violations (report them, refuse them or let them through as exceptions named by
``--allow-policy``), and those exceptions shown in the rendered plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.config.policies.checks import check
from reconciler.config.policies.rules import RULES, Policies
from reconciler.config.policies.subjects import LiveSubject, Violation, subjects_of
from reconciler.errors import ManifestError, Problem, UsageError

if TYPE_CHECKING:
    from reconciler.options import GlobalOptions


@dataclass(frozen=True)
class Verdict:
    """The violations of a plan, sorted by what the command does with them."""

    refused: list[Violation]  # errors (warnings too under --strict) not allowed
    warnings: list[Violation]
    allowed: list[Violation]  # justified exceptions: named by --allow-policy


def judge(
    violations: Sequence[Violation],
    policies: Policies,
    allow: Sequence[str],
    *,
    strict: bool,
    env: str,
) -> Verdict:
    """Sort ``violations`` for plan and apply; ``--allow-policy`` names must be rules in force."""
    unknown = [name for name in allow if name not in policies.names]
    if unknown:
        names = ", ".join(policies.names) or "none"
        raise UsageError(
            f"--allow-policy {unknown[0]}: environment {env!r} has no such policy "
            f"(its policies: {names})",
            hint=f"name one of the rules under `policies:` ({', '.join(RULES)})",
        )
    allowed = [v for v in violations if v.rule in allow]
    rest = [v for v in violations if v.rule not in allow]
    refused = [v for v in rest if v.severity == "error" or strict]
    warnings = [v for v in rest if not (v.severity == "error" or strict)]
    return Verdict(refused, warnings, allowed)


def for_validate(options: GlobalOptions, manifests: Sequence[Any], now: datetime) -> list[Problem]:
    """``validate``: the violations of the selected environment's policies, as problems.

    Without ``--env``, in a config with several environments and no ``default:``, each
    environment checks the manifests inside its own manifest directory. A new one-shot is one
    without an entry in the environment's state file, when there is one.
    """
    from dataclasses import replace
    from pathlib import Path

    from reconciler.config.environments import load_environments

    required = options.config_named
    loaded = load_environments(Path(options.config_path), required=required)
    if options.env is None and loaded.default is None and len(loaded.environments) > 1:
        chosen = [(env, True) for env in loaded.environments]
    else:
        chosen = [(loaded.select(options.env), False)]
    out: list[Problem] = []
    for env, by_directory in chosen:
        if not env.policies:
            continue
        if options.timezone:  # validated by the command before
            env = replace(env, timezone=options.timezone)
        mine = list(manifests)
        if by_directory:
            root = Path(env.manifests).resolve()
            mine = [m for m in mine if Path(m.path).resolve().is_relative_to(root)]
        found = check(subjects_of(mine), env.policies, now=now, tz=env.tz, known=_state_names(env))
        out += [v.problem() for v in found]
    return out


def _state_names(env: Any) -> set[str]:
    """Names in the environment's state file; none without one (or for an unreadable one:
    validate checks manifests, `reconciler state` reports the file)."""
    from pathlib import Path

    if env.policies.min_lead_time is None or not Path(env.state).exists():
        return set()
    from reconciler.errors import StateError
    from reconciler.state.store import StateStore

    try:
        return set(StateStore(env.state).load().entries)
    except StateError:
        return set()


def enforce(
    env: Any,
    manifests: Iterable[Any],
    *,
    known: Iterable[str],
    now: datetime,
    allow: Sequence[str],
    strict: bool,
) -> Verdict:
    """Check an environment's policies for plan or apply; raise if an error is not allowed.

    Called after the state is read and before any request: a refused plan makes no call.
    """
    policies: Policies = env.policies
    if not policies and not allow:
        return Verdict([], [], [])
    found = check(subjects_of(manifests), policies, now=now, tz=env.tz, known=known)
    verdict = judge(found, policies, allow, strict=strict, env=env.name)
    refuse(verdict)
    return verdict


def refuse(verdict: Verdict) -> None:
    """Raise ``ManifestError`` for the refused violations (before any request is made)."""
    if not verdict.refused:
        return
    rules = sorted({v.rule for v in verdict.refused}, key=RULES.index)
    raise ManifestError(
        [v.problem("error") for v in verdict.refused],
        hint="change the manifests, or, for a justified exception, re-run with "
        + " ".join(f"--allow-policy {r}" for r in rules),
    )


def exception_lines(allowed: Sequence[Violation]) -> list[str]:
    # A live task (drift) has no line: ``remote task ID`` alone.
    return [
        f"{v.path if v.line == 0 else v.problem().where()}: {v.rule}: {v.message}" for v in allowed
    ]


def for_drift(
    env: Any,
    manifests: Iterable[Any],
    live: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    now: datetime,
    allow: Sequence[str],
) -> tuple[list[Violation], list[Violation]]:
    """``drift``: the violations of the live versions of managed tasks (``live``: name, id and
    body of each) that git's versions (``manifests``) do not have, as (reported, allowed).

    A violation git's version has too was judged by ``validate`` and ``plan`` (refused, or let
    through as an exception); one only the live version has came from outside git. A task that
    exists is never new (``min_lead_time``). ``allow``: rules named by ``--allow-policy``.
    """
    policies: Policies = env.policies
    if not policies or not live:
        return [], []
    names = [name for name, _, _ in live]
    subjects = [LiveSubject(name, body, f"remote task {sid}", 0, 0) for name, sid, body in live]
    found = check(subjects, policies, now=now, tz=env.tz, known=names)
    if not found:
        return [], []
    in_git = {
        (v.rule, v.name)
        for v in check(subjects_of(manifests), policies, now=now, tz=env.tz, known=names)
    }
    fresh = [v for v in found if (v.rule, v.name) not in in_git]
    return [v for v in fresh if v.rule not in allow], [v for v in fresh if v.rule in allow]


def with_exceptions(rendered: str, fmt: str, allowed: Sequence[Violation]) -> str:
    """The rendered plan with its justified policy exceptions (``--allow-policy``) shown."""
    if not allowed:
        return rendered
    if fmt == "json":
        data = json.loads(rendered)
        data["policy_exceptions"] = [v.as_json() for v in allowed]
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    title = "Policy exceptions (allowed with --allow-policy):"
    if fmt == "markdown":
        import html

        block = (
            ["", f"**{title}**", ""]
            + [f"- {html.escape(line, quote=False)}" for line in exception_lines(allowed)]
            + [""]
        )
        lines = rendered.rstrip("\n").split("\n")
        # Before the footer line ("planned at ... checksum"), after the schedules.
        return "\n".join([*lines[:-1], *block, lines[-1]]) + "\n"
    block = [title, *(f"  - {line}" for line in exception_lines(allowed))]
    return rendered + "\n" + "\n".join(block) + "\n"
