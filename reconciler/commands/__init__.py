"""Click commands, one module each; ``cli.py`` loads them lazily by name.

Shared here: the ``option`` decorator that gives every option its ``RECONCILER_<OPTION>``
environment variable, and ``global_options``, which hands every subcommand the settings of the
top-level command (``reconciler.options.GlobalOptions``).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler.limits import MAX_FIRE_GUARD_MINUTES
from reconciler.options import GlobalOptions

if TYPE_CHECKING:
    from reconciler.ops.feedback import Feedback

F = TypeVar("F", bound=Callable[..., Any])

ENV_PREFIX = "RECONCILER"


class EnvOption(click.Option):
    """An option readable from ``RECONCILER_<OPTION>`` whatever subcommand it belongs to.

    click's ``auto_envvar_prefix`` would name a subcommand's option
    ``RECONCILER_<COMMAND>_<OPTION>``; CI jobs want one flat name per setting.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.envvar is None and self.name:
            # Named after the flag the user types (--format -> RECONCILER_FORMAT), not after the
            # Python parameter it lands in (fmt).
            longs = [o for o in self.opts if o.startswith("--")]
            flag = longs[0][2:] if longs else self.name
            self.envvar = f"{ENV_PREFIX}_{flag.replace('-', '_').upper()}"
            self.show_envvar = True


def option(*param_decls: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` with a ``RECONCILER_<OPTION>`` environment variable."""
    attrs.setdefault("cls", EnvOption)
    return click.option(*param_decls, **attrs)


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` and ``inf``.

    Python's float() reads both, and ``nan`` passes every range check (each comparison is
    false); a timeout of nan or inf then fails deep inside the client with a traceback.
    """

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class WholeMinutes(click.ParamType[int, Any]):
    """A whole number of minutes from 0 to ``MAX_FIRE_GUARD_MINUTES`` (``5`` or ``5.0``).

    The fire guard compares whole minutes; ``0.9`` used to become 0 (the guard off) without a
    word, so a fraction is refused rather than rounded either way.
    """

    name = "minutes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number: float = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of minutes", param, ctx)
        if not math.isfinite(number) or number != int(number):
            self.fail(
                f"{value!r} is not a whole number of minutes (fractions are not supported)",
                param,
                ctx,
            )
        if not 0 <= number <= MAX_FIRE_GUARD_MINUTES:
            self.fail(
                f"{value!r} is not between 0 and {MAX_FIRE_GUARD_MINUTES} minutes (a week)",
                param,
                ctx,
            )
        return int(number)


SHARED_FORMAT_VAR = f"{ENV_PREFIX}_FORMAT"

# A plain literal: with a lookbehind in front, ``re`` tries the pattern at every position of
# the text (10 ms for the 950 kB of a 1000-create plan), without one it skips to each hit.
_SUGGESTED = re.compile(r"`reconciler ")
_HOLDER = "locked by "
# The top-level options that chose the app and environment of this command, as typed words.
_chosen: list[str] = []


def remember_choice(words: Sequence[str]) -> None:
    """Set the options every suggested command repeats (called by the top-level command)."""
    _chosen[:] = [shlex.quote(w) for w in words]


def command(rest: str) -> str:
    """``reconciler <options that chose the environment> rest``: a command to paste."""
    return " ".join(["reconciler", *_chosen, rest])


def suggest(text: str) -> str:
    """``text`` with every suggested command in backticks repeating the options that chose the
    environment: a hint pasted without ``--env prod`` would act on another app."""
    if not _chosen:
        return text
    suggested = f"`{command('')}"

    def repeat(hit: re.Match[str]) -> str:
        # Not the holder of the state lock ("locked by `reconciler apply` (pid ...)"): that
        # names a running command, not one to type.
        return hit.group() if text.endswith(_HOLDER, 0, hit.start()) else suggested

    return _SUGGESTED.sub(repeat, text)


class FormatOption(EnvOption):
    """``--format`` of one command: ``RECONCILER_<COMMAND>_FORMAT``, else the shared
    ``RECONCILER_FORMAT`` when its value is one of this command's formats (ignored otherwise).

    One CI job sets ``RECONCILER_FORMAT=github`` for validate's annotations and runs plan and
    drift too: those have no ``github`` and must not fail on it.
    """

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        own = super().resolve_envvar_value(ctx)
        if own is not None:
            return own
        shared = os.environ.get(SHARED_FORMAT_VAR)
        if shared and isinstance(self.type, click.Choice) and shared in self.type.choices:
            return shared
        return None


def format_option(
    command: str, choices: list[str], help: str, default: str = "text"
) -> Callable[[F], F]:
    """``--format`` for ``command`` (its variable: ``RECONCILER_<COMMAND>_FORMAT``)."""
    var = f"{ENV_PREFIX}_{command.replace('-', '_').replace(' ', '_').upper()}_FORMAT"
    return click.option(
        "--format",
        "fmt",
        cls=FormatOption,
        envvar=var,
        show_envvar=True,
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help=f"{help} Also {SHARED_FORMAT_VAR}, where its value is one of these.",
    )


def global_options(ctx: click.Context) -> GlobalOptions:
    """The top-level settings from a subcommand's context."""
    obj = ctx.find_root().obj
    if isinstance(obj, GlobalOptions):
        return obj
    return GlobalOptions()


def progress_lines() -> Callable[[str], None] | None:
    """Progress lines on stderr, only when a person is watching a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda text: click.echo(f"  {text}", err=True)


def _warning(text: str) -> None:
    click.echo(suggest(f"warning: {text}"), err=True)


def _note(text: str) -> None:
    click.echo(text, err=True)


def feedback(progress: Callable[[str], None] | None = None) -> Feedback:
    """How an operation's warnings and notes reach the person: on stderr, the suggested
    commands repeating the options that chose the environment."""
    from reconciler.ops.feedback import Feedback

    return Feedback(warn=_warning, note=_note, progress=progress)
