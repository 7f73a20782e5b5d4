"""The validate operation: every manifest problem at once, before anything talks to the API.

One job: load the manifests (a path, or the environment's with its overlay), add the push
policies of reconciler.yaml as problems, and count. Light at import: ``reconciler validate``
runs in editors and hooks, so the YAML reader and the policies load only when used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import Problem, UsageError

if TYPE_CHECKING:
    from reconciler.manifests.load import Manifest
    from reconciler.options import GlobalOptions

DEFAULT_PATH = "schedules"


@dataclass(frozen=True)
class ValidateRequest:
    """What ``reconciler validate`` was asked."""

    paths: tuple[Path, ...] = ()  # default: the environment's manifests, else schedules/
    strict: bool = False  # warnings count as errors
    explain: str | None = None  # a schedule whose merged body to explain


@dataclass(frozen=True)
class ValidateResult:
    """The problems found (made errors under ``strict``) and what was read."""

    problems: tuple[Problem, ...]
    files: int
    manifests: int  # valid schedules: a manifest whose name another one uses is not one
    explanation: str | None  # the merged body of ``explain`` (or why it is not there)
    explained: bool  # ``explain`` named a schedule that was found

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors

    @property
    def valid(self) -> bool:
        return self.errors == 0


def resolve_clock(options: GlobalOptions) -> tuple[datetime, ZoneInfo]:
    """ "Now" and the time zone from the global ``--now`` / ``--timezone`` (default UTC)."""
    name = options.timezone or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown time zone {name!r}",
            hint="give an IANA name such as Europe/Berlin or Asia/Shanghai",
        ) from exc
    now = options.now or datetime.now(UTC)
    return now, zone


def validate(options: GlobalOptions, request: ValidateRequest) -> ValidateResult:
    """Check the manifests and report every problem at once; no API call."""
    from reconciler.manifests.load import load_manifests
    from reconciler.manifests.overlays import environment_targets

    now, zone = resolve_clock(options)
    targets, overlay, zone, home = environment_targets(options, list(request.paths), zone)
    home = home or Path(DEFAULT_PATH)
    targets = targets or [home]
    # Files or directories named: they may hold some of the schedules only, so an overlay's
    # patch of another one is no problem (it was reported as patching nothing). Those inside
    # the manifest directory take its defaults and bases as `plan` gives them.
    result = load_manifests(
        targets, now=now, tz=zone, overlay=overlay, every_schedule=not request.paths, home=home
    )
    result.problems.extend(_policy_problems(options, result.manifests, now))
    explanation, found = None, True
    if request.explain is not None:
        from reconciler.manifests.explain import explain_text

        explanation, found = explain_text(result, request.explain)
    problems = [p.strictly() for p in result.problems] if request.strict else result.problems
    count = sum(1 for m in result.manifests if m.name not in result.duplicates)
    return ValidateResult(tuple(problems), result.files, count, explanation, found)


def _policy_problems(
    options: GlobalOptions, manifests: list[Manifest], now: datetime
) -> list[Problem]:
    """The push policies of reconciler.yaml (reconciler/config/policies/), as manifest
    problems."""
    if not Path(options.config_path).exists() and not options.config_named:
        # No config, no policies: the plain run pays for no import (a --config named on purpose
        # that is missing is reported by the environment loader, as by every command).
        return []
    from reconciler.config import policies

    return policies.for_validate(options, manifests, now)
