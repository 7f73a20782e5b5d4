"""Every setting a user can give, in one table: flag, variable, ``reconciler.yaml`` key, type,
default and help.

The options of ``reconciler`` itself and the safety options of plan and apply are made from it
(``reconciler/commands/flags.py``), so are the keys ``reconciler.yaml`` accepts and the defaults
an environment starts from (``reconciler/config/environments.py``), and so is
``docs/settings.md``. Each default is written here once; the layers that use one (the client's
settings, the safety rules, the environments) read it from here.

A flag reads ``RECONCILER_<FLAG>`` too, unless its setting says otherwise; a flag wins over the
``reconciler.yaml`` key of its setting, which wins over the default. Options that only say what
one command acts on or how it prints (``--out``, ``--format``, ...) stay with that command.

Plain data (the standard library and ``reconciler.limits``): the command line's start-up, the
planning core and the config loader all read it.

``docs/settings.md`` is made from it by ``settings_page.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Generic, TypeVar

from reconciler.limits import MAX_ACTIVE_TASKS, MAX_FIRE_GUARD_MINUTES

T = TypeVar("T")

VARIABLE_PREFIX: Final = "RECONCILER"


class Kind(Enum):
    """What a setting's value is; it decides the flag's type and the check of its key."""

    TEXT = "text"
    FILE = "file"  # a file name given on the command line
    PATH = "path"  # a path in reconciler.yaml, relative to the file
    CHOICE = "choice"
    URL = "URL"
    ZONE = "time zone"
    VARIABLE = "variable name"
    WHOLE = "whole number"
    NUMBER = "number"
    FRACTION = "fraction above 0, at most 1"
    MINUTES = "minutes"
    FLAG = "flag"
    TIME = "date-time"
    RULES = "ignore rules"
    POLICIES = "policies"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: where a user gives it, what it takes, and what it is without them.

    ``help`` may name ``{default}`` (the default as shown) and, by their ``name``, the defaults
    of other settings (``{mass_delete_ratio:.0%}``).
    """

    name: str  # the Python name: of the click parameter, else of the reconciler.yaml key
    kind: Kind
    help: str
    default: T
    flags: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # () for an option of `reconciler` itself, before the command
    key: str | None = None  # the key of an environment in reconciler.yaml
    top_key: str | None = None  # a key at the top of reconciler.yaml
    reads_variable: bool = True  # a flag's RECONCILER_<FLAG>
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    default_text: str | None = None  # the default in words, where it is not a plain value
    show_default: bool = False  # the flag itself carries the default (shown by --help)

    @property
    def variable(self) -> str | None:
        """The environment variable that gives the flag, named after the flag the user types."""
        if not self.flags or not self.reads_variable:
            return None
        flag = next((f for f in self.flags if f.startswith("--")), self.flags[0])
        return f"{VARIABLE_PREFIX}_{flag.lstrip('-').replace('-', '_').upper()}"

    def help_text(self) -> str:
        """``help`` with the defaults filled in."""
        return self.help.format(
            default=self.default_text if self.default_text is not None else self.default,
            **{s.name: s.default for s in SETTINGS},
        )


def shown(value: object) -> str:
    """A value as written in help and docs: ``30`` for 30.0, ``none`` for None."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --------------------------------------------------------------------------- which environment

ENV: Final = Setting[str | None](
    name="env",
    kind=Kind.TEXT,
    flags=("--env",),
    top_key="default",
    default=None,
    default_text="the file's `default:`, else its only environment",
    help="Environment from reconciler.yaml to work on.",
)
CONFIG: Final = Setting(
    name="config_path",
    kind=Kind.FILE,
    flags=("--config",),
    default="reconciler.yaml",
    show_default=True,
    help="Environments file (optional; without it one default environment is used).",
)

# --------------------------------------------------------------------------- an environment's files

MANIFESTS: Final = Setting(
    name="manifests",
    kind=Kind.PATH,
    key="manifests",
    default="schedules",
    help="Directory of the environment's manifests.",
)
STATE: Final = Setting[str | None](
    name="state",
    kind=Kind.PATH,
    key="state",
    default=None,
    default_text=".reconciler/state.json for the environment `default`, "
    ".reconciler/NAME/state.json for any other NAME",
    help="The environment's state file (never shared by two environments).",
)
OVERLAY: Final = Setting[str | None](
    name="overlay",
    kind=Kind.PATH,
    key="overlay",
    default=None,
    help="Directory of patches over the manifests, by schedule name (docs/layers.md).",
)

# --------------------------------------------------------------------------- the app and its API

ENDPOINT: Final = Setting[str | None](
    name="endpoint",
    kind=Kind.URL,
    flags=("--endpoint",),
    key="endpoint",
    default=None,
    default_text="the data centre's",
    help="Explicit API base URL (e.g. an emulator).",
)
# docs/api.md section 1: an AppKey lives in exactly one of these.
DATA_CENTER: Final = Setting(
    name="data_center",
    kind=Kind.CHOICE,
    flags=("--data-center",),
    key="data_center",
    choices=("sgp", "hk", "usva", "defra", "jpn", "bra"),
    default="sgp",
    help="EngageLab data centre of the app (default {default}).",
)
APP_KEY_ENV: Final = Setting(
    name="app_key_env",
    kind=Kind.VARIABLE,
    key="app_key_env",
    default="ENGAGELAB_APP_KEY",
    help="The environment variable holding the app's AppKey.",
)
MASTER_SECRET_ENV: Final = Setting(
    name="master_secret_env",
    kind=Kind.VARIABLE,
    key="master_secret_env",
    default="ENGAGELAB_MASTER_SECRET",
    help="The environment variable holding the app's Master Secret.",
)
READ_DEADLINE: Final = Setting(
    name="read_deadline",
    kind=Kind.NUMBER,
    flags=("--read-deadline",),
    minimum=1.0,
    maximum=86_400.0,
    # An honest read of the vendor's maximum of 1000 tasks at the default rate takes well under
    # a minute, retries included; a server that drips answers or claims endless pages is
    # stopped at this instead of read for hours.
    default=300.0,
    help="Seconds a whole read of the remote schedules may take (default {default:g}).",
)
RATE_LIMIT: Final = Setting(
    name="rate_limit",
    kind=Kind.NUMBER,
    flags=("--rate-limit",),
    minimum=0.1,
    # The ceiling of the adaptive request rate (remote/ratelimit.py): the vendor's published
    # quota of 500 requests/s per AppKey. The schedule API's own limit is not published; a lower
    # one is found by the client from the server's refusals.
    default=500.0,
    help="Most requests per second to the API; the client finds the server's pace below it "
    "(default {default:g}, the vendor's published quota).",
)
CONCURRENCY: Final = Setting[int | None](
    name="concurrency",
    kind=Kind.WHOLE,
    flags=("--concurrency",),
    minimum=1,
    maximum=256,
    default=None,  # adaptive (Little's law)
    default_text="sized from the rate and the round-trip time",
    help="Requests in flight at once (default: {default}).",
)
TIMEOUT: Final = Setting(
    name="timeout",
    kind=Kind.NUMBER,
    flags=("--timeout",),
    minimum=0.1,
    maximum=3600,
    default=30.0,
    help="Seconds to wait for one answer (default {default:g}).",
)
EMULATOR: Final = Setting(
    name="emulator",
    kind=Kind.FLAG,
    flags=("--emulator",),
    default=False,
    help="Use the embedded emulator even under CI=true (the default without credentials).",
)

# --------------------------------------------------------------------------- time

TIMEZONE: Final = Setting(
    name="timezone",
    kind=Kind.ZONE,
    flags=("--timezone",),
    key="timezone",
    default="UTC",
    help="IANA time zone for zone_type 1 times (default {default}).",
)
NOW: Final = Setting[None](
    name="now",
    kind=Kind.TIME,
    flags=("--now",),
    # No RECONCILER_NOW: a variable left in a CI job's environment would move "now" for every
    # run and so switch the fire guard off without a word.
    reads_variable=False,
    default=None,
    default_text="the server's time",
    help="Decide as if it were this time (ISO 8601 with offset), for tests and rehearsals. "
    "Without it the time is the server's (the Date of its first answer); a skew of more than "
    "a minute from this machine's clock is reported. Read from no environment variable.",
)
DEBUG: Final = Setting(
    name="debug",
    kind=Kind.FLAG,
    flags=("--debug",),
    default=False,
    help="Log HTTP traffic (never credentials).",
)

# --------------------------------------------------------------------------- safety rules
# docs/design.md "Safety rules"

SAFETY_COMMANDS: Final = ("plan", "apply")

MAX_DELETES: Final = Setting[int | None](
    name="max_deletes",
    kind=Kind.WHOLE,
    flags=("--max-deletes",),
    commands=SAFETY_COMMANDS,
    key="max_deletes",
    minimum=0,
    default=None,  # only the ratio rule applies
    default_text="no absolute limit",
    help="Refuse plans deleting more than this many schedules (reconciler.yaml max_deletes).",
)
MASS_DELETE_RATIO: Final = Setting(
    name="mass_delete_ratio",
    kind=Kind.FRACTION,
    key="mass_delete_ratio",
    default=0.3,
    help="Share of the managed schedules a plan may delete without --allow-mass-delete.",
)
ALLOW_MASS_DELETE: Final = Setting(
    name="allow_mass_delete",
    kind=Kind.FLAG,
    flags=("--allow-mass-delete",),
    commands=SAFETY_COMMANDS,
    default=False,
    help="Allow deleting more than the environment's mass_delete_ratio of the managed "
    "schedules (default {mass_delete_ratio:.0%}).",
)
FIRE_GUARD: Final = Setting(
    name="fire_guard",
    kind=Kind.MINUTES,
    flags=("--fire-guard",),
    commands=SAFETY_COMMANDS,
    key="fire_guard_minutes",
    minimum=0,
    maximum=MAX_FIRE_GUARD_MINUTES,
    default=5,
    help="Whole minutes before a firing in which changes need --force (default {default}).",
)
FORCE: Final = Setting(
    name="force",
    kind=Kind.FLAG,
    flags=("--force",),
    commands=SAFETY_COMMANDS,
    default=False,
    help="Change schedules even when they fire within the fire guard.",
)
MAX_ACTIVE: Final = Setting(
    name="max_active",
    kind=Kind.WHOLE,
    key="max_active",
    minimum=1,
    # Only an app whose limit EngageLab raised, or an emulator served with --max-active, needs
    # another value.
    default=MAX_ACTIVE_TASKS,
    help="The app's limit of active schedules (docs/api.md 2.4); set it only if EngageLab "
    "raised it for the app.",
)
IGNORE: Final = Setting[None](
    name="ignore",
    kind=Kind.RULES,
    key="ignore",
    default=None,
    help="Remote tasks another team or tool owns, left out of plans and drift: `names:` "
    "(shell-style patterns) and `ids:` (exact schedule ids).",
)
POLICIES: Final = Setting[None](
    name="policies",
    kind=Kind.POLICIES,
    key="policies",
    default=None,
    help="Push policies checked by validate, plan and apply (docs/policies.md).",
)

# --------------------------------------------------------------------------- the state lock

# One default for every command that takes the lock, so that RECONCILER_LOCK_TIMEOUT and the
# help mean the same everywhere: long enough to wait out a concurrent apply's writes, short
# enough to notice a stuck one.
LOCK_TIMEOUT: Final = Setting(
    name="lock_timeout",
    kind=Kind.NUMBER,
    flags=("--lock-timeout",),
    commands=("apply", "import", "export", "state rm", "state mv", "remote delete"),
    minimum=0,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the state lock held by another command (0: fail at once).",
)

# In the order of `reconciler --help`, then of reconciler.yaml's documentation.
SETTINGS: Final[tuple[Setting[Any], ...]] = (
    ENV,
    CONFIG,
    ENDPOINT,
    DATA_CENTER,
    READ_DEADLINE,
    RATE_LIMIT,
    CONCURRENCY,
    TIMEOUT,
    EMULATOR,
    TIMEZONE,
    NOW,
    DEBUG,
    MANIFESTS,
    STATE,
    APP_KEY_ENV,
    MASTER_SECRET_ENV,
    FORCE,
    FIRE_GUARD,
    ALLOW_MASS_DELETE,
    MAX_DELETES,
    MASS_DELETE_RATIO,
    MAX_ACTIVE,
    IGNORE,
    POLICIES,
    OVERLAY,
    LOCK_TIMEOUT,
)

# The options of `reconciler` itself, given before the command, in the order of its --help.
GLOBAL_OPTIONS: Final = tuple(s for s in SETTINGS if s.flags and not s.commands)
# The overrides of the safety rules that plan and apply take, in the order of their --help.
SAFETY_OPTIONS: Final = tuple(s for s in SETTINGS if s.commands == SAFETY_COMMANDS)
# The keys of one environment in reconciler.yaml, in the order of its documentation.
ENVIRONMENT_KEYS: Final = tuple(s for s in SETTINGS if s.key is not None)
