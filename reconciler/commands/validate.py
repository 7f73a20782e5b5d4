"""``reconciler validate`` and ``reconciler schema``: check manifests before anything talks to the
API, and give editors the JSON Schema of a manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from reconciler.commands import format_option, global_options, option
from reconciler.errors import Problem, UsageError

DEFAULT_PATH = "schedules"


def resolve_clock(ctx: click.Context) -> tuple[datetime, ZoneInfo]:
    """ "Now" and the time zone from the global ``--now`` / ``--timezone`` (default UTC)."""
    options = global_options(ctx)
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


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option(
    "validate",
    ["text", "json", "github"],
    "text for people, json for machines, github for pull-request annotations.",
)
@option("--strict", is_flag=True, default=False, help="Treat warnings as errors.")
@option(
    "--explain",
    metavar="NAME",
    default=None,
    help="Print schedule NAME's merged body (defaults, bases, overlay) with where each value "
    "was written.",
)
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str,
    strict: bool,
    explain: str | None,
) -> int:
    """Check manifests (default: schedules/) and report every problem at once.

    With --env, the environment's manifests with its overlay (docs/layers.md).
    Exit code 0 when valid, 1 when any error (or, with --strict, any warning) was found.
    """
    from reconciler.manifests.load import load_manifests
    from reconciler.manifests.overlays import environment_targets

    if explain is not None and fmt != "text":
        raise UsageError("--explain prints text", hint="drop --format (or use --format text)")
    now, zone = resolve_clock(ctx)
    targets, overlay, zone = environment_targets(global_options(ctx), list(paths), zone)
    targets = targets or [Path(DEFAULT_PATH)]
    result = load_manifests(targets, now=now, tz=zone, overlay=overlay)
    result.problems.extend(_policy_problems(ctx, result.manifests, now))
    found = True
    if explain is not None:
        from reconciler.manifests.explain import explain_text

        text, found = explain_text(result, explain)
        click.echo(text)
    problems = [p.strictly() for p in result.problems] if strict else result.problems
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    valid = errors == 0
    # Valid schedules only: a manifest whose name another one uses is not one.
    count = sum(1 for m in result.manifests if m.name not in result.duplicates)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": valid,
                    "files": result.files,
                    "manifests": count,
                    "errors": errors,
                    "warnings": warnings,
                    "problems": [_as_json(p) for p in problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        render = _github if fmt == "github" else str
        for problem in problems:
            click.echo(render(problem))
        summary = f"{count} schedule(s) in {result.files} file(s)"
        if valid:
            tail = f", {warnings} warning(s)" if warnings else ""
            click.echo(f"{summary}: valid{tail}")
        else:
            click.echo(f"{summary}: {errors} error(s), {warnings} warning(s)")
    return 0 if valid and (explain is None or found) else 1


@click.command()
@click.option(
    "--kind",
    type=click.Choice(["manifest", "defaults", "overlay"]),
    default="manifest",
    show_default=True,
    help="manifest, defaults (_defaults.yaml and base files) or overlay (docs/layers.md).",
)
def schema(kind: str) -> None:
    """Print the JSON Schema of a manifest (point your editor at it: docs/manifests.md)."""
    from reconciler.manifests.layer_schema import layered_schema

    click.echo(json.dumps(layered_schema(kind), indent=2, ensure_ascii=False))


def _policy_problems(ctx: click.Context, manifests: list[Any], now: datetime) -> list[Problem]:
    """The push policies of reconciler.yaml (reconciler/config/policies/), as manifest
    problems."""
    options = global_options(ctx)
    if not Path(options.config_path).exists() and not options.config_named:
        # No config, no policies: the plain run pays for no import (a --config named on purpose
        # that is missing is reported by the environment loader, as by every command).
        return []
    from reconciler.config import policies

    return policies.for_validate(options, manifests, now)


def _as_json(problem: Problem) -> dict[str, Any]:
    return {
        "path": problem.path,
        "line": problem.line,
        "col": problem.col,
        "severity": problem.severity,
        "message": problem.message,
    }


def _github(problem: Problem) -> str:
    """A GitHub Actions workflow command that annotates the file in a pull request."""
    level = "error" if problem.severity == "error" else "warning"
    props = [f"file={_escape_property(problem.path)}"]
    if problem.line is not None:
        props.append(f"line={problem.line}")
        if problem.col is not None:
            props.append(f"col={problem.col}")
    return f"::{level} {','.join(props)}::{_escape_data(problem.message)}"


def _escape_data(text: str) -> str:
    # GitHub's toolkit escaping for command data (actions/toolkit, command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
