"""``reconciler validate`` and ``reconciler schema``: check manifests before anything talks to the
API (a thin command over ``reconciler/ops/validate.py``), and give editors the JSON Schema of a
manifest."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.commands import format_option, global_options, option
from reconciler.errors import Problem, UsageError
from reconciler.printable import escaped


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

    With --env, or a reconciler.yaml naming a default environment, that environment's
    manifests with its overlay (docs/layers.md), as plan reads them.
    Exit code 0 when valid, 1 when any error (or, with --strict, any warning) was found.
    """
    from reconciler.ops.validate import ValidateRequest, validate

    if explain is not None and fmt != "text":
        raise UsageError("--explain prints text", hint="drop --format (or use --format text)")
    result = validate(global_options(ctx), ValidateRequest(paths, strict, explain))
    if result.explanation is not None:
        click.echo(result.explanation)
    problems, errors, warnings, valid = (
        result.problems,
        result.errors,
        result.warnings,
        result.valid,
    )
    count = result.manifests
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
    return 0 if valid and result.explained else 1


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


def _as_json(problem: Problem) -> dict[str, object]:
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
    # GitHub's toolkit escaping for command data (actions/toolkit, command.ts), then the other
    # control characters spelled out: an ESC in a path or a message (a pull request's file)
    # reached the log raw inside the annotation.
    escaped_data = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escaped(escaped_data)


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
