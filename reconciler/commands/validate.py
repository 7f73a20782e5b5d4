"""``reconciler validate`` and ``reconciler schema``: check manifests before anything talks to the
API, and give editors the JSON Schema of a manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from reconciler.commands import global_options, option
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
@option(
    "--format",
    "output_format",
    envvar="RECONCILER_FORMAT",  # RECONCILER_<OPTION>, not the parameter's name
    show_envvar=True,
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for machines, github for pull-request annotations.",
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
    output_format: str,
    strict: bool,
    explain: str | None,
) -> int:
    """Check manifests (default: schedules/) and report every problem at once.

    With --env, the environment's manifests with its overlay (docs/layers.md).
    Exit code 0 when valid, 1 when any error (or, with --strict, any warning) was found.
    """
    from reconciler.layers import environment_targets
    from reconciler.manifests import load_manifests

    if explain is not None and output_format != "text":
        raise UsageError("--explain prints text", hint="drop --format (or use --format text)")
    now, zone = resolve_clock(ctx)
    targets, overlay, zone = environment_targets(ctx, list(paths), zone)
    targets = targets or [Path(DEFAULT_PATH)]
    result = load_manifests(targets, now=now, tz=zone, overlay=overlay)
    found = True
    if explain is not None:
        from reconciler.layers import explain_text

        text, found = explain_text(result, explain)
        click.echo(text)
    problems = [_strictly(p) for p in result.problems] if strict else result.problems
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    valid = errors == 0
    count = len(result.manifests)
    if output_format == "json":
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
        render = _github if output_format == "github" else str
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
    """Print the JSON Schema of a manifest (point your editor at it, see the README)."""
    from reconciler.layers import layered_schema

    click.echo(json.dumps(layered_schema(kind), indent=2, ensure_ascii=False))


def _strictly(problem: Problem) -> Problem:
    if problem.severity != "warning":
        return problem
    return Problem(
        problem.path, problem.line, problem.col, f"{problem.message} (--strict)", "error"
    )


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
