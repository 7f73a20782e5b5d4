"""The ``reconciler`` command: parse, call, render; the only place errors become exit codes.

Subcommands live in ``reconciler/commands/`` and are imported only when invoked, so that
``reconciler validate`` does not pay for httpx, starlette or uvicorn at start-up.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import sys
from contextlib import suppress
from datetime import datetime
from types import TracebackType
from typing import Any

import click

from reconciler import __version__, heap, stopping
from reconciler.commands import remember_choice, suggest
from reconciler.commands.flags import setting_options
from reconciler.errors import ReconcilerError
from reconciler.limits import MAX_YEAR, MIN_YEAR
from reconciler.options import GlobalOptions
from reconciler.settings import GLOBAL_OPTIONS

# Errors of a write to stdout or stderr that reach ``main``: every other write (state, plan
# file, report) is turned into a message where it happens.
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT})

# name -> "module:attribute"; the module is imported on first use.
COMMANDS: dict[str, str] = {
    "validate": "reconciler.commands.validate:validate",
    "schema": "reconciler.commands.validate:schema",
    "emulator": "reconciler.commands.emulator:emulator",
    "plan": "reconciler.commands.plan:plan",
    "apply": "reconciler.commands.plan:apply",
    "drift": "reconciler.commands.plan:drift",
    "import": "reconciler.commands.importing:import_",
    "state": "reconciler.commands.state:state",
    "test-send": "reconciler.commands.send:test_send",
    "history": "reconciler.commands.send:history",
    "remote": "reconciler.commands.remote:remote",
    "export": "reconciler.commands.remote:export",
    "calendar": "reconciler.commands.calendar:calendar",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # listed but not built yet
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run, turning expected failures into a message and an exit code.

        Exit codes: 0 success / no changes, 2 changes present (plan, drift), 1 any error,
        including click's usage errors (click's own 2 would read as "changes").

        Everything written to stdout and stderr meanwhile has the configured credentials
        redacted (``redact.scrubbed_output``): a task name, an alert or a file name can hold
        one as well as an error message can.
        """
        from reconciler.redact import scrubbed_output

        with scrubbed_output():
            return self._main(args, prog_name, complete_var, standalone_mode, **extra)

    def _main(
        self,
        args: list[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        standalone_mode: bool,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except ReconcilerError as exc:
            click.echo(format_error(exc), err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:
            stopping.ending()
            said, code = stopping.stopped()
            if isinstance(exc.__cause__, KeyboardInterrupt) or stopping.requested():
                # click turns a Ctrl-C anywhere but at a prompt into Abort, from it: an
                # interrupted command, not a declined one ("aborted" at the prompt). A SIGTERM
                # is never a decline, at the prompt or not.
                click.echo(said, err=True)
                sys.exit(code)
            click.echo("aborted", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            _show_click_error(exc)
            sys.exit(1)
        except KeyboardInterrupt:
            stopping.ending()
            said, code = stopping.stopped()
            click.echo(said, err=True)
            sys.exit(code)
        except OSError as exc:
            if exc.errno not in _OUTPUT_ERRNOS:
                raise
            _output_failed(exc)
        try:
            sys.stdout.flush()  # now, so that a failure is reported as one
        except OSError as exc:
            _output_failed(exc)
        sys.exit(rv if isinstance(rv, int) else 0)


def _show_click_error(exc: click.ClickException) -> None:
    """click's usage errors in the tool's one style: ``error: ...`` (and ``hint: ...``).

    click quotes the offending value; a credential given by mistake stays hidden (``redact``).
    """
    from reconciler.redact import redact

    lines: list[str] = []
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        lines += [exc.ctx.get_usage(), f"Try '{exc.ctx.command_path} --help' for help."]
    lines.append(f"error: {exc.format_message()}")
    hint = _misplaced_global_option(exc)
    if hint:
        lines.append(f"hint: {hint}")
    click.echo(redact("\n".join(lines)), err=True)


def _misplaced_global_option(exc: click.ClickException) -> str | None:
    """A hint when an option of ``reconciler`` itself came after the command (``plan --env``)."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None or exc.ctx.parent is None:
        return None
    name = exc.option_name
    for param in cli.params:
        if isinstance(param, click.Option) and name in param.opts:
            value = "" if param.is_flag else f" {(param.metavar or param.name or 'VALUE').upper()}"
            return (
                f"{name} is an option of `reconciler` itself: give it before the command, "
                f"e.g. `reconciler {name}{value} {exc.ctx.command_path.split(' ', 1)[-1]} ...`"
            )
    return None


def _parse_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date-time (e.g. 2027-01-01T09:00:00+00:00)"
        ) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone offset, e.g. 2027-01-01T09:00:00+00:00")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise click.BadParameter(f"give a year from {MIN_YEAR} to {MAX_YEAR}, not {parsed.year}")
    return parsed


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@setting_options(GLOBAL_OPTIONS, now={"callback": _parse_now})
@click.pass_context
def cli(ctx: click.Context, /, **kwargs: Any) -> None:
    """Schedule-as-code for EngageLab Push: validate, plan and apply scheduled pushes."""
    ctx.obj = GlobalOptions(**kwargs)
    remember_choice(_choosing_words(ctx.obj))
    if kwargs["debug"]:
        logging.basicConfig(
            level=logging.DEBUG, stream=sys.stderr, format="debug: %(name)s: %(message)s"
        )
        # httpcore's DEBUG trace prints raw response headers, and a proxy that echoes the
        # Authorization header it received would put the credentials there. httpx's own line
        # per request repeats the client's, which has the timing and the attempt: one line each.
        logging.getLogger("httpcore").setLevel(logging.INFO)
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _choosing_words(options: GlobalOptions) -> list[str]:
    """The options that chose the app and environment, as they would be typed again."""
    words: list[str] = []
    if options.config_named:
        words += ["--config", options.config_path]
    if options.env:
        words += ["--env", options.env]
    if options.endpoint:
        words += ["--endpoint", options.endpoint]
    if options.data_center:
        words += ["--data-center", options.data_center]
    if options.emulator:
        words.append("--emulator")
    return words


def format_error(exc: ReconcilerError) -> str:
    """The text a user sees for an expected failure: what, where, and what to do.

    Any configured credential in it is replaced (``redact``): messages quote files and
    answers, and whatever they quote, the AppKey and Master Secret are never printed.
    """
    from reconciler.redact import redact

    text = f"error: {exc.message}"
    if exc.hint:
        text += f"\nhint: {exc.hint}"
    return redact(suggest(text))


def _output_failed(exc: OSError) -> None:
    """Report a failed write to stdout (a full disk, a closed pipe) and exit 1, no traceback.

    Standard output is pointed at /dev/null first: the interpreter flushes it once more at
    exit, and that second failure would print its own traceback-like complaint.
    """
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if exc.errno != errno.EPIPE:  # a reader that went away (`| head`) is not worth a word
        with suppress(OSError):
            click.echo(
                f"error: cannot write the output: {exc.strerror or exc}\n"
                "hint: check the free space and permissions of where the output goes",
                err=True,
            )
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    # One command is a short process whose objects mostly live to its end (reconciler.heap).
    heap.defer()
    # pydantic looks for plugins (entry points of every installed distribution) when the first
    # model class is built: 12-30 ms of every command's start-up, for plugins the command line
    # never uses. A user's own setting of the variable is left as it is.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.excepthook = _redacted_traceback
    _missing_streams_to_nowhere()
    try:
        stopping.stop_gently()  # inside: a Ctrl-C before its handler is Python's, and ends here
        cli.main(args=argv, prog_name="reconciler")
    except SystemExit as exc:
        # Every way out of ``_main`` is sys.exit with an int (an unexpected exception takes
        # the ordinary exit, through the redacting excepthook).
        code = exc.code
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM before click's own handling began or after it ended.
        stopping.ending()
        said, code = stopping.stopped()
        with suppress(OSError, ValueError):
            sys.stderr.write(said + "\n")
    else:
        code = 0
    stopping.ending()
    if code is not None and not isinstance(code, int):
        click.echo(str(code), err=True)  # what Python does with sys.exit("message")
        code = 1
    said, stopped_code = stopping.stopped()
    if stopping.requested() and code != stopped_code:
        # A Ctrl-C or SIGTERM that came when no safe point was left to stop at
        # (reconciler.stopping): the command ran to its end, and still says it was stopped.
        with suppress(OSError, ValueError):
            sys.stderr.write(said + "\n")
        code = stopped_code
    heap.leave(code or 0)


def _missing_streams_to_nowhere() -> None:
    """A process started without standard input, output or error (``<&-``, ``>&-``, ``2>&-``)
    has None there: it now reads nothing and writes nowhere, as with ``/dev/null``, instead of
    a traceback on first use and a wrong exit code.

    In descriptor order: a new file takes the lowest free descriptor, so each null device
    lands on its stream's own (0, 1, 2). Left free, a descriptor would go to the next file the
    command opens (the state file), and whatever is written to it would land there.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            mode = "r" if fd == 0 else "w"
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - to the end


def _redacted_traceback(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Print an unexpected error's traceback as Python would, with the credentials redacted.

    It is printed after the command's scrubbed streams are gone, and the values in a message
    (a name, a body) can be a credential like anything else the command prints.
    """
    stopping.ending()  # a Ctrl-C must not cut the redaction short (Python's hook is raw)
    import traceback

    from reconciler.printable import escaped, never_raw
    from reconciler.redact import output_scrubber

    # Written after the command's streams (which make such text harmless) are gone, so made
    # harmless here: a message can quote what a file, a server or a pull request wrote. A
    # frame's lines (a path and a line of the tool's source) keep their line breaks; any
    # other part (an exception's message) is one line, its own line breaks spelled out.
    shown = "".join(
        "".join(f"{never_raw(escaped(line))}\n" for line in chunk.rstrip("\n").split("\n"))
        if chunk.startswith('  File "')
        else f"{never_raw(escaped(chunk.removesuffix(chr(10))))}\n"
        for chunk in traceback.format_exception(kind, exc, tb)
    )
    with suppress(OSError, ValueError):
        sys.stderr.write(output_scrubber()(shown))
        sys.stderr.flush()
