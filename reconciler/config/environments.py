"""Environments: which manifests, state file, endpoint, time zone and limits a command works on.

They come from an optional ``reconciler.yaml`` at the repository root::

    default: staging            # optional; else the only environment is the default
    environments:
      staging:
        manifests: schedules            # default: schedules
        state: .reconciler/staging/state.json
        data_center: sgp                # or endpoint: https://...; not both
        timezone: Asia/Shanghai         # IANA name, default UTC
        app_key_env: STAGING_APP_KEY    # default ENGAGELAB_APP_KEY
        master_secret_env: STAGING_SECRET   # default ENGAGELAB_MASTER_SECRET
        max_deletes: 5                  # default: no absolute limit
        fire_guard_minutes: 5           # default 5
        mass_delete_ratio: 0.3          # default 0.3
        max_active: 1000                # default 1000 (docs/api.md 2.4); only if raised for the app
        ignore:                         # remote tasks another team or tool owns
          names: ["adhoc_*"]            # shell-style name patterns
          ids: ["0b8f1c2e-..."]         # exact schedule ids
        policies:                       # push policies (reconciler/config/policies.py)
          quiet_hours: {from: "22:00", to: "08:00", level: error}
        overlay: overlays/staging       # patches by schedule name (docs/layers.md)

Without the file there is one environment, ``default``, with every default. Relative paths
resolve against the directory of the file. Every problem is reported with file and line, all at
once.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from reconciler import files, redact
from reconciler.config.connection import DATA_CENTERS, plain_http_problem
from reconciler.config.ignore import NO_RULES, IgnoreRules, parse_rules
from reconciler.config.policies.parsing import parse_policies
from reconciler.config.policies.rules import NO_POLICIES, Policies
from reconciler.errors import ConfigError
from reconciler.limits import (
    DEFAULT_FIRE_GUARD_MINUTES,
    DEFAULT_MASS_DELETE_RATIO,
    MAX_ACTIVE_TASKS,
    MAX_FIRE_GUARD_MINUTES,
)
from reconciler.manifests import yamlread
from reconciler.manifests.yamlread import flow_too_deep  # the manifests' guard

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

DEFAULT_ENV = "default"
DEFAULT_MANIFESTS = "schedules"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_APP_KEY_ENV = "ENGAGELAB_APP_KEY"
DEFAULT_MASTER_SECRET_ENV = "ENGAGELAB_MASTER_SECRET"  # noqa: S105 - a variable name, not a secret
MAX_CONFIG_BYTES = files.MAX_CONFIG_BYTES
DATA_CENTER_NAMES = tuple(DATA_CENTERS)

TOP_KEYS = ("environments", "default")
ENV_KEYS = (
    "manifests",
    "state",
    "data_center",
    "endpoint",
    "timezone",
    "app_key_env",
    "master_secret_env",
    "max_deletes",
    "fire_guard_minutes",
    "mass_delete_ratio",
    "max_active",
    "ignore",
    "policies",
    "overlay",
)
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables a CI runner sets itself (GitHub's job token, the runner's own tokens, action inputs)
# or that configure this tool. A credential name among them would send that value to the API
# as the AppKey or Master Secret, so *_env may not name them (docs/github.md, "Threat model").
RESERVED_VAR_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_", "RECONCILER_", "CI_")
RESERVED_VARS = frozenset({"PATH", "HOME", "CI", "GH_TOKEN", "GITHUB_TOKEN"})


def default_state_path(name: str) -> Path:
    """Where an environment keeps its state when ``state:`` is not given.

    Depends on the name only: adding a second environment later must never move the first
    one's state file (a lost state file means duplicate pushes).
    """
    if name == DEFAULT_ENV:
        return Path(".reconciler") / "state.json"
    return Path(".reconciler") / name / "state.json"


@dataclass(frozen=True)
class Environment:
    """The resolved settings of one environment (paths absolute or relative to the cwd)."""

    name: str
    manifests: Path
    state: Path
    data_center: str | None = None  # None: the command-line flag or the client default
    endpoint: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    app_key_env: str = DEFAULT_APP_KEY_ENV
    master_secret_env: str = DEFAULT_MASTER_SECRET_ENV
    max_deletes: int | None = None  # None: only the ratio rule applies
    fire_guard_minutes: float = float(DEFAULT_FIRE_GUARD_MINUTES)
    mass_delete_ratio: float = DEFAULT_MASS_DELETE_RATIO
    # The app's active-task limit: only an app whose limit EngageLab raised, or an emulator
    # served with --max-active (the benchmarks' 5000 schedules), needs another value.
    max_active: int = MAX_ACTIVE_TASKS
    ignore: IgnoreRules = NO_RULES  # remote tasks left out of plans and drift
    policies: Policies = NO_POLICIES  # checked by validate, plan and apply
    source: Path | None = None  # the reconciler.yaml it was read from, if any
    overlay: Path | None = None  # directory of patches over the manifests (docs/layers.md)

    @property
    def tz(self) -> ZoneInfo:
        """``timezone`` as a ``ZoneInfo`` (validated when loaded)."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class EnvironmentSet:
    """Every environment of one config file, and which one is the default."""

    environments: tuple[Environment, ...]
    default: str | None
    path: Path
    from_file: bool

    @property
    def names(self) -> list[str]:
        return [env.name for env in self.environments]

    def select(self, name: str | None) -> Environment:
        """The environment ``name``; for ``None`` the default one, or the only one."""
        by_name = {env.name: env for env in self.environments}
        if name is None:
            if self.default is not None:
                return by_name[self.default]
            if len(self.environments) == 1:
                return self.environments[0]
            raise ConfigError(
                f"{self.path} defines {len(self.environments)} environments "
                f"({', '.join(self.names)}) and no `default:`",
                hint="choose one with --env NAME (or RECONCILER_ENV), or add `default: NAME` "
                f"to {self.path}",
            )
        if name in by_name:
            return by_name[name]
        if not self.from_file:
            raise ConfigError(
                f"no environment named {name!r}: there is no {self.path}, so the only "
                f"environment is {DEFAULT_ENV!r}",
                hint=f"drop --env, or create {self.path} with an `environments:` map",
            )
        raise ConfigError(
            f"no environment named {name!r} in {self.path}{_did_you_mean(name, self.names)}; "
            f"known: {', '.join(self.names)}",
            hint="pass one of the known names to --env",
        )


def load_environments(path: Path, *, required: bool = False) -> EnvironmentSet:
    """Read ``path``; without the file (unless ``required``), one ``default`` environment."""
    path = Path(path)
    base = path.parent
    try:
        # A regular file only, and at most MAX_CONFIG_BYTES of it: a FIFO would block the
        # command forever, /dev/zero would fill the memory.
        raw = files.read_regular(path, limit=MAX_CONFIG_BYTES)
        # Newlines as read_text gave them (universal newlines), for the same line numbers.
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                f"the config file {path} does not exist",
                hint="check --config / RECONCILER_CONFIG, or drop it to use the defaults",
            ) from None
        return EnvironmentSet((_build(DEFAULT_ENV, {}, base, None),), None, path, False)
    except files.UnusableFileError as exc:
        raise ConfigError(
            f"cannot read the config file {path}: {files.reason(exc)}",
            hint="check --config / RECONCILER_CONFIG: it must name a readable UTF-8 YAML file "
            "that holds a few environments",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the config file {path}: {exc}",
            hint="it must be a readable UTF-8 YAML file",
        ) from exc
    return _parse(text, path)


def environment_for(
    config_path: str | Path, name: str | None, *, required: bool = False
) -> Environment:
    """Shortcut for commands: load ``config_path`` and select ``name`` (``--env``)."""
    env = load_environments(Path(config_path), required=required).select(name)
    # The variables this environment reads its credentials from: their values are hidden in
    # every message from here on.
    redact.watch((env.app_key_env, env.master_secret_env))
    return env


# --------------------------------------------------------------------------- parsing


class _Problems:
    """Every problem in the file, collected before failing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [f"{self.path}:{line}: {message}" for line, message in sorted(self.items)]
        if len(lines) == 1:
            text = lines[0]
        else:
            text = f"{len(lines)} problems in {self.path}:\n" + "\n".join(
                f"  {line}" for line in lines
            )
        raise ConfigError(text, hint=f"fix {self.path} at the lines above")


def _parse(text: str, path: Path) -> EnvironmentSet:
    # Imported here: without a reconciler.yaml (the usual case) no command pays for ruamel.yaml.
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        if flow_too_deep(text) is not None:  # ruamel's scanner is quadratic in that depth
            raise _unreadable(text, path)
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            f"{path}:{line}: {reason}", hint=f"fix the YAML syntax of {path} at that line"
        ) from None
    except (YAMLError, RecursionError, ValueError, KeyError, TypeError):
        # A control character (ReaderError), nesting past the recursion limit, or a value that
        # does not fit its !!tag (ruamel's constructors raise bare errors): located by the
        # manifest loader, which turns each of these into a problem with a line.
        raise _unreadable(text, path) from None
    problems = _Problems(path)
    base = path.parent
    if data is None:  # an empty file (or only comments): the defaults
        return EnvironmentSet((_build(DEFAULT_ENV, {}, base, path),), None, path, True)
    if not isinstance(data, CommentedMap):
        problems.add(1, "the file must be a mapping with an `environments:` key")
        problems.raise_if_any()
    _unknown_keys(data, TOP_KEYS, "at the top level", problems)

    envs: list[Environment] = []
    raw_envs = data.get("environments")
    if "environments" not in data:
        problems.add(_line(data), "`environments:` is missing")
    elif not isinstance(raw_envs, CommentedMap) or not raw_envs:
        problems.add(
            _value_line(data, "environments"), "`environments:` must map names to settings"
        )
    else:
        for name, settings in raw_envs.items():
            line = _key_line(raw_envs, name)
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                problems.add(
                    line,
                    f"environment name {name!r} must be letters, digits, '-' and '_' "
                    "(it becomes part of a path)",
                )
                continue
            if settings is None:
                settings = CommentedMap()
            if not isinstance(settings, CommentedMap):
                problems.add(line, f"environment {name!r} must be a mapping of settings")
                continue
            env = _environment(name, settings, base, path, problems)
            if env is not None:
                envs.append(env)

    default = data.get("default")
    if "default" in data:
        names = [str(n) for n in raw_envs] if isinstance(raw_envs, CommentedMap) else []
        if not isinstance(default, str) or default not in names:
            problems.add(
                _value_line(data, "default"),
                f"`default: {default}` names no environment{_did_you_mean(str(default), names)}"
                + (f"; known: {', '.join(names)}" if names else ""),
            )
    _shared_state_files(envs, raw_envs, problems)
    problems.raise_if_any()
    return EnvironmentSet(tuple(envs), default if isinstance(default, str) else None, path, True)


def _unreadable(text: str, path: Path) -> ConfigError:
    """The error for YAML that ruamel.yaml cannot load, at the line the manifest reader names."""
    problems = [p for p in yamlread.load_all(text)[1] if p.severity == "error"]
    first = problems[0] if problems else None
    where = f"{path}:{first.line}" if first is not None and first.line else str(path)
    reason = first.message if first is not None else "invalid YAML"
    return ConfigError(f"{where}: {reason}", hint=f"fix the YAML syntax of {path} at that line")


def _environment(
    name: str, settings: CommentedMap, base: Path, path: Path, problems: _Problems
) -> Environment | None:
    before = len(problems.items)
    _unknown_keys(settings, ENV_KEYS, f"in environment {name!r}", problems)
    values: dict[str, Any] = {}
    for key in ENV_KEYS:
        if key not in settings:
            continue
        value = settings[key]
        line = _value_line(settings, key)
        if key == "policies":  # nested rules: each problem at its own line
            parsed = parse_policies(value, _key_line(settings, key))
            if isinstance(parsed, Policies):
                values[key] = parsed
            for at, message in parsed if isinstance(parsed, list) else ():
                problems.add(at, f"{name}.{message}")
            continue
        checked = _check_value(key, value)
        if isinstance(checked, _Bad):
            problems.add(line, f"{name}.{key}: {checked.reason}")
        else:
            values[key] = checked
    for key in ("manifests", "overlay"):
        if key in values and _holds(base / Path(values[key]).expanduser(), base):
            # `manifests: /` (or `..`, `~`, `.`) read every YAML file of the disk or the
            # repository (.github, other projects, secrets) and printed their contents as errors.
            problems.add(
                _value_line(settings, key),
                f"{name}.{key}: {values[key]!r} holds the directory of this file, so every YAML "
                "file below it would be read; name a directory of its own (e.g. "
                f"{'schedules' if key == 'manifests' else 'overlays/' + name})",
            )
    if "data_center" in values and "endpoint" in values:
        problems.add(
            _key_line(settings, "endpoint"),
            f"{name}: give either `data_center` or `endpoint`, not both",
        )
    if len(problems.items) > before:
        return None
    return _build(name, values, base, path)


def _holds(directory: Path, config_dir: Path) -> bool:
    """True when ``directory`` (links resolved) is the config file's directory or above it."""
    return Path(os.path.realpath(config_dir)).is_relative_to(os.path.realpath(directory))


def _build(name: str, values: dict[str, Any], base: Path, source: Path | None) -> Environment:
    def resolve(value: str) -> Path:
        # Relative to the config file, so the same file works from any working directory.
        return base / Path(value).expanduser()

    return Environment(
        name=name,
        manifests=resolve(values.get("manifests", DEFAULT_MANIFESTS)),
        state=resolve(values["state"]) if "state" in values else base / default_state_path(name),
        data_center=values.get("data_center"),
        endpoint=values.get("endpoint"),
        timezone=values.get("timezone", DEFAULT_TIMEZONE),
        app_key_env=values.get("app_key_env", DEFAULT_APP_KEY_ENV),
        master_secret_env=values.get("master_secret_env", DEFAULT_MASTER_SECRET_ENV),
        max_deletes=values.get("max_deletes"),
        fire_guard_minutes=values.get("fire_guard_minutes", float(DEFAULT_FIRE_GUARD_MINUTES)),
        mass_delete_ratio=values.get("mass_delete_ratio", DEFAULT_MASS_DELETE_RATIO),
        max_active=values.get("max_active", MAX_ACTIVE_TASKS),
        ignore=values.get("ignore", NO_RULES),
        policies=values.get("policies", NO_POLICIES),
        source=source,
        overlay=resolve(values["overlay"]) if "overlay" in values else None,
    )


@dataclass(frozen=True)
class _Bad:
    reason: str


def _check_value(key: str, value: Any) -> Any:
    """The validated Python value of one setting, or ``_Bad`` with the reason."""
    if key in ("manifests", "state", "overlay"):
        if not isinstance(value, str) or not value.strip():
            return _Bad("must be a path (a non-empty string)")
        return value
    if key == "data_center":
        text = str(value).lower() if isinstance(value, str) else None
        if text not in DATA_CENTER_NAMES:
            return _Bad(
                f"unknown data centre {value!r}{_did_you_mean(str(value), DATA_CENTER_NAMES)}; "
                f"one of {', '.join(DATA_CENTER_NAMES)}"
            )
        return text
    if key == "endpoint":
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is not None and (parts.username is not None or parts.password is not None):
            # Not repeated: what sits there looks like an AppKey and Master Secret.
            return _Bad(
                "the URL contains a user name or password; set the credentials in the "
                "variables named by app_key_env / master_secret_env instead"
            )
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return _Bad(f"{value!r} is not an http(s) URL (e.g. https://pushapi-sgp.engagelab.com)")
        problem = plain_http_problem(value)
        if problem:
            return _Bad(f"{problem}; use https:// (http:// only for an emulator on 127.0.0.1)")
        return str(value).rstrip("/")
    if key == "timezone":
        return _check_timezone(value)
    if key in ("app_key_env", "master_secret_env"):
        if not isinstance(value, str) or not _VAR_NAME.match(value):
            return _Bad(f"{value!r} is not an environment variable name (e.g. PROD_APP_KEY)")
        upper = value.upper()
        if upper in RESERVED_VARS or upper.startswith(RESERVED_VAR_PREFIXES):
            return _Bad(
                f"{value!r} is a variable of the CI runner or of this tool, not a credential; "
                "use a name such as PROD_APP_KEY (not GITHUB_*, RUNNER_*, ACTIONS_*, INPUT_*, "
                "RECONCILER_*)"
            )
        return str(value)
    if key == "max_deletes":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return _Bad(f"{value!r} must be a whole number ≥ 0")
        return int(value)
    if key == "fire_guard_minutes":
        # Whole minutes, as the guard compares them: 0.9 used to become 0, the guard off.
        if (
            not _is_number(value)
            or not 0 <= float(value) <= MAX_FIRE_GUARD_MINUTES
            or float(value) != int(value)
        ):
            return _Bad(
                f"{value!r} must be a number of minutes: a whole number from 0 to "
                f"{MAX_FIRE_GUARD_MINUTES} (a week); fractions are not supported"
            )
        return float(value)
    if key == "mass_delete_ratio":
        if not _is_number(value) or not 0 < float(value) <= 1:
            return _Bad(f"{value!r} must be a fraction above 0 and at most 1 (e.g. 0.3)")
        return float(value)
    if key == "max_active":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return _Bad(f"{value!r} must be a whole number ≥ 1")
        return int(value)
    if key == "ignore":
        rules = parse_rules(value)
        return _Bad(rules) if isinstance(rules, str) else rules
    raise AssertionError(key)  # pragma: no cover - ENV_KEYS and this function go together


def _check_timezone(value: Any) -> str | _Bad:
    if not isinstance(value, str) or not value:
        return _Bad(f"{value!r} must be an IANA time zone name (e.g. Europe/Berlin)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        known = available_timezones()
        by_lower = {name.lower(): name for name in known}
        guess = by_lower.get(value.lower())
        hint = f" (did you mean {guess!r}?)" if guess else _did_you_mean(value, sorted(known))
        return _Bad(f"unknown time zone {value!r}{hint}; use an IANA name such as Asia/Shanghai")
    return str(value)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _unknown_keys(
    mapping: CommentedMap, known: Sequence[str], where: str, problems: _Problems
) -> None:
    for key in mapping:
        if key not in known:
            problems.add(
                _key_line(mapping, key),
                f"unknown key {key!r} {where}{_did_you_mean(str(key), known)}",
            )


def _shared_state_files(envs: Sequence[Environment], raw_envs: Any, problems: _Problems) -> None:
    """Two environments on one state file would overwrite each other's mapping."""
    seen: dict[str, str] = {}
    for env in envs:
        key = os.path.normpath(os.path.abspath(env.state))
        if key in seen:
            problems.add(
                _key_line(raw_envs, env.name),
                f"environments {seen[key]!r} and {env.name!r} use the same state file "
                f"{env.state}; give each its own `state:`",
            )
        else:
            seen[key] = env.name


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line(mapping: Any) -> int:
    try:
        return int(mapping.lc.line) + 1
    except AttributeError:  # pragma: no cover - ruamel round-trip maps always carry lc
        return 1


def _key_line(mapping: Any, key: Any) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return _line(mapping)


def _value_line(mapping: Any, key: Any) -> int:
    try:
        return int(mapping.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return _key_line(mapping, key)
