"""The other environments of this ``reconciler.yaml`` that reach the same app.

One app managed from two environments (a copied block, a staging AppKey that is production's)
is two state files claiming one app's schedules: each sees the other's tasks as nobody's,
adopts them, and the two then update and delete each other's tasks. Two ways to see it:

- the credentials: when another environment's AppKey is in this process's environment too and,
  with its endpoint, names this app, the command is refused before it reads anything
  (``refuse_same_app``);
- the state files: another environment's state bound to this app names the tasks and names it
  manages or is creating (``held_elsewhere``): never adopted, deleted or given way to here.

An app is named by its endpoint and AppKey (``binding_for``); an endpoint may be spelled in more
than one way (``localhost`` or ``127.0.0.1``, a default port written out, a host in capitals or
with a final dot), and each spelling counts as the same app here (``bindings_of``). The state
file's own binding is unchanged: it hashes the endpoint as it was given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from reconciler.apply.healing import Held
from reconciler.config.connection import credentials_from_env, is_loopback_host, resolve_base_url
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.planning.canonical import name_key
from reconciler.state.binding import binding_for
from reconciler.state.store import StateStore

if TYPE_CHECKING:
    from reconciler.config.environments import Environment
    from reconciler.ops.observe import Workspace

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def same_server(base_url: str) -> tuple[str, str, int | None, str]:
    """``base_url`` in one spelling per server: scheme and host in lower case, no final dot,
    the port as a number (the scheme's default when none is written), every loopback name as
    one, no trailing slash."""
    parts = urlsplit(base_url.strip().rstrip("/"))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if is_loopback_host(host):
        host = "loopback"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return scheme, host, port, parts.path.rstrip("/")


def bindings_of(base_url: str, app_key: str) -> frozenset[str]:
    """The bindings of one app under the usual spellings of its endpoint: host in any case and
    without a final dot, the scheme's default port written out or not, and the loopback host
    by any of its names (a state file's binding hashes the endpoint as it was given). Another
    environment's own spelling is matched through ``same_server`` (``held_elsewhere``)."""
    parts = urlsplit(base_url.strip().rstrip("/"))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:  # an IPv6 literal: urlsplit drops its brackets
        host = f"[{host}]"
    hosts = _LOOPBACK_NAMES if is_loopback_host(parts.hostname) else (host,)
    default = _DEFAULT_PORTS.get(scheme)
    port = parts.port if parts.port is not None else default
    ports: tuple[int | None, ...] = (port, None) if port == default else (port,)
    urls = {
        urlunsplit((scheme, h if p is None else f"{h}:{p}", parts.path, "", ""))
        for h in hosts
        for p in ports
    }
    urls.add(base_url)  # as given: the state file's own binding hashes it so
    return frozenset(binding_for(url, app_key) for url in urls)


def _url_of(ws: Workspace, env: Environment) -> str | None:
    """The base URL ``env`` would use with this command's options (None: it cannot say)."""
    options = ws.options
    try:
        return resolve_base_url(
            options.endpoint or env.endpoint, options.data_center or env.data_center
        )
    except ReconcilerError:
        return None


def _others(ws: Workspace) -> list[Environment]:
    """The other environments of the workspace's config, each with its own state file."""
    from reconciler.config.environments import load_environments

    try:
        envs = load_environments(Path(ws.options.config_path))
    except ReconcilerError:
        return []
    own = os.path.realpath(ws.env.state)
    return [
        env
        for env in envs.environments
        if env.name != ws.env.name and os.path.realpath(env.state) != own
    ]


def held_elsewhere(ws: Workspace) -> Held:
    """What the other environments' state files hold on this app (module docstring).

    Read as saved (no lock: a state file is replaced whole); one that cannot be read is its own
    commands' concern. Nothing for the embedded emulator, whose data is each environment's own.
    """
    if ws.target.emulator is not None:
        return Held()
    key = ws.target.app_key
    here = bindings_of(ws.target.binding_endpoint, key)
    server = same_server(ws.target.binding_endpoint)
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    for env in _others(ws):
        try:
            state = StateStore(env.state).load()
        except (ReconcilerError, OSError):
            continue
        if state.binding not in here:
            # Bound under that environment's own spelling of this server ("HTTP://…", a port
            # written "0443"), with this AppKey: the same app all the same.
            url = _url_of(ws, env)
            if url is None or same_server(url) != server or state.binding != binding_for(url, key):
                continue
        for name, entry in state.entries.items():
            ids.setdefault(entry.schedule_id, env.name)
            names.setdefault(name_key(name), env.name)
        for name, pending in state.pending.items():
            names.setdefault(name_key(name), env.name)
            if pending.old_schedule_id:
                ids.setdefault(pending.old_schedule_id, env.name)
    return Held(ids, names)


def refuse_same_app(ws: Workspace, environ: Mapping[str, str] | None = None) -> None:
    """ConfigError when another environment's credentials, set in this process's environment
    too, reach this command's app (a real one: the emulators are left to ``held_elsewhere``).

    Only an environment whose AppKey variable is another one than this environment's: a
    variable both read holds this run's key (GitHub environment secrets give every job the
    same names, each its own environment's values), which says nothing of the other's app."""
    if ws.target.banner is not None:  # not a real app
        return
    environ = os.environ if environ is None else environ
    server = same_server(ws.target.binding_endpoint)
    options = ws.options
    for env in _others(ws):
        if env.app_key_env == ws.env.app_key_env:
            continue
        try:
            credentials = credentials_from_env(environ, env.app_key_env, env.master_secret_env)
        except ReconcilerError:
            continue  # that environment's own commands say what is wrong with it
        url = _url_of(ws, env)
        if credentials is None or url is None:
            continue
        if credentials.app_key == ws.target.app_key and same_server(url) == server:
            raise ConfigError(
                f"the environments {ws.env.name!r} and {env.name!r} of {options.config_path} "
                f"reach the same app (its endpoint, and the AppKey in {ws.env.app_key_env} "
                f"and {env.app_key_env}): each would adopt, update and delete the other's "
                "tasks",
                hint="give each environment its own app (AppKey and endpoint or data_center), "
                "or manage the app from one of them",
            )
