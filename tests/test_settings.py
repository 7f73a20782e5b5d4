"""The settings table is the one source of every setting: the command line's options, the keys
and defaults of reconciler.yaml, the client's and the safety rules' defaults, and
docs/settings.md are made from it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler import settings
from reconciler.cli import cli
from reconciler.config import environments
from reconciler.config.values import Bad, check_value
from reconciler.options import GlobalOptions
from reconciler.settings import GLOBAL_OPTIONS, SAFETY_OPTIONS, SETTINGS, Kind, Setting
from reconciler.settings_page import REGENERATE, markdown

ROOT = Path(__file__).resolve().parents[1]


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        p.name: p
        for p in command.params
        if isinstance(p, click.Option) and p.name not in ("help", "version")
    }


def _assert_made_from(option: click.Option, setting: Setting[object]) -> None:
    assert tuple(option.opts) == setting.flags
    assert option.envvar == setting.variable
    assert option.help == setting.help_text()
    assert option.is_flag == (setting.kind is Kind.FLAG)


def test_the_settings_page_is_the_table() -> None:
    """docs/settings.md is what the table renders; a stale page says how to regenerate it."""
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    assert page == markdown(), f"docs/settings.md is stale: run `{REGENERATE}`"


def test_the_settings_page_lists_every_setting() -> None:
    """Each setting has its row and its section, with its flag, variable and key."""
    page = markdown()
    for s in SETTINGS:
        assert f"\n## {s.name}\n" in page
        for word in (*s.flags, s.variable, s.key):
            if word:
                assert f"`{word}`" in page or f".{word}`" in page, (s.name, word)


def test_the_options_of_reconciler_itself_are_the_table_s() -> None:
    """Every option before the command is a setting, with the table's flag, variable and help,
    in the table's order; and each is a field of GlobalOptions, unset by default unless the
    option carries its default."""
    options = _options(cli)
    assert list(options) == [s.name for s in GLOBAL_OPTIONS]
    for s in GLOBAL_OPTIONS:
        _assert_made_from(options[s.name], s)
    fields = {f.name: f.default for f in dataclasses.fields(GlobalOptions)}
    assert set(fields) == {s.name for s in GLOBAL_OPTIONS}
    for s in GLOBAL_OPTIONS:
        expected = s.default if s.show_default or s.kind is Kind.FLAG else None
        assert fields[s.name] == expected, s.name


@pytest.mark.parametrize("name", ["plan", "apply"])
def test_plan_and_apply_take_the_safety_settings(name: str) -> None:
    """The overrides of the safety rules are the table's on both commands."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    options = _options(command)
    for s in SAFETY_OPTIONS:
        _assert_made_from(options[s.name], s)


def test_every_command_taking_the_lock_has_the_table_s_lock_timeout() -> None:
    """--lock-timeout is the table's wherever the state lock is taken."""
    for path in settings.LOCK_TIMEOUT.commands:
        command: click.Command | None = cli
        ctx = click.Context(cli)
        for word in path.split():
            assert isinstance(command, click.Group)
            command = command.get_command(ctx, word)
        assert command is not None, path
        option = _options(command)["lock_timeout"]
        _assert_made_from(option, settings.LOCK_TIMEOUT)
        assert option.default == settings.LOCK_TIMEOUT.default


def test_reconciler_yaml_accepts_the_table_s_keys() -> None:
    """An environment takes exactly the table's keys, each an Environment field; the top level
    takes `environments` and the table's top-level keys."""
    keys = [s.key for s in SETTINGS if s.key is not None]
    assert list(environments.ENV_KEYS) == keys
    fields = {f.name for f in dataclasses.fields(environments.Environment)}
    assert set(keys) <= fields
    assert environments.TOP_KEYS == ("environments", "default")


@pytest.mark.parametrize("setting", settings.ENVIRONMENT_KEYS, ids=lambda s: s.name)
def test_every_key_has_a_check(setting: Setting[object]) -> None:
    """Each key's value is checked by the kind of its setting (policies rule by rule)."""
    if setting.kind is Kind.POLICIES:
        return
    assert isinstance(check_value(setting, ["not", "a", "value"]), Bad)


def test_an_environment_without_keys_has_the_table_s_defaults(tmp_path: Path) -> None:
    """No reconciler.yaml: every default of an environment is the table's."""
    env = environments.load_environments(tmp_path / "reconciler.yaml").select(None)
    assert env.manifests == tmp_path / settings.MANIFESTS.default
    assert env.timezone == settings.TIMEZONE.default
    assert env.app_key_env == settings.APP_KEY_ENV.default
    assert env.master_secret_env == settings.MASTER_SECRET_ENV.default
    assert env.max_deletes == settings.MAX_DELETES.default
    assert env.fire_guard_minutes == settings.FIRE_GUARD.default
    assert env.mass_delete_ratio == settings.MASS_DELETE_RATIO.default
    assert env.max_active == settings.MAX_ACTIVE.default


def test_the_state_default_in_words_is_the_one_used() -> None:
    """The page's words for the default state file name the paths the loader uses."""
    text = settings.STATE.default_text or ""
    assert str(environments.default_state_path(environments.DEFAULT_ENV)) in text
    assert str(environments.default_state_path("NAME")) in text


# Run in a fresh interpreter: the table is changed before anything reads it.
_CHANGED_DEFAULTS = r"""
import dataclasses, json
from reconciler import settings
for name, value in {
    "FIRE_GUARD": 7, "MASS_DELETE_RATIO": 0.25, "MAX_ACTIVE": 1234, "RATE_LIMIT": 123.0,
    "TIMEOUT": 12.0, "READ_DEADLINE": 99.0, "TIMEZONE": "Asia/Tokyo", "DATA_CENTER": "hk",
    "APP_KEY_ENV": "OTHER_KEY", "MANIFESTS": "pushes", "LOCK_TIMEOUT": 4.0,
    "CONFIG": "other.yaml",
}.items():
    object.__setattr__(getattr(settings, name), "default", value)

from pathlib import Path
import click
from reconciler.cli import cli
from reconciler.config.connection import ClientSettings, Credentials, resolve_base_url
from reconciler.config.environments import load_environments
from reconciler.options import GlobalOptions
from reconciler.planning.safety import PlanOptions
from reconciler.redact import DEFAULT_VARIABLES

env = load_environments(Path("/nonexistent/reconciler.yaml")).select(None)
client = ClientSettings(base_url="https://x", credentials=Credentials("a" * 24, "b"))
ctx = click.Context(cli)
helps = {
    p.name: p.help for c in (cli, cli.get_command(ctx, "apply")) for p in c.params
    if isinstance(p, click.Option)
}
lock = [p.default for p in cli.get_command(ctx, "apply").params if p.name == "lock_timeout"]
print(json.dumps({
    "plan": [PlanOptions().fire_guard_minutes, PlanOptions().mass_delete_ratio,
             PlanOptions().max_active],
    "env": [env.fire_guard_minutes, env.mass_delete_ratio, env.max_active, env.timezone,
            env.app_key_env, env.manifests.name],
    "client": [client.rate_limit, client.timeout, client.read_deadline],
    "base_url": resolve_base_url(None, None),
    "redact": list(DEFAULT_VARIABLES),
    "config": GlobalOptions().config_path,
    "lock": lock,
    "help": [helps["fire_guard"], helps["allow_mass_delete"], helps["rate_limit"],
             helps["timeout"], helps["read_deadline"], helps["timezone"],
             helps["data_center"]],
}))
"""


def test_a_default_changed_in_the_table_changes_everywhere() -> None:
    """Each default is written once: changed in the table, it changes in the safety rules, the
    environments, the client, the credential variables, the options and their help."""
    done = subprocess.run(
        [sys.executable, "-c", _CHANGED_DEFAULTS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    seen = json.loads(done.stdout)
    assert seen["plan"] == [7, 0.25, 1234]
    assert seen["env"] == [7.0, 0.25, 1234, "Asia/Tokyo", "OTHER_KEY", "pushes"]
    assert seen["client"] == [123.0, 12.0, 99.0]
    assert seen["base_url"] == "https://pushapi-hk.engagelab.com"
    assert seen["redact"][0] == "OTHER_KEY"
    assert seen["config"] == "other.yaml"
    assert seen["lock"] == [4.0]
    fire_guard, mass_delete, rate, timeout, deadline, zone, centre = seen["help"]
    assert "(default 7)" in fire_guard
    assert "(default 25%)" in mass_delete
    assert "(default 123," in rate
    assert "(default 12)" in timeout
    assert "(default 99)" in deadline
    assert "(default Asia/Tokyo)" in zone
    assert "(default hk)" in centre


# Variables more than one command reads, and the commands: each means the same thing in every
# one of them. A variable set for one command must never do something else in another.
SHARED_VARIABLES = {
    "RECONCILER_ALLOW_MASS_DELETE": {"plan", "apply"},
    "RECONCILER_ALLOW_POLICY": {"plan", "apply", "drift"},
    "RECONCILER_FIRE_GUARD": {"plan", "apply"},
    "RECONCILER_FORCE": {"plan", "apply"},
    "RECONCILER_LOCK_TIMEOUT": {
        "apply",
        "export",
        "import",
        "remote delete",
        "state mv",
        "state rm",
    },
    "RECONCILER_MAX_DELETES": {"plan", "apply"},
    "RECONCILER_STRICT": {"plan", "apply", "validate"},
    "RECONCILER_TIMEZONE": {"", "emulator serve"},  # the app's zone, for the client or served
}


def _variables() -> dict[str, set[str]]:
    """Every environment variable an option reads -> the commands whose options read it."""
    import click

    from reconciler.cli import cli

    found: dict[str, set[str]] = {}

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        ctx = click.Context(command)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, (*path, name))
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar:
                names = [param.envvar] if isinstance(param.envvar, str) else param.envvar
                for name in names:
                    found.setdefault(name, set()).add(" ".join(path))

    walk(cli, ())
    return found


def test_no_variable_means_one_thing_to_one_command_and_another_to_the_next() -> None:
    """RECONCILER_OUT was plan's saved plan and calendar's output (a calendar replaced the plan
    a CI job then applied); RECONCILER_FORCE also let `state rm` drop the journal's debts, and
    RECONCILER_AUTO_APPROVE let `remote delete` delete unasked. A variable is read by one
    command, or by the commands listed here, where it means the same."""
    shared = {name: users for name, users in _variables().items() if len(users) > 1}
    assert shared == SHARED_VARIABLES
    variables = _variables()
    assert variables["RECONCILER_OUT"] == {"plan"}
    assert variables["RECONCILER_AUTO_APPROVE"] == {"apply"}
    assert variables["RECONCILER_ID"] == {"export"}
