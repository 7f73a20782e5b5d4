"""``reconciler emulator serve``: run the local EngageLab emulator over HTTP.

Options read ``RECONCILER_EMULATOR_<OPTION>`` from the environment (``--timezone`` shares
``RECONCILER_TIMEZONE`` with the other commands, so zone_type 1 times agree on both sides).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from reconciler import heap, stopping
from reconciler.commands import FiniteFloatRange, global_options, option
from reconciler.errors import ConfigError, UsageError
from reconciler.limits import MAX_ACTIVE_TASKS

ENV = "RECONCILER_EMULATOR_"
# Upper bounds of the injected delays: a minute per answer, an hour for a held answer. Larger
# values only stall the client under test; nan and inf are refused by the type as well (they
# pass click's FloatRange and ended in a traceback from the fault settings' own check).
MAX_DELAY_MS = 60_000.0
MAX_HANG_SECONDS = 3_600.0
F = TypeVar("F", bound=Callable[..., Any])


class _Stopped(Exception):
    """Ctrl-C or SIGTERM after uvicorn's own graceful shutdown: a clean stop, exit 0."""


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stopped


@contextmanager
def _clean_stop_on_signals() -> Iterator[None]:
    """uvicorn re-raises the stopping signal after shutting down; turn it into a clean exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _opt(*decls: str, env: str, **attrs: Any) -> Callable[[F], F]:
    return option(*decls, envvar=f"{ENV}{env}", show_envvar=True, **attrs)


@click.group()
def emulator() -> None:
    """A faithful local EngageLab Push server (schedules, msg-ids, batch push)."""


@emulator.command()
@_opt("--host", env="HOST", default="127.0.0.1", show_default=True, help="Address to bind.")
@_opt(
    "--port",
    env="PORT",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind (0 picks a free one and prints it).",
)
@_opt(
    "--data",
    "data_path",
    env="DATA",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to keep the data in (loaded at start, saved after every change).",
)
@_opt("--app-key", env="APP_KEY", default=None, help="AppKey to accept (24 characters).")
@_opt("--master-secret", env="MASTER_SECRET", default=None, help="Master Secret to accept.")
@option("--timezone", default=None, help="Time zone of zone_type 1 times (default UTC).")
@_opt(
    "--latency-ms",
    env="LATENCY_MS",
    default=0.0,
    type=FiniteFloatRange(min=0, max=MAX_DELAY_MS),
    help="Fixed latency added to every API answer.",
)
@_opt(
    "--jitter-ms",
    env="JITTER_MS",
    default=0.0,
    type=FiniteFloatRange(min=0, max=MAX_DELAY_MS),
    help="Random extra latency, 0..N ms.",
)
@_opt(
    "--error-rate",
    env="ERROR_RATE",
    default=0.0,
    type=FiniteFloatRange(0, 1),
    help="Fraction of API requests answered 500/28200 or 503/28203.",
)
@_opt(
    "--commit-timeout-rate",
    "commit_then_timeout_rate",
    env="COMMIT_TIMEOUT_RATE",
    default=0.0,
    type=FiniteFloatRange(0, 1),
    help="Fraction of successful writes applied but answered late or never.",
)
@_opt(
    "--hang-seconds",
    env="HANG_SECONDS",
    default=0.0,
    type=FiniteFloatRange(min=0, max=MAX_HANG_SECONDS),
    help="With --commit-timeout-rate: answer this late (0 drops the connection).",
)
@_opt(
    "--fault-rate-limit",
    "rate_limit",
    env="RATE_LIMIT",
    default=None,
    type=FiniteFloatRange(min=0, min_open=True),
    help="Schedule requests per second before 429 answers.",
)
@_opt(
    "--rate-limit-shape",
    env="RATE_LIMIT_SHAPE",
    default="429",
    show_default=True,
    type=click.Choice(["429", "28100"]),
    help="How an over-the-limit request is answered: 429 with Retry-After, or 400/28100.",
)
@_opt(
    "--no-target-rate",
    env="NO_TARGET_RATE",
    default=0.0,
    type=FiniteFloatRange(0, 1),
    help="Fraction of valid schedule creates/updates answered 404/28105.",
)
@_opt(
    "--batch-error",
    env="BATCH_ERROR",
    default=None,
    type=click.Choice(["21038", "21043", "23009", "21009", "23008"]),
    help="Global batch error (HTTP 400) answered to batch push calls.",
)
@_opt(
    "--batch-error-rate",
    env="BATCH_ERROR_RATE",
    default=1.0,
    show_default=True,
    type=FiniteFloatRange(0, 1),
    help="With --batch-error: fraction of batch calls answered with it.",
)
@_opt(
    "--batch-qps",
    env="BATCH_QPS",
    default=None,
    type=FiniteFloatRange(min=0, min_open=True),
    help="Batch push targets per second before 23008 results.",
)
@_opt(
    "--churn-per-page",
    env="CHURN_PER_PAGE",
    default=0,
    type=click.IntRange(min=0),
    help="Unmanaged churn_* tasks created/deleted after each list page read.",
)
@_opt(
    "--fire-error-rate",
    env="FIRE_ERROR_RATE",
    default=0.0,
    type=FiniteFloatRange(0, 1),
    help="Fraction of firings recorded as failed (code 1011).",
)
@_opt("--seed", env="SEED", default=0, type=int, help="Seed for every injected fault.")
@_opt(
    "--max-active",
    env="MAX_ACTIVE",
    default=MAX_ACTIVE_TASKS,
    type=click.IntRange(min=1),
    show_default=True,
    help=f"Active task limit (the vendor's is {MAX_ACTIVE_TASKS}).",
)
@click.pass_context
def serve(ctx: click.Context, /, **kw: Any) -> int:
    """Serve the emulator until interrupted (Ctrl-C); the control plane is under /_emulator/."""
    from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults
    from reconciler.emulator.serve import base_url, bind_socket, build_server

    glob = global_options(ctx)
    app_key = kw["app_key"] or DEMO_APP_KEY
    if len(app_key) != 24:
        raise UsageError(
            f"--app-key must be 24 characters long (got {len(app_key)})",
            hint="leave it out to use the documented demo pair",
        )
    faults = Faults(
        latency_ms=kw["latency_ms"],
        jitter_ms=kw["jitter_ms"],
        error_rate=kw["error_rate"],
        commit_then_timeout_rate=kw["commit_then_timeout_rate"],
        hang_seconds=kw["hang_seconds"],
        rate_limit=kw["rate_limit"],
        rate_limit_shape=kw["rate_limit_shape"],
        no_target_rate=kw["no_target_rate"],
        batch_error=int(kw["batch_error"]) if kw["batch_error"] else None,
        batch_error_rate=kw["batch_error_rate"],
        batch_qps=kw["batch_qps"],
        churn_per_page=kw["churn_per_page"],
        fire_error_rate=kw["fire_error_rate"],
        seed=kw["seed"],
    )
    timezone = kw["timezone"] or glob.timezone or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown time zone {timezone!r}", hint="use an IANA name such as Europe/Berlin"
        ) from exc
    try:
        em = Emulator(
            app_key=app_key,
            master_secret=kw["master_secret"] or DEMO_MASTER_SECRET,
            timezone=timezone,
            data_path=kw["data_path"],
            faults=faults,
            max_active=kw["max_active"],
            seed=kw["seed"],
        )
    except ValueError as exc:
        raise ConfigError(
            f"cannot load the emulator data: {exc}",
            hint="fix or delete the file given with --data",
        ) from exc
    if glob.now is not None:
        em.set_time(glob.now)
    try:
        sock = bind_socket(kw["host"], kw["port"])
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {kw['host']}:{kw['port']}: {exc.strerror}",
            hint="choose another --port (0 picks a free one)",
        ) from exc
    credentials = "demo pair" if kw["app_key"] is None and kw["master_secret"] is None else "custom"
    click.echo(f"EngageLab emulator listening on {base_url(sock)}")
    click.echo(
        f"  credentials: {credentials}; time zone: {em.tz.key}; "
        f"data: {kw['data_path'] or 'in memory'}; control plane: /_emulator/"
    )
    # uvicorn's own start/stop lines only with --debug: the lines above say what matters.
    server = build_server(em, sock, log_level="info" if glob.debug else "warning")
    # A server runs until stopped: its garbage must be collected (reconciler.heap).
    heap.settle()
    try:
        with _clean_stop_on_signals():
            if stopping.requested():
                # Ctrl-C or SIGTERM while it was starting, before the handlers above: start
                # and stop at once, rather than serve on with the signal lost.
                server.should_exit = True
            server.run(sockets=[sock])
    finally:
        sock.close()
        em.save()
    stopping.consumed()  # being stopped is how a server ends: exit 0, not 130 or 143
    click.echo(
        "emulator stopped" + (f"; data saved to {kw['data_path']}" if kw["data_path"] else "")
    )
    return 0
