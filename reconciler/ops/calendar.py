"""The calendar operation: every firing of the manifests' schedules in a window (no API call).

One job: read the window from ``--from``/``--to`` in the environment's time zone, check it, and
list the firings (``reconciler/planning/firings.py`` computes and renders them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reconciler.errors import UsageError
from reconciler.limits import MAX_YEAR, MIN_YEAR

if TYPE_CHECKING:
    from reconciler.options import GlobalOptions
    from reconciler.planning.firings import Firing

DEFAULT_DAYS = 31
MAX_WINDOW = timedelta(days=400)  # a schedule spans at most a year


@dataclass(frozen=True)
class CalendarRequest:
    """What ``reconciler calendar`` was asked: the window as typed, and the output file."""

    start: str | None = None  # default: now
    end: str | None = None  # default: DEFAULT_DAYS after the start
    out: Path | None = None  # checked before anything is read


@dataclass(frozen=True)
class CalendarResult:
    """The firings in the window, with what renders them."""

    env: str
    tz: ZoneInfo
    now: datetime
    start: datetime
    end: datetime
    firings: list[Firing]


def _moment(text: str, tz: tzinfo, what: str) -> datetime:
    """``YYYY-MM-DD`` (midnight), ``YYYY-MM-DD HH:MM[:SS]`` in ``tz``, or ISO 8601 with offset."""
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


def calendar(options: GlobalOptions, request: CalendarRequest) -> CalendarResult:
    """Every firing of every enabled manifest in the window, in the environment's time zone."""
    from reconciler.config.session import load_environment, now_of
    from reconciler.manifests.load import load_manifests
    from reconciler.planning import firings as fr

    env = load_environment(options)
    if request.out is not None:  # never a FIFO, a device or one of the state's own files
        from reconciler import files
        from reconciler.ops.plan import environments, kept_files, read_directories

        config = Path(options.config_path)
        envs = environments(config, env)

        files.check_output(
            str(request.out),
            what="calendar",
            protected=kept_files(config, envs),
            error=lambda m, h: UsageError(m, hint=h),
            manifests=read_directories(envs),
        )
    tz = env.tz if options.timezone is None else ZoneInfo(options.timezone)  # checked by now
    now = now_of(options)
    start = _moment(request.start, tz, "--from") if request.start else now
    end = _moment(request.end, tz, "--to") if request.end else start + timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise UsageError("--to must be later than --from", hint="swap them, or widen the window")
    if end - start > MAX_WINDOW:
        raise UsageError(
            "the window is longer than 400 days; a schedule spans at most a year",
            hint="give a shorter --from/--to window",
        )
    result = load_manifests([env.manifests], now=now, tz=tz, overlay=env.overlay)
    result.raise_for_errors()
    items = fr.firings(
        ((m.name, m.body, m.where()) for m in result.manifests), start=start, end=end, tz=tz
    )
    return CalendarResult(env.name, tz, now, start, end, items)
