"""Click commands, one module each; ``cli.py`` loads them lazily by name.

Shared here: the ``option`` decorator that gives every option its ``RECONCILER_<OPTION>``
environment variable, and ``GlobalOptions``, the settings of the top-level command that every
subcommand receives.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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


@dataclass(frozen=True)
class GlobalOptions:
    """Settings of the top-level command, shared by every subcommand."""

    env: str | None = None
    config_path: str = "reconciler.yaml"
    endpoint: str | None = None
    data_center: str | None = None
    rate_limit: float | None = None
    concurrency: int | None = None
    timeout: float | None = None
    emulator: bool = False
    timezone: str | None = None
    now: datetime | None = None
    debug: bool = False


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, without CPython 3.11 formatting the result into a string.

    On its way out ``asyncio.run`` asks ``signal.getsignal`` about its SIGINT handler, a
    partial bound to the main task; 3.11 builds a ValueError message from the handler's repr,
    which includes the repr of the task's result: for a plan of 1000 schedules 75 ms of the
    command's wall time, growing with the plan. The result is handed over beside the task.
    """
    import asyncio  # here: `validate` and `schema` need no event loop at start-up

    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]


def global_options(ctx: click.Context) -> GlobalOptions:
    """The top-level settings from a subcommand's context."""
    obj = ctx.find_root().obj
    if isinstance(obj, GlobalOptions):
        return obj
    return GlobalOptions()
