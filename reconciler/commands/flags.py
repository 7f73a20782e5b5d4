"""Click options made from the settings table (``reconciler/settings.py``): one job, so that a
flag's type, range, variable, default and help are the table's and written nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.commands import EnvOption, FiniteFloatRange, WholeMinutes
from reconciler.settings import Kind, Setting

F = TypeVar("F", bound=Callable[..., Any])


def _type(setting: Setting[Any]) -> click.ParamType[Any, Any] | None:
    """The click type of a flag's value (None: a plain string)."""
    match setting.kind:
        case Kind.FILE:
            return click.Path(dir_okay=False)
        case Kind.CHOICE:
            return click.Choice(setting.choices, case_sensitive=False)
        case Kind.WHOLE:
            low, high = setting.minimum, setting.maximum
            return click.IntRange(
                min=None if low is None else int(low), max=None if high is None else int(high)
            )
        case Kind.NUMBER:
            return FiniteFloatRange(min=setting.minimum, max=setting.maximum)
        case Kind.MINUTES:
            return WholeMinutes()
        case Kind.TEXT | Kind.URL | Kind.ZONE | Kind.TIME | Kind.FLAG:
            return None
        case Kind.PATH | Kind.VARIABLE | Kind.FRACTION | Kind.RULES | Kind.POLICIES:
            raise AssertionError(f"{setting.name}: no flag takes a {setting.kind.value}")


def setting_option(setting: Setting[Any], **extra: Any) -> Callable[[F], F]:
    """The click option of ``setting`` (``extra``: what the table cannot hold, e.g. a callback).

    An option whose setting is also a reconciler.yaml key, or whose default is resolved by the
    layer that uses it, has no default of its own (None: not given); the table's default is in
    its help. A flag is off unless given.
    """
    attrs: dict[str, Any] = {"help": setting.help_text(), **extra}
    if setting.kind is Kind.FLAG:
        attrs.update(is_flag=True, default=setting.default)
    elif setting.show_default:
        attrs.update(default=setting.default, show_default=True)
    else:
        attrs["default"] = None
    kind = _type(setting)
    if kind is not None:
        attrs["type"] = kind
    variable = setting.variable
    if variable is not None:
        attrs.update(cls=EnvOption, envvar=variable, show_envvar=True)
    return click.option(*setting.flags, setting.name, **attrs)


def setting_options(
    settings: tuple[Setting[Any], ...], **extra: dict[str, Any]
) -> Callable[[F], F]:
    """The options of ``settings``, listed by ``--help`` in the table's order.

    ``extra`` maps a setting's name to what its option needs beyond the table.
    """

    def decorate(fn: F) -> F:
        for setting in reversed(settings):  # the last decorator applied is listed first
            fn = setting_option(setting, **extra.get(setting.name, {}))(fn)
        return fn

    return decorate
