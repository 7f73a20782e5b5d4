"""``reconciler import``: adopt existing remote tasks into the state (the only way to own them);
a thin command over ``reconciler/ops/adopt.py``, which holds the adoption rules."""

from __future__ import annotations

import click

from reconciler.commands import feedback, global_options, option, suggest
from reconciler.commands.state import lock_timeout_option


@click.command(name="import")
@click.argument("pairs", nargs=-1, metavar="NAME=SCHEDULE_ID...")
@option(
    "--all-matching",
    is_flag=True,
    default=False,
    help="Adopt every remote task whose name matches exactly one unmanaged manifest.",
)
@lock_timeout_option()
@click.pass_context
def import_(
    ctx: click.Context, /, pairs: tuple[str, ...], all_matching: bool, lock_timeout: float
) -> int:
    """Adopt remote tasks so that plan and apply manage them.

    The remote body is recorded as last applied; the next plan shows any difference from the
    manifest as an update. Nothing is written to the API.
    """
    from reconciler.errors import UsageError
    from reconciler.ops import adopt as ops

    if bool(pairs) == all_matching:
        raise UsageError(
            "give NAME=SCHEDULE_ID pairs or --all-matching (exactly one of them)",
            hint="e.g. `reconciler import weekly_digest=0b8f...` or `reconciler import "
            "--all-matching`",
        )
    wanted: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, sid = pair.partition("=")
        if not sep or not name or not sid:
            raise UsageError(
                f"{pair!r} is not NAME=SCHEDULE_ID", hint="e.g. weekly_digest=0b8f1c2e-..."
            )
        wanted.append((name, sid))
    _each_once(wanted)
    request = ops.AdoptRequest(tuple(wanted), all_matching, lock_timeout)
    result = ops.adopt(global_options(ctx), request, feedback())
    for line in result.skipped:
        click.echo(suggest(f"skipped {line}"))
    for name, sid in result.imported:
        click.echo(f"imported {name!r} = {sid}")
    if not result.imported:
        # Silence reads as "done": say that nothing was recorded, and why.
        click.echo(
            "Nothing imported: every task above was skipped."
            if result.skipped
            else "Nothing imported: no remote task that is not managed carries the name of a "
            "manifest that is not managed yet."
        )
    return 0


def _each_once(pairs: list[tuple[str, str]]) -> None:
    """A name given twice would keep one of its ids without a word; an id given for two
    names would bind one task to both (two manifests deleting and recreating one task)."""
    from reconciler.errors import UsageError

    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    for name, sid in pairs:
        if name in names:
            raise UsageError(
                f"{name!r} is named twice ({names[name]} and {sid})",
                hint="give each manifest name once, with the id of its task",
            )
        if sid in ids:
            raise UsageError(
                f"task {sid} is named for both {ids[sid]!r} and {name!r}",
                hint="a task backs one manifest; give its id once",
            )
        names[name] = sid
        ids[sid] = name
