"""``reconciler calendar``: every firing of the manifests' schedules in a window (no API call);
a thin command over ``reconciler/ops/calendar.py``."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import click

from reconciler.commands import format_option, global_options, option
from reconciler.ops.calendar import DEFAULT_DAYS


@click.command("calendar")
@option("--from", "from_", default=None, help="Start of the window (default: now).")
@option("--to", "to", default=None, help=f"End of the window (default: {DEFAULT_DAYS} days on).")
@format_option(
    "calendar",
    ["text", "markdown", "json", "ics", "html"],
    "ics: for a calendar application; html: a month view to open in a browser.",
)
@option(
    "--out",
    "out",
    envvar="RECONCILER_CALENDAR_OUT",  # RECONCILER_OUT is plan's: a calendar must not replace it
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.pass_context
def calendar(
    ctx: click.Context, /, from_: str | None, to: str | None, fmt: str, out: Path | None
) -> int:
    """Every firing of every enabled manifest between --from and --to, in the environment's
    time zone; a zone_type 2 firing is shown as the span of its local time across all zones."""
    from reconciler.ops import calendar as ops
    from reconciler.ops.output import write_output
    from reconciler.planning import firings as fr

    found = ops.calendar(global_options(ctx), ops.CalendarRequest(from_, to, out))
    items, tz, start, end, env = found.firings, found.tz, found.start, found.end, found.env
    if fmt == "json":
        text = fr.render_json(items, tz, start, end)
    elif fmt == "markdown":
        text = fr.render_markdown(items, tz, f"What fires from {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    elif fmt == "ics":
        text = fr.render_ics(items, env=env, stamp=found.now.astimezone(UTC))
    elif fmt == "html":
        text = fr.render_html(items, tz, start, end, env=env)
    else:
        text = fr.render_text(items, tz, start, end)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_output(str(out), text, "calendar")
        click.echo(f"{len(items)} firing(s) written to {out}", err=True)
    return 0
