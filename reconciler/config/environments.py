"""Environments: which manifests, state file, app, time zone and limits a command works on.

One job: read the optional ``reconciler.yaml`` at the repository root into environments and
choose one. The keys it accepts and the defaults an environment starts from are those of the
settings table (``reconciler/settings.py``; every key and default in docs/settings.md); the check
of each value is ``values.py``.

Without the file there is one environment, ``default``, with every default. Relative paths
resolve against the directory of the file. Every problem is reported with file and line, all at
once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reconciler import files, redact
from reconciler.config.ignore import NO_RULES, IgnoreRules
from reconciler.config.policies.parsing import parse_policies
from reconciler.config.policies.rules import NO_POLICIES, Policies
from reconciler.config.values import Bad, check_value, did_you_mean
from reconciler.errors import ConfigError
from reconciler.manifests import yamlread
from reconciler.manifests.yamlread import flow_too_deep  # the manifests' guard
from reconciler.printable import escaped
from reconciler.settings import (
    APP_KEY_ENV,
    ENDPOINT,
    ENVIRONMENT_KEYS,
    FIRE_GUARD,
    MANIFESTS,
    MASS_DELETE_RATIO,
    MASTER_SECRET_ENV,
    MAX_ACTIVE,
    MAX_DELETES,
    SETTINGS,
    TIMEZONE,
)

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap

DEFAULT_ENV = "default"
MAX_CONFIG_BYTES = files.MAX_CONFIG_BYTES

# The top level holds the environments, and the settings that are no environment's own.
TOP_KEYS = ("environments", *(s.top_key for s in SETTINGS if s.top_key is not None))
ENV_KEYS = tuple(s.key for s in ENVIRONMENT_KEYS if s.key is not None)
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\Z")


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
    # None: the command-line flag or the client's default
    data_center: str | None = None
    endpoint: str | None = ENDPOINT.default
    timezone: str = TIMEZONE.default
    app_key_env: str = APP_KEY_ENV.default
    master_secret_env: str = MASTER_SECRET_ENV.default
    max_deletes: int | None = MAX_DELETES.default
    fire_guard_minutes: float = float(FIRE_GUARD.default)
    mass_delete_ratio: float = MASS_DELETE_RATIO.default
    max_active: int = MAX_ACTIVE.default
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
            f"no environment named {name!r} in {self.path}{did_you_mean(name, self.names)}; "
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
    env = chosen_environment(config_path, name, required=required, optional=False)
    assert env is not None  # not optional: select() raises instead
    return env


def chosen_environment(
    config_path: str | Path, name: str | None, *, required: bool = False, optional: bool = True
) -> Environment | None:
    """As :func:`environment_for`; with ``optional`` and no ``name``, ``None`` where the file
    names no single environment (several, no ``default:``) instead of the error."""
    envs = load_environments(Path(config_path), required=required)
    if optional and name is None and envs.default is None and len(envs.environments) != 1:
        return None
    env = envs.select(name)
    # The variables this environment reads its credentials from (the file's other
    # environments' were named while it was read): hidden in every message from here on.
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
    _watch_credentials(raw_envs)
    if "environments" not in data:
        problems.add(_line(data), "`environments:` is missing")
    elif not isinstance(raw_envs, CommentedMap) or not raw_envs:
        problems.add(
            _value_line(data, "environments"), "`environments:` must map names to settings"
        )
    else:
        folded: dict[str, str] = {}
        for name, settings in raw_envs.items():
            line = _key_line(raw_envs, name)
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                problems.add(
                    line,
                    f"environment name {name!r} must be letters, digits, '-' and '_' "
                    "(it becomes part of a path)",
                )
                continue
            alike = folded.setdefault(name.casefold(), name)
            if alike != name:
                # GitHub's environment names ignore case: both would run with one set of
                # credentials and reviewers, each with a state the other does not see.
                problems.add(
                    line,
                    f"environments {alike!r} and {name!r} differ only in case: GitHub takes "
                    "them for one environment (one set of credentials and reviewers); "
                    "rename one",
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
                f"`default: {escaped(str(default))}` names no environment"
                f"{did_you_mean(str(default), names)}"
                + (f"; known: {', '.join(names)}" if names else ""),
            )
    _shared_state_files(envs, raw_envs, problems)
    problems.raise_if_any()
    return EnvironmentSet(tuple(envs), default if isinstance(default, str) else None, path, True)


def _watch_credentials(raw_envs: Any) -> None:
    """Hide the credentials of every environment of the file, not only the selected one's, and
    before any problem of the file is reported: a manifest or a setting of one environment may
    hold another's pasted credential."""
    if not isinstance(raw_envs, dict):
        return
    for settings in raw_envs.values():
        if isinstance(settings, dict):
            for key in (APP_KEY_ENV.key, MASTER_SECRET_ENV.key):
                value = settings.get(key)
                if isinstance(value, str) and value:
                    redact.watch((value,))


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
    for setting in ENVIRONMENT_KEYS:
        key = setting.key
        if key is None or key not in settings:
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
        checked = check_value(setting, value)
        if isinstance(checked, Bad):
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

    paths = ("manifests", "state", "overlay")
    return Environment(
        name=name,
        manifests=resolve(values.get("manifests", MANIFESTS.default)),
        state=resolve(values["state"]) if "state" in values else base / default_state_path(name),
        overlay=resolve(values["overlay"]) if "overlay" in values else None,
        source=source,
        # The rest as checked; a key not given keeps the default of its field, the table's.
        **{key: value for key, value in values.items() if key not in paths},
    )


def _unknown_keys(
    mapping: CommentedMap, known: Sequence[str], where: str, problems: _Problems
) -> None:
    for key in mapping:
        if key not in known:
            problems.add(
                _key_line(mapping, key),
                f"unknown key {key!r} {where}{did_you_mean(str(key), known)}",
            )


def _shared_state_files(envs: Sequence[Environment], raw_envs: Any, problems: _Problems) -> None:
    """Two environments on one state file would overwrite each other's mapping."""
    seen: dict[str, tuple[str, str, str]] = {}
    inodes: dict[tuple[int, int], str] = {}
    for env in envs:
        # Where the file really is (a linked directory leads two spellings to one file), and
        # compared without case: a checkout on macOS or Windows opens both as one file.
        spelled = os.path.normpath(os.path.abspath(env.state))
        real = os.path.realpath(spelled)
        key = real.casefold()
        hard = False
        try:
            info = os.stat(real)
        except OSError:
            info = None
        if info is not None and key not in seen:
            # Two names of one file (a hard link): each save replaces the file, so the link
            # holds until the first write, and the second environment plans on the first's.
            linked = inodes.setdefault((info.st_dev, info.st_ino), key)
            hard, key = linked != key, linked
        if key in seen:
            other, other_spelled, other_real = seen[key]
            why = ""
            if hard:
                why = " (a hard link to it)"
            elif other_spelled.casefold() != spelled.casefold():
                why = " (through a symbolic link)"
            elif other_real != real:
                why = " (the names differ only in case)"
            problems.add(
                _key_line(raw_envs, env.name),
                f"environments {other!r} and {env.name!r} use the same state file "
                f"{env.state}{why}; give each its own `state:`",
            )
        else:
            seen[key] = (env.name, spelled, real)


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
