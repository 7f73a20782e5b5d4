"""reconciler.yaml: defaults without a file, selection by --env, and errors with file:line."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reconciler.config.environments import (
    DEFAULT_ENV,
    Environment,
    environment_for,
    load_environments,
)
from reconciler.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"


def _error(fixture: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_environments(FIXTURES / fixture)
    return info.value


# --------------------------------------------------------------------------- defaults


def test_without_a_file_there_is_one_default_environment(tmp_path: Path) -> None:
    """No reconciler.yaml: one environment "default" with every documented default."""
    envs = load_environments(tmp_path / "reconciler.yaml")
    assert envs.names == [DEFAULT_ENV]
    assert envs.select(None) == Environment(
        name="default",
        manifests=tmp_path / "schedules",
        state=tmp_path / ".reconciler" / "state.json",
        data_center=None,
        endpoint=None,
        timezone="UTC",
        app_key_env="ENGAGELAB_APP_KEY",
        master_secret_env="ENGAGELAB_MASTER_SECRET",
        max_deletes=None,
        fire_guard_minutes=5.0,
        mass_delete_ratio=0.3,
        source=None,
    )


def test_default_paths_are_relative_to_the_working_directory_for_a_bare_name() -> None:
    """With the default --config "reconciler.yaml", paths stay relative to the cwd."""
    env = load_environments(Path("does-not-exist-reconciler.yaml")).select(None)
    assert env.state == Path(".reconciler/state.json")
    assert env.manifests == Path("schedules")


def test_an_empty_file_means_the_defaults() -> None:
    """A file with only comments behaves like no file (but is named as the source)."""
    env = load_environments(FIXTURES / "good-empty.yaml").select(None)
    assert env.name == DEFAULT_ENV
    assert env.state == FIXTURES / ".reconciler" / "state.json"
    assert env.source == FIXTURES / "good-empty.yaml"


def test_a_required_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    """An explicit --config that does not exist is an error, not a silent default."""
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_environments(tmp_path / "nope.yaml", required=True)
    assert "--config" in (info.value.hint or "")


# --------------------------------------------------------------------------- selection


def test_select_none_gives_the_configured_default() -> None:
    """`default: staging` makes staging the environment without --env."""
    assert load_environments(FIXTURES / "good-two-envs.yaml").select(None).name == "staging"


def test_settings_are_read_and_normalised() -> None:
    """Every setting is read; data_center is lower-cased; relative paths use the file's dir."""
    env = load_environments(FIXTURES / "good-two-envs.yaml").select("staging")
    assert env.manifests == FIXTURES / "schedules" / "staging"
    assert env.state == FIXTURES / ".reconciler" / "staging" / "state.json"
    assert env.data_center == "hk"
    assert env.tz == ZoneInfo("Asia/Shanghai")
    assert (env.app_key_env, env.master_secret_env) == ("STAGING_APP_KEY", "STAGING_MASTER_SECRET")
    assert (env.max_deletes, env.fire_guard_minutes, env.mass_delete_ratio) == (3, 10.0, 0.5)


def test_explicit_state_path_and_endpoint() -> None:
    """`state:` resolves against the file's directory; the endpoint loses its trailing slash."""
    env = load_environments(FIXTURES / "good-two-envs.yaml").select("prod")
    assert env.state == FIXTURES / "state" / "prod.json"
    assert env.endpoint == "https://pushapi-sgp.engagelab.com"
    assert env.manifests == FIXTURES / "schedules"


def test_named_environment_default_state_path_depends_on_its_name_only(tmp_path: Path) -> None:
    """A non-default environment keeps state in .reconciler/<name>/, however many envs exist."""
    config = tmp_path / "reconciler.yaml"
    config.write_text("environments:\n  prod: {}\n", encoding="utf-8")
    env = load_environments(config).select(None)
    assert env.state == tmp_path / ".reconciler" / "prod" / "state.json"


def test_select_none_with_several_and_no_default_asks_for_env() -> None:
    """Two environments and no `default:`: refuse to guess, list them, point at --env."""
    envs = load_environments(FIXTURES / "good-two-envs-no-default.yaml")
    with pytest.raises(ConfigError, match=r"2 environments \(staging, prod\)") as info:
        envs.select(None)
    assert "--env" in (info.value.hint or "")


def test_unknown_environment_lists_the_known_names() -> None:
    """--env with a typo names the known environments and the closest one."""
    envs = load_environments(FIXTURES / "good-two-envs.yaml")
    with pytest.raises(ConfigError) as info:
        envs.select("prd")
    assert "known: staging, prod" in info.value.message
    assert "did you mean 'prod'?" in info.value.message


def test_unknown_environment_without_a_file_explains_the_only_one(tmp_path: Path) -> None:
    """Without reconciler.yaml, --env NAME says the only environment is "default"."""
    envs = load_environments(tmp_path / "reconciler.yaml")
    with pytest.raises(ConfigError, match="the only environment is 'default'"):
        envs.select("prod")


def test_environment_for_loads_and_selects(tmp_path: Path) -> None:
    """The commands' shortcut gives the same environment as load + select."""
    config = FIXTURES / "good-two-envs.yaml"
    assert environment_for(config, "prod") == load_environments(config).select("prod")


# --------------------------------------------------------------------------- errors


def test_unknown_key_says_did_you_mean_with_line() -> None:
    """A misspelt setting is an error at its line, with the right spelling suggested."""
    error = _error("bad-unknown-key.yaml")
    assert "bad-unknown-key.yaml:4:" in error.message
    assert "unknown key 'timezon' in environment 'prod'" in error.message
    assert "did you mean 'timezone'?" in error.message


def test_unknown_top_level_key_says_did_you_mean() -> None:
    """A misspelt `environments:` is caught too (and its absence reported)."""
    error = _error("bad-unknown-top-level-key.yaml")
    assert "bad-unknown-top-level-key.yaml:1: unknown key 'enviroments'" in error.message
    assert "did you mean 'environments'?" in error.message
    assert "`environments:` is missing" in error.message


def test_wrong_case_time_zone_suggests_the_iana_name() -> None:
    """`europe/berlin` is refused at its line with `Europe/Berlin` suggested."""
    error = _error("bad-timezone.yaml")
    assert "bad-timezone.yaml:3:" in error.message
    assert "unknown time zone 'europe/berlin'" in error.message
    assert "did you mean 'Europe/Berlin'?" in error.message


def test_unknown_time_zone_is_a_clear_error() -> None:
    """A zone that does not exist is named, with an example of a valid IANA name."""
    error = _error("bad-timezone-unknown.yaml")
    assert "unknown time zone 'Mars/Olympus_Mons'" in error.message
    assert "IANA" in error.message


def test_endpoint_and_data_center_together_are_refused() -> None:
    """The two ways to name the server exclude each other."""
    error = _error("bad-endpoint-and-data-center.yaml")
    assert "bad-endpoint-and-data-center.yaml:4:" in error.message
    assert "either `data_center` or `endpoint`, not both" in error.message


def test_two_environments_on_one_state_file_are_refused() -> None:
    """Sharing a state file would mix two apps' mappings; both names are given."""
    error = _error("bad-shared-state-file.yaml")
    assert "environments 'staging' and 'prod' use the same state file" in error.message
    assert "bad-shared-state-file.yaml:4:" in error.message


def test_default_naming_no_environment_is_refused() -> None:
    """`default:` must name a defined environment."""
    error = _error("bad-default-names-no-environment.yaml")
    assert "bad-default-names-no-environment.yaml:1:" in error.message
    assert "names no environment (did you mean 'prod'?)" in error.message


def test_yaml_syntax_error_names_file_and_line() -> None:
    """Broken YAML is a ConfigError at a line, not a ruamel traceback."""
    error = _error("bad-yaml-syntax.yaml")
    assert error.message.startswith(f"{FIXTURES / 'bad-yaml-syntax.yaml'}:")
    assert "YAML syntax" in (error.hint or "")


def test_duplicate_environment_is_refused_at_its_line() -> None:
    """The same environment twice is an error, not last-one-wins."""
    error = _error("bad-duplicate-environment.yaml")
    assert "bad-duplicate-environment.yaml:3:" in error.message
    assert "duplicate key" in error.message


def test_every_bad_value_is_reported_at_once() -> None:
    """All problems of a file come in one error, one line each, in file order."""
    error = _error("bad-values.yaml")
    assert error.message.startswith("6 problems in ")
    for line, text in [
        (3, "prod.max_deletes: -1 must be a whole number"),
        (4, "prod.mass_delete_ratio: 1.5 must be a fraction"),
        (5, "prod.fire_guard_minutes: 'soon' must be a number of minutes"),
        (6, "prod.app_key_env: 'my key' is not an environment variable name"),
        (7, "prod.data_center: unknown data centre 'mars'"),
        (8, "prod.endpoint: 'ftp://example.com' is not a valid http(s) URL"),
    ]:
        assert f"bad-values.yaml:{line}: {text}" in error.message


def test_environment_name_that_would_escape_the_state_directory_is_refused() -> None:
    """Names become part of a path, so `../prod` is refused."""
    error = _error("bad-environment-name.yaml")
    assert "environment name '../prod' must be letters" in error.message


def _refused_at_line_4(tmp_path: Path, environments: str) -> str:
    """The message of the error for a reconciler.yaml of ``environments``, which is at line 4."""
    config = tmp_path / "reconciler.yaml"
    config.write_text(f"environments:\n{environments}", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_environments(config)
    assert f"{config}:4:" in info.value.message
    return info.value.message


def test_two_environments_named_alike_but_for_case_are_refused(tmp_path: Path) -> None:
    """GitHub environment names ignore case, so `prod` and `Prod` would run with one set of
    credentials and reviewers; on macOS and Windows their state files would be one file."""
    message = _refused_at_line_4(
        tmp_path, "  prod:\n    state: a.json\n  Prod:\n    state: b.json\n"
    )
    assert "environments 'prod' and 'Prod' differ only in case" in message


def test_two_state_files_named_alike_but_for_case_are_refused(tmp_path: Path) -> None:
    """`state/Prod.json` and `state/prod.json` are one file on macOS and Windows checkouts."""
    message = _refused_at_line_4(
        tmp_path, "  staging:\n    state: state/Prod.json\n  prod:\n    state: state/prod.json\n"
    )
    assert "environments 'staging' and 'prod' use the same state file" in message
    assert "differ only in case" in message


def test_two_state_files_that_are_one_file_through_a_link_are_refused(tmp_path: Path) -> None:
    """`link/s.json` with `link -> a` is `a/s.json`: the two environments would overwrite each
    other's mapping as surely as with one spelling."""
    (tmp_path / "a").mkdir()
    (tmp_path / "link").symlink_to("a")
    message = _refused_at_line_4(
        tmp_path, "  staging:\n    state: a/s.json\n  prod:\n    state: link/s.json\n"
    )
    assert "environments 'staging' and 'prod' use the same state file" in message
    assert "through a symbolic link" in message


def test_two_state_files_that_are_one_file_through_a_hard_link_are_refused(tmp_path: Path) -> None:
    """`ln prod/state.json stg/state.json`: one file under two names, until the first save
    replaces it. The second environment planned on the first's mapping (deleting its tasks as
    "manifest removed"); the config is refused as for a symbolic link."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "s.json").write_text("{}", encoding="utf-8")
    os.link(tmp_path / "a" / "s.json", tmp_path / "b" / "s.json")
    message = _refused_at_line_4(
        tmp_path, "  staging:\n    state: a/s.json\n  prod:\n    state: b/s.json\n"
    )
    assert "environments 'staging' and 'prod' use the same state file" in message
    assert "(a hard link to it)" in message
