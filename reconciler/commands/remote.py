"""``reconciler remote list|show|delete`` and ``reconciler export``: thin commands over
``reconciler/ops/remote.py`` and ``reconciler/ops/export.py`` (the app's tasks as read by the
tool).

``remote list|show`` only read; ``remote delete`` removes tasks nobody manages. ``export``
writes manifests for remote tasks into the manifest directory and, with ``--adopt``, records
them in the state in the same step, so that bringing an existing app under management is one
command.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from reconciler.commands import feedback, format_option, global_options, option, suggest
from reconciler.commands.state import lock_timeout_option
from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.planning.canonical import TRIGGER_KINDS
from reconciler.printable import shown_json

if TYPE_CHECKING:
    from reconciler.ops.remote import RemoteTask, RemoteView


def _row(t: RemoteTask) -> dict[str, object]:
    return {
        "schedule_id": t.task.schedule_id,
        "name": t.task.name,
        "enabled": t.task.enabled,
        "trigger": t.trigger,
        "status": t.status,
        "managed_as": t.managed_as,
        "reason": t.why,
    }


@click.group("remote")
def remote() -> None:
    """Look at the app's remote tasks (list, show: reads only), and delete ones nobody manages
    (delete)."""


@remote.command("list")
@format_option("remote list", ["text", "json"], "text for people, json for machines.")
@click.pass_context
def list_(ctx: click.Context, /, fmt: str) -> int:
    """Every remote task (all pages) with managed / elsewhere / copy / unmanaged / conflict /
    ignored marked (elsewhere: another environment of reconciler.yaml manages it on this same
    app; copy: a second task of a managed schedule).

    Exit 1 when the list could not be read completely (what was read is still shown).
    """
    from reconciler.errors import InventoryError
    from reconciler.ops import remote as ops

    view = ops.list_tasks(global_options(ctx), feedback())
    if fmt == "json":
        data = {
            "format_version": JSON_OUTPUT_VERSION,
            "environment": view.env,
            "complete": view.complete,
            "problems": list(view.problems),
            "tasks": [_row(t) for t in view.tasks],
        }
        click.echo(shown_json(json.dumps(data, indent=2, ensure_ascii=False)))
    else:
        _print_table(view)
    if not view.complete:
        raise InventoryError(view.incomplete, hint="re-run when the API answers every page")
    return 0


def _print_table(view: RemoteView) -> None:
    if not view.tasks:
        click.echo("no remote tasks")
        return
    rows = [("SCHEDULE_ID", "NAME", "ENABLED", "TRIGGER", "STATUS")]
    for t in view.tasks:
        status = t.status
        if t.managed_as is not None and t.managed_as != t.task.name:
            status += f" as {t.managed_as}"
        elif t.why is not None:
            status += f" ({t.why})"
        rows.append(
            (t.task.schedule_id, t.task.name, "yes" if t.task.enabled else "no", t.trigger, status)
        )
    from reconciler.printable import columns, padded

    widths = [max(columns(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        click.echo("  ".join([*(padded(c, widths[i]) for i, c in enumerate(r[:4])), r[4]]))
    counts: dict[str, int] = {}
    for t in view.tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
    click.echo(f"\n{len(view.tasks)} remote task(s): {summary}")
    if counts.get("unmanaged"):
        click.echo(suggest("`reconciler export --adopt` writes manifests for the unmanaged ones."))
    copies = [t.task.schedule_id for t in view.tasks if t.status == "copy"]
    if copies:
        from reconciler.planning.actions import remote_delete_command

        click.echo(
            suggest(
                'Each copy fires beside its managed task (the plan\'s "live more than once"): '
                f"{remote_delete_command(*copies)} deletes them."
            )
        )


@remote.command("show")
@click.argument("which", metavar="ID|NAME")
@format_option(
    "remote show",
    ["yaml", "json"],
    "yaml: the body as a manifest would hold it; json: as the API returned it.",
    default="yaml",
)
@click.pass_context
def show(ctx: click.Context, /, which: str, fmt: str) -> int:
    """One remote task (by schedule id, or every task of that name) with its full body."""
    from reconciler.manifests.export import dump_yaml, normal_form
    from reconciler.ops import remote as ops

    found = ops.show_tasks(global_options(ctx), which, feedback())
    if fmt == "json":
        items = [{**_row(t), "body": t.task.body} for t in found]
        click.echo(
            shown_json(
                json.dumps(items if len(items) > 1 else items[0], indent=2, ensure_ascii=False)
            )
        )
        return 0
    for n, t in enumerate(found):
        if n:
            click.echo("---")
        owner = f" as {t.managed_as!r}" if t.managed_as else ""
        why = f" ({t.why})" if t.why else ""
        click.echo(f"# {t.task.schedule_id}: {t.status}{owner}{why}")
        click.echo(dump_yaml(normal_form(t.task.body)), nl=False)
    return 0


@remote.command("delete")
@click.argument("ids", nargs=-1, required=True, metavar="SCHEDULE_ID...")
# Typed, never read from the environment: RECONCILER_AUTO_APPROVE, set for a CI job's apply,
# must not also delete tasks unasked.
@click.option(
    "--auto-approve",
    is_flag=True,
    default=False,
    help="Do not ask for confirmation. Never read from the environment.",
)
@lock_timeout_option()
@click.pass_context
def delete(
    ctx: click.Context, /, ids: tuple[str, ...], auto_approve: bool, lock_timeout: float
) -> int:
    """Delete remote tasks nobody manages (a second copy of a schedule, a leftover).

    Tasks made through the API are not shown in the EngageLab console, so this is the way to
    remove them. A task the state manages is refused (remove its manifest and apply), and so
    is one the ignore rules of reconciler.yaml declare someone else's. Check each with
    `reconciler remote show ID` first: a deleted task cannot be brought back.
    """
    from reconciler.commands.plan import terminal_confirm
    from reconciler.errors import ApplyError
    from reconciler.ops import remote as ops

    result = ops.delete_tasks(
        global_options(ctx),
        ids,
        feedback(),
        confirm=terminal_confirm(),
        auto_approve=auto_approve,
        lock_timeout=lock_timeout,
    )
    if result is None:
        raise click.Abort
    deleted, failures = result
    for sid, name in deleted:
        click.echo(f"deleted {sid} ({name!r})")
    click.echo(f"Deleted {len(deleted)} task(s).")
    if failures:
        raise ApplyError(failures, hint="run the command again for the tasks not deleted")
    return 0


@click.command("export")
@option("--id", "ids", multiple=True, metavar="SCHEDULE_ID", help="Export this task (repeatable).")
@option(
    "--name",
    "names",
    multiple=True,
    metavar="PATTERN",
    help="Export tasks whose name matches this shell pattern, e.g. 'Spring_*' (repeatable).",
)
@option(
    "--trigger",
    "triggers",
    multiple=True,
    type=click.Choice(TRIGGER_KINDS),
    help="Export only tasks with this trigger kind (repeatable).",
)
@option(
    "--dir",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the manifests (default: the environment's manifest directory).",
)
@option(
    "--adopt",
    is_flag=True,
    default=False,
    help="Also record the exported tasks in the state, so the next plan is a no-op.",
)
@option(
    "--overwrite",
    is_flag=True,
    default=False,
    help="Replace an existing file of the same name (default: never; pick another name).",
)
@lock_timeout_option()
@click.pass_context
def export(
    ctx: click.Context,
    /,
    ids: tuple[str, ...],
    names: tuple[str, ...],
    triggers: tuple[str, ...],
    out_dir: str | None,
    adopt: bool,
    overwrite: bool,
    lock_timeout: float,
) -> int:
    """Write manifests for remote tasks: every unmanaged one, or those selected.

    One file per schedule, named after the schedule; a task the manifests cannot express as
    written (e.g. a name with characters the docs do not allow) is written with the problem
    marked at the top, and not adopted. Exit 1 when any file needs attention.
    """
    from reconciler.errors import UsageError
    from reconciler.ops import export as ops

    request = ops.ExportRequest(ids, names, triggers, out_dir, adopt, overwrite, lock_timeout)
    result = ops.export(global_options(ctx), request, feedback())
    planned = result.written
    # Their suggested commands act on the same app and state as this one (``suggest``).
    for line in result.skipped:
        click.echo(suggest(f"skipped {line}"))
    attention = 0
    for p in planned:
        if p.problems:
            attention += 1
            click.echo(f"wrote {p.path} from {p.task.schedule_id}: NEEDS ATTENTION")
            for problem in p.problems:
                click.echo(suggest(f"  error: {problem}"))
        else:
            adopted = " (adopted)" if adopt else ""
            click.echo(f"wrote {p.path} from {p.task.schedule_id}{adopted}")
            for note in p.notes:
                click.echo(suggest(f"  warning: {note}"))
    done = len(planned) - attention
    click.echo(
        f"Exported {len(planned)} task(s) to {result.target_dir}"
        + (f"; {done} adopted" if adopt else "")
        + (f"; {attention} need attention (marked at the top of each file)" if attention else "")
        + "."
    )
    if planned and not adopt and done:
        # Written where the environment reads them, the files make their tasks conflicts,
        # which a second export skips: import is what adopts them then.
        step = (
            "`reconciler import --all-matching` (or `reconciler import NAME=ID`)"
            if result.read_by_environment
            else "`reconciler export --adopt` (or `reconciler import NAME=ID`)"
        )
        click.echo(suggest(f"Next: {step} to manage them."))
    if attention:
        raise UsageError(
            f"{attention} exported manifest(s) cannot be used as written",
            hint="fix the problems marked at the top of each file, then `reconciler validate` "
            "and `reconciler import NAME=ID`",
        )
    return 0
