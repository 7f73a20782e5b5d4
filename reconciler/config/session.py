"""Resolve where a command talks to: the real API of an environment, or the embedded emulator.

One job: turn the top-level options, the selected environment and the process environment into a
``Target`` (base URL, credentials, transport, the binding the state file is checked against and
the line that tells the user which app they are working on). Nothing here makes a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.config.connection import (
    ClientSettings,
    Credentials,
    credentials_from_env,
    is_loopback_host,
    resolve_base_url,
    settings_from_options,
)
from reconciler.config.environments import Environment, environment_for
from reconciler.errors import ConfigError
from reconciler.options import GlobalOptions

if TYPE_CHECKING:
    import httpx

    from reconciler.emulator import Emulator
    from reconciler.remote.client import EngageLabClient

# The embedded emulator has no URL; this fixed name keeps its state binding stable across runs.
EMBEDDED_BASE_URL = "http://embedded-emulator.invalid"


def emulator_data_path(env: Environment) -> Path:
    """Where the environment's embedded emulator keeps its tasks: beside its state file."""
    return env.state.parent / "emulator.json"


def pace_path(env: Environment) -> Path:
    """Where the server's request limit is kept between runs: beside the state file."""
    return env.state.parent / "pace.json"


@dataclass(frozen=True)
class Target:
    """Everything needed to open a client, plus what to tell the user about it."""

    env: Environment
    settings: ClientSettings
    binding_endpoint: str  # what the state file's binding hashes (never a secret)
    banner: str | None  # first line of output when not talking to a real app
    emulator: Emulator | None = None  # set for the embedded emulator

    @property
    def app_key(self) -> str:
        return self.settings.credentials.app_key

    def transport(self) -> httpx.AsyncBaseTransport | None:
        if self.emulator is None:
            return None
        import httpx

        from reconciler.emulator import create_app

        return httpx.ASGITransport(app=create_app(self.emulator))

    @property
    def pace_file(self) -> Path | None:
        """Where the server's request limit is kept between runs (not for the embedded
        emulator, which has none): next to the state file, like the emulator's data."""
        return None if self.emulator is not None else pace_path(self.env)

    def client(self) -> EngageLabClient:
        from reconciler.remote.client import EngageLabClient

        return EngageLabClient(self.settings, transport=self.transport(), pace_file=self.pace_file)


def load_environment(options: GlobalOptions) -> Environment:
    """The environment selected by ``--env`` in ``--config`` (or the single default one).

    A config file named on purpose (``--config`` / ``RECONCILER_CONFIG`` other than the default
    name) must exist: a typo there must not silently apply with the defaults, another state
    file and perhaps another app (as ``reconciler state`` already refuses).
    """
    required = options.config_named
    env = environment_for(Path(options.config_path), options.env, required=required)
    if options.timezone:
        try:
            ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"--timezone {options.timezone!r} is not an IANA time zone name",
                hint="use a name such as UTC, Europe/Berlin or Asia/Singapore",
            ) from None
        env = replace(env, timezone=options.timezone)
    return env


def now_of(options: GlobalOptions) -> datetime:
    """The injected ``--now`` or the real current time (always aware)."""
    return options.now if options.now is not None else datetime.now(UTC)


def resolve_target(
    options: GlobalOptions, env: Environment, environ: Mapping[str, str] | None = None
) -> Target:
    """Decide between the real API and the embedded emulator, before any call.

    Without credentials the embedded emulator is used (docs/design.md "Embedded default"), except
    under ``CI=true`` where a missing secret must not silently turn a deploy into a no-op:
    there it needs ``--emulator``.
    """
    environ = os.environ if environ is None else environ
    credentials = credentials_from_env(environ, env.app_key_env, env.master_secret_env)
    endpoint = options.endpoint or env.endpoint
    data_center = options.data_center or env.data_center

    if credentials is not None and not options.emulator:
        base_url = resolve_base_url(endpoint, data_center)
        settings = settings_from_options(options, credentials, base_url=base_url)
        if base_url.lower().startswith("https://"):
            from reconciler.remote.tls import prepare_tls

            prepare_tls()  # the CA bundle loads while the manifests are read
        return Target(env=env, settings=settings, binding_endpoint=base_url, banner=None)

    if credentials is None and not options.emulator and environ.get("CI", "").lower() == "true":
        raise ConfigError(
            f"no credentials under CI: {env.app_key_env} and {env.master_secret_env} are not set "
            f"for environment {env.name!r}",
            hint="add them as secrets of the CI job, or pass --emulator (RECONCILER_EMULATOR=1) "
            "to run against the embedded emulator on purpose",
        )

    from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET

    demo = Credentials(app_key=DEMO_APP_KEY, master_secret=DEMO_MASTER_SECRET)
    unused = ""
    if endpoint:
        base_url = resolve_base_url(endpoint, None)
        if is_loopback_host(urlsplit(base_url).hostname):
            # A served emulator (``reconciler emulator serve``) speaks the demo credentials.
            settings = settings_from_options(options, demo, base_url=base_url)
            banner = f"Using the emulator at {base_url} with its demo credentials (no real app)."
            return Target(env=env, settings=settings, binding_endpoint=base_url, banner=banner)
        # Any other endpoint is an app's (the emulator is served on this machine only): the
        # demo pair is not sent there, and the run is the embedded emulator's, as without one.
        unused = (
            f" (the endpoint {base_url} is not used with --emulator)"
            if options.emulator
            else f" (the endpoint {base_url} is used once they are set)"
        )

    from reconciler.emulator import Emulator

    data_path = emulator_data_path(env)
    fixed_now = options.now
    try:
        emulator = Emulator(
            timezone=env.timezone,
            data_path=data_path,
            clock=(lambda: fixed_now) if fixed_now is not None else None,
        )
    except ValueError as exc:  # the data file: unreadable, not JSON, or of the wrong shape
        raise ConfigError(
            f"cannot use the embedded emulator's data file: {exc}",
            hint=f"move {data_path} away to start the embedded emulator afresh (its tasks are "
            "test data only; nothing on EngageLab depends on them)",
        ) from exc
    settings = settings_from_options(options, demo, base_url=EMBEDDED_BASE_URL)
    why = (
        "--emulator given"
        if options.emulator
        else (f"no {env.app_key_env} / {env.master_secret_env} set")
    )
    banner = (
        f"Using the embedded emulator (data in {data_path}): {why}, nothing is sent to "
        f"EngageLab{unused}."
    )
    return Target(
        env=env,
        settings=settings,
        binding_endpoint=EMBEDDED_BASE_URL,
        banner=banner,
        emulator=emulator,
    )
