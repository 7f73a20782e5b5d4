"""``reconciler calendar``: every firing of the manifests' schedules in a window (no API call)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from reconciler.commands import format_option, global_options, option
from reconciler.limits import MAX_YEAR, MIN_YEAR

DEFAULT_DAYS = 31


def _moment(text: str, tz: tzinfo, what: str) -> datetime:
    """``YYYY-MM-DD`` (midnight), ``YYYY-MM-DD HH:MM[:SS]`` in ``tz``, or ISO 8601 with offset."""
    from reconciler.errors import UsageError

    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not a date or date-time",
            hint=f"e.g. {what} 2027-03-01 or {what} '2027-03-01 08:00'",
        ) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # the window is converted and widened
        raise UsageError(
            f"{what} {text!r} is outside the years {MIN_YEAR} to {MAX_YEAR}",
            hint=f"give a date the schedules can reach, e.g. {what} 2027-03-01",
        )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


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
    from reconciler.config.session import load_environment, now_of
    from reconciler.errors import UsageError
    from reconciler.manifests.load import load_manifests
    from reconciler.planning import firings as fr

    options = global_options(ctx)
    env = load_environment(options)
    if out is not None:  # never a FIFO, a device or one of the state's own files
        from reconciler import files
        from reconciler.state.store import StateStore

        files.check_output(
            str(out),
            what="calendar",
            protected=StateStore(env.state).own_files(),
            error=lambda m, h: UsageError(m, hint=h),
        )
    tz = env.tz if options.timezone is None else ZoneInfo(options.timezone)  # checked by now
    now = now_of(options)
    start = _moment(from_, tz, "--from") if from_ else now
    end = _moment(to, tz, "--to") if to else start + timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise UsageError("--to must be later than --from", hint="swap them, or widen the window")
    if end - start > timedelta(days=400):
        raise UsageError(
            "the window is longer than 400 days; a schedule spans at most a year",
            hint="give a shorter --from/--to window",
        )
    result = load_manifests([env.manifests], now=now, tz=tz, overlay=env.overlay)
    result.raise_for_errors()
    items = fr.firings(
        ((m.name, m.body, m.where()) for m in result.manifests), start=start, end=end, tz=tz
    )
    if fmt == "json":
        text = fr.render_json(items, tz, start, end)
    elif fmt == "markdown":
        text = fr.render_markdown(items, tz, f"What fires from {start:%Y-%m-%d} to {end:%Y-%m-%d}")
    elif fmt == "ics":
        text = fr.render_ics(items, env=env.name, stamp=now.astimezone(UTC))
    elif fmt == "html":
        text = fr.render_html(items, tz, start, end, env=env.name)
    else:
        text = fr.render_text(items, tz, start, end)
    if out is None:
        click.echo(text, nl=False)
    else:
        from reconciler import files

        try:
            files.write_regular(str(out), text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(
                f"cannot write the calendar to {out}: {files.reason(exc)}",
                hint="check that its directory exists and is writable",
            ) from exc
        click.echo(f"{len(items)} firing(s) written to {out}", err=True)
    return 0
