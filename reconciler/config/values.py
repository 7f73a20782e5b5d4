"""One value of ``reconciler.yaml``, checked: is it acceptable for its setting, and what it becomes.

One job: the check of a key's value, chosen by the kind of its setting in the settings table
(``reconciler/settings.py``), which gives the range and the choices too. A bad value is a
``Bad`` with the reason; the loader (``environments.py``) adds the file, the line and the
environment. Also the "did you mean" that every message about a misspelt word uses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from reconciler.config.connection import has_credentials, plain_http_problem, url_problem
from reconciler.config.ignore import parse_rules
from reconciler.printable import has_control, is_utf8
from reconciler.settings import Kind, Setting, shown

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables a CI runner sets itself (GitHub's job token, the runner's own tokens, action inputs)
# or that configure this tool. A credential name among them would send that value to the API
# as the AppKey or Master Secret, so *_env may not name them (docs/github.md, "Threat model").
RESERVED_VAR_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_", "RECONCILER_", "CI_")
RESERVED_VARS = frozenset({"PATH", "HOME", "CI", "GH_TOKEN", "GITHUB_TOKEN"})


@dataclass(frozen=True)
class Bad:
    """Why a value is not acceptable (without the key or where it stands)."""

    reason: str


def check_value(setting: Setting[Any], value: Any) -> Any:
    """The validated Python value of ``setting``'s key, or ``Bad`` with the reason."""
    match setting.kind:
        case Kind.PATH:
            if not isinstance(value, str) or not value.strip():
                return Bad("must be a path (a non-empty string)")
            if not is_utf8(value):
                # "\ud800" (half a character) no file name can hold: os.path raised on it.
                return Bad(
                    f"{value!r} holds half a character (a lone \\u escape); no file name can"
                )
            if has_control(value):
                # A NUL no file name can hold (os.path raised on it, a traceback); a line break
                # or an escape would be printed in messages and CI logs, and the manifests'
                # search reads no file or directory named so.
                return Bad(f"{value!r} holds a control character; such paths are not read")
            return value
        case Kind.CHOICE:
            text = str(value).lower() if isinstance(value, str) else None
            if text not in setting.choices:
                return Bad(
                    f"unknown data centre {value!r}{did_you_mean(str(value), setting.choices)}; "
                    f"one of {', '.join(setting.choices)}"
                )
            return text
        case Kind.URL:
            return _check_url(value)
        case Kind.ZONE:
            return _check_timezone(value)
        case Kind.VARIABLE:
            return _check_variable(value)
        case Kind.WHOLE:
            low = setting.minimum if setting.minimum is not None else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                return Bad(f"{value!r} must be a whole number ≥ {shown(low)}")
            return int(value)
        case Kind.MINUTES:
            # Whole minutes, as the guard compares them: 0.9 used to become 0, the guard off.
            low = setting.minimum if setting.minimum is not None else 0
            high = setting.maximum if setting.maximum is not None else math.inf
            number = float(value) if _is_number(value) else math.nan
            if not low <= number <= high or number != int(number):
                return Bad(
                    f"{value!r} must be a number of minutes: a whole number from {shown(low)} "
                    f"to {shown(high)} (a week); fractions are not supported"
                )
            return float(value)
        case Kind.FRACTION:
            if not _is_number(value) or not 0 < float(value) <= 1:
                return Bad(f"{value!r} must be a fraction above 0 and at most 1 (e.g. 0.3)")
            return float(value)
        case Kind.RULES:
            rules = parse_rules(value)
            return Bad(rules) if isinstance(rules, str) else rules
        case Kind.POLICIES | Kind.TEXT | Kind.FILE | Kind.NUMBER | Kind.FLAG | Kind.TIME:
            # Policies are checked rule by rule, each problem at its own line (the loader);
            # the other kinds are flags only.
            raise AssertionError(f"no reconciler.yaml key is checked as a {setting.kind.value}")
        case _:
            assert_never(setting.kind)


def _check_url(value: Any) -> str | Bad:
    if not isinstance(value, str):
        return Bad(f"{value!r} is not an http(s) URL (e.g. https://pushapi-sgp.engagelab.com)")
    if has_credentials(value):
        # Not repeated: what sits there looks like an AppKey and Master Secret.
        return Bad(
            "the URL contains a user name or password; set the credentials in the "
            "variables named by app_key_env / master_secret_env instead"
        )
    problem = url_problem(value)
    if problem:
        return Bad(
            f"{value!r} is not a valid http(s) URL: {problem} "
            "(e.g. https://pushapi-sgp.engagelab.com)"
        )
    problem = plain_http_problem(value)
    if problem:
        return Bad(f"{problem}; use https:// (http:// only for an emulator on 127.0.0.1)")
    return str(value).rstrip("/")


def _check_variable(value: Any) -> str | Bad:
    if not isinstance(value, str) or not _VAR_NAME.match(value):
        return Bad(f"{value!r} is not an environment variable name (e.g. PROD_APP_KEY)")
    upper = value.upper()
    if upper in RESERVED_VARS or upper.startswith(RESERVED_VAR_PREFIXES):
        return Bad(
            f"{value!r} is a variable of the CI runner or of this tool, not a credential; "
            "use a name such as PROD_APP_KEY (not GITHUB_*, RUNNER_*, ACTIONS_*, INPUT_*, "
            "RECONCILER_*)"
        )
    return str(value)


def _check_timezone(value: Any) -> str | Bad:
    if not isinstance(value, str) or not value:
        return Bad(f"{value!r} must be an IANA time zone name (e.g. Europe/Berlin)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        known = available_timezones()
        by_lower = {name.lower(): name for name in known}
        guess = by_lower.get(value.lower())
        hint = f" (did you mean {guess!r}?)" if guess else did_you_mean(value, sorted(known))
        return Bad(f"unknown time zone {value!r}{hint}; use an IANA name such as Asia/Shanghai")
    return str(value)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
