"""``reconciler state list|show|rm|mv``: look at and repair the state file by hand; thin commands
over ``reconciler/ops/state.py``.

These commands never call the API. ``rm`` and ``mv`` change only the local mapping, under the
state lock; the remote tasks stay exactly as they are.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from reconciler.commands import (
    F,
    command,
    format_option,
    global_options,
    option,
    suggest,
)
from reconciler.commands.flags import setting_option
from reconciler.config.environments import Environment, environment_for
from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.printable import columns, padded, shown_json
from reconciler.settings import LOCK_TIMEOUT

if TYPE_CHECKING:
    from reconciler.state.invariants import Violation
    from reconciler.state.schema import State, StateEntry


def lock_timeout_option() -> Callable[[F], F]:
    """``--lock-timeout SECONDS`` (RECONCILER_LOCK_TIMEOUT), for every command taking the lock."""
    return setting_option(LOCK_TIMEOUT)


def _environment(ctx: click.Context) -> Environment:
    opts = global_options(ctx)
    root = ctx.find_root()
    # An explicitly given --config / RECONCILER_CONFIG must exist; the default one is optional.
    source = root.get_parameter_source("config_path")
    required = source not in (None, ParameterSource.DEFAULT)
    return environment_for(Path(opts.config_path), opts.env, required=required)


def _command_line(ctx: click.Context) -> str:
    """What the lock file says is holding it (names only; no option values, no secrets)."""
    return f"reconciler {ctx.command_path.split(' ', 1)[-1]}"


def _entry_json(name: str, entry: StateEntry) -> dict[str, object]:
    return {"name": name, **entry.model_dump(mode="json")}


@click.group("state")
def state() -> None:
    """Inspect or repair the state file (never calls the API)."""


@state.command("list")
@format_option("state list", ["text", "json"], "text for people, json for machines.")
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> int:
    """List the managed schedules: name, schedule_id, protection, last update."""
    from reconciler.ops import state as ops
    from reconciler.printable import escaped
    from reconciler.state.invariants import shown_name

    view = ops.read(_environment(ctx))  # a broken state is listed, with what is wrong
    current, path = view.state, view.path
    _warn_inconsistent(view.problems)
    if fmt == "json":
        click.echo(shown_json(json.dumps(_list_json(path, current), indent=2, ensure_ascii=False)))
        return 0
    if not view.exists:
        click.echo(f"no state file at {path} yet: nothing is managed")
        return 0
    if not current.entries:
        click.echo(f"no managed schedules in {path} (serial {current.serial})")
    else:
        rows = [("NAME", "SCHEDULE_ID", "PROTECTED", "UPDATED")]
        for name, entry in sorted(current.entries.items()):
            updated = entry.updated_at.isoformat(timespec="seconds")
            protected = "yes" if entry.protected else "no"
            rows.append((shown_name(name), escaped(entry.schedule_id), protected, updated))
        widths = [max(columns(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [padded(cell, widths[i]) for i, cell in enumerate(row[:3])]
            click.echo("  ".join([*cells, row[3]]))
        click.echo(
            f"\n{len(current.entries)} managed schedule(s) in {path} (serial {current.serial})"
        )
    for name, pending in sorted(current.pending.items()):
        click.echo(
            f"pending: an interrupted {pending.op} of {name!r} "
            f"(started {pending.started_at.isoformat(timespec='seconds')}); the next "
            "`reconciler apply` resolves it"
        )
    return 0


def _list_json(path: Path, current: State) -> dict[str, object]:
    return {
        "format_version": JSON_OUTPUT_VERSION,
        "state_file": str(path),
        "lineage": current.lineage,
        "serial": current.serial,
        "entries": [_entry_json(n, e) for n, e in sorted(current.entries.items())],
        "pending": [p.model_dump(mode="json") for _, p in sorted(current.pending.items())],
    }


@state.command("show")
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> int:
    """Print the state entry of NAME as JSON."""
    from reconciler.ops import state as ops

    found = ops.entry(_environment(ctx), name)
    if found.entry is None:
        out: dict[str, object] = {"name": name, "schedule_id": None}
    else:
        out = _entry_json(name, found.entry)
    if found.pending is not None:
        out["pending"] = found.pending.model_dump(mode="json")
    click.echo(shown_json(json.dumps(out, indent=2, ensure_ascii=False)))
    return 0


@state.command("rm")
@click.argument("names", metavar="NAME...", nargs=-1, required=True)
@option(
    "--pending",
    "pending_only",
    is_flag=True,
    default=False,
    help="Remove only the journal entry of NAME (an interrupted write); keep its state entry.",
)
# Typed, never read from the environment: RECONCILER_FORCE, set for plan and apply's fire
# guard, must not also let this drop the journal's debts.
@click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Also drop a journalled delete of an old task (that task then stays live, unmanaged), "
    "or a create journalled less than 5 minutes ago. Never read from the environment.",
)
@lock_timeout_option()
@click.pass_context
def rm(
    ctx: click.Context,
    names: tuple[str, ...],
    pending_only: bool,
    force: bool,
    lock_timeout: float,
) -> int:
    """Forget NAME: the remote task stays as it is, but is no longer managed.

    Afterwards `plan` reports it as unmanaged (or as a conflict while a manifest of that name
    exists); `reconciler import NAME=SCHEDULE_ID` adopts it again. This is also the repair of
    an inconsistent state file (the error names the command). A journalled delete of an old
    task (an interrupted replace) is kept unless --force: dropping it leaves that task firing;
    so is a create journalled less than 5 minutes ago (the server may still commit it).
    """
    from reconciler.ops import state as ops
    from reconciler.state.invariants import shell_word

    request = ops.RemoveRequest(
        names, pending_only, force, lock_timeout, _command_line(ctx), global_options(ctx).now
    )
    result = ops.remove(_environment(ctx), request)
    path = result.path
    for gone in result.removed:
        name, entry = gone.name, gone.entry
        if gone.journal is not None:
            click.echo(
                f"removed the journal entry of {name!r} (an interrupted {gone.journal.op}) from "
                f"{path}"
            )
        if gone.debt is not None:
            click.echo(
                f"  WARNING: the old task {gone.debt} was not deleted and still fires; the "
                "reconciler no longer knows it has to delete it"
            )
        if entry is None:
            continue
        click.echo(f"removed {name!r} (schedule_id {entry.schedule_id}) from {path}")
        note = (
            f"  the remote task {entry.schedule_id} is untouched and now UNMANAGED: the "
            "reconciler will neither update nor delete it"
        )
        if entry.protected:
            note += "; its prevent_destroy protection is forgotten with it"
        click.echo(note)
        click.echo(
            "  to manage it again: "
            + command("import " + shell_word(f"{name}={entry.schedule_id}"))
        )
    click.echo(f"state saved (serial {result.serial}); previous version in {result.backup_path}")
    _warn_inconsistent(result.problems)
    return 0


def _warn_inconsistent(problems: Sequence[Violation]) -> None:
    """Broken invariants, on stderr; the commands that act on the state refuse until repaired."""
    for violation in problems:
        click.echo(
            f"warning: inconsistent state: {violation.message}\n  repair: {violation.repair}",
            err=True,
        )


@state.command("mv")
@click.argument("old")
@click.argument("new")
@lock_timeout_option()
@click.pass_context
def mv(ctx: click.Context, old: str, new: str, lock_timeout: float) -> int:
    """Rename the state entry OLD to NEW, e.g. after renaming a manifest.

    The remote task keeps its id (no delete and re-create); the next `plan` shows an update of
    its `name` field if the manifest now says NEW.
    """
    from reconciler.ops import state as ops

    request = ops.MoveRequest(old, new, lock_timeout, _command_line(ctx))
    result = ops.move(_environment(ctx), request)
    entry, carried, errors = result.entry, result.carried, result.manifest_errors
    click.echo(f"moved {old!r} -> {new!r} (schedule_id {entry.schedule_id}) in {result.path}")
    if new in carried:
        click.echo(
            suggest(
                f"  the remote task is unchanged and still named {old!r}; `reconciler plan` "
                f"shows the rename as an update of its name to {new!r}"
            )
        )
    else:
        # Not refused: the manifest may be renamed right after. Until it is, the next plan
        # deletes the task (no manifest has its name) and creates OLD again if it still has one.
        hidden = f" ({errors} manifest error(s): `reconciler validate` lists them)" * bool(errors)
        consequence = f"deletes task {entry.schedule_id}"
        if old in carried:
            consequence += f" and creates {old!r} again"
        click.echo(
            suggest(
                f"warning: no valid manifest in {result.manifests} is named {new!r}{hidden}; until "
                f"one is, `reconciler plan` {consequence}. Rename the manifest's `name:` to "
                f"{new!r}, or undo with `reconciler state mv {shlex.quote(new)} {shlex.quote(old)}`"
            ),
            err=True,
        )
    click.echo(f"state saved (serial {result.serial}); previous version in {result.backup_path}")
    return 0
