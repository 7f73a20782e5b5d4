"""Connection settings: which host to talk to, with which credentials, how fast and how patiently.

Everything here is resolved before the first network call, so a typo in a data-centre name or a
malformed AppKey is a clear error instead of a 401 from the wrong host (docs/api.md section 1).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reconciler.errors import ConfigError, CredentialsError
from reconciler.settings import (
    APP_KEY_ENV,
    CONCURRENCY,
    DATA_CENTER,
    MASTER_SECRET_ENV,
    RATE_LIMIT,
    READ_DEADLINE,
    TIMEOUT,
)

if TYPE_CHECKING:
    from reconciler.options import GlobalOptions

# docs/api.md section 1: an AppKey lives in exactly one data centre, each an API host of this
# one pattern.
DATA_CENTERS: dict[str, str] = {
    name: f"https://pushapi-{name}.engagelab.com" for name in DATA_CENTER.choices
}

APP_KEY_LENGTH = 24  # docs/api.md section 1

# The defaults of the rate, concurrency, timeout and read deadline a user can set are in the
# settings table (reconciler/settings.py); these are the client's own.
DEFAULT_MAX_RETRIES = 5
# The largest answer body read. The largest honest ones (a list page, a detail, a long msg-ids
# list, a batch of 500 results) are far below a MiB; a server sending more is not believed.
DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): traffic that never
    leaves the machine, the only place a plain-http endpoint may point."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` may not be used, when it is plain http to a host other than loopback.

    Every request carries the AppKey and Master Secret as HTTP Basic auth: over plain http they
    would cross the network readable by anyone on the path. A local emulator (loopback) is the
    one legitimate plain-http endpoint; everything else must be https (docs/github.md).
    Call it on an endpoint ``url_problem`` accepted (a malformed one cannot be split).
    """
    parts = urlsplit(endpoint)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            f"the endpoint {endpoint!r} is plain http to a host that is not this machine; "
            "the credentials would cross the network unencrypted"
        )
    return None


def has_credentials(url: str) -> bool:
    """Whether ``url`` holds a user name or password (``user:pass@host``).

    Found without parsing, as ``urlsplit`` finds it (an ``@`` between ``//`` and the next ``/``,
    ``?`` or ``#``), so a URL that does not parse is still never repeated in a message when
    what sits there looks like an AppKey and Master Secret.
    """
    authority = url.partition("//")[2] if "//" in url else ""
    return "@" in re.split(r"[/?#]", authority, maxsplit=1)[0]


# host[:port], where host is a bracketed IPv6 literal or a name / IPv4 address.
_AUTHORITY = re.compile(r"(?P<host>\[[^\[\]]*\]|[^\[\]:]*)(?::(?P<port>[^:]*))?")
# What a host name may hold: letters, digits, hyphens and dots (and the underscore some
# container networks put in service names); httpx would send anything else percent-encoded.
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")
_IPV4_STYLE = re.compile(r"[0-9]+(\.[0-9]+){3}")
_LAST_PORT = 65535
_LONGEST_LABEL = 63  # characters in one dot-separated part of a host name (RFC 1035)
_LONGEST_NAME = 253  # in the whole name, without a final dot


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) base URL a client can connect to, or None when it is.

    The one check of an endpoint's form, wherever it is given (``--endpoint``,
    ``RECONCILER_ENDPOINT``, ``endpoint:`` in reconciler.yaml), made before anything is read or
    sent: ``urlsplit`` raises on some malformed URLs and lets others through that httpx or the
    socket refuse much later, with a traceback (an unclosed ``[::1``, a port of ``abc`` or
    ``99999``), and port 0 would quietly become the scheme's default. The answer says what to
    fix, without the URL (the caller names it).
    """
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it contains a space or an invisible character"
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "?" in rest or "#" in rest:
        return "it has a query or fragment; give only scheme, host, port and optional path"
    if authority.startswith("[") and "]" not in authority:
        return "the IPv6 address in [ ] is not closed with ']'"
    shape = _AUTHORITY.fullmatch(authority)
    if shape is None:
        return "its host and port are not of the form HOST or HOST:PORT"
    host, port = shape["host"], shape["port"]
    if not host:
        return "it has no host"
    if host.startswith("["):
        try:
            IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address"
    elif _IPV4_STYLE.fullmatch(host):
        try:
            IPv4Address(host)
        except ValueError:
            return f"{host} is not an IPv4 address"
    elif not host.isascii() or any(label[:4].lower() == "xn--" for label in host.split(".")):
        # An international name: httpx encodes or decodes it (IDNA 2008) when it builds the
        # first request, and an invalid one failed there, after the manifests and the state
        # were read. Checked as httpx reads it; httpx is loaded only for these names.
        import httpx

        try:
            _ = httpx.URL(url).host  # a non-ASCII name is encoded, an xn-- one decoded
        except (httpx.InvalidURL, UnicodeError):
            return f"the host {host!r} is not a valid international domain name"
    elif not _HOST_NAME.fullmatch(host):
        return f"the host {host!r} is not a host name or IP address"
    elif len(host.rstrip(".")) > _LONGEST_NAME or any(
        not 0 < len(label) <= _LONGEST_LABEL for label in host.rstrip(".").split(".")
    ):
        # The socket's encoder (IDNA) refuses these with a UnicodeError at the first request.
        return (
            f"the host {host!r} has an empty part or a part over {_LONGEST_LABEL} characters, or "
            f"is over {_LONGEST_NAME}"
        )
    # Five digits at most: int() of thousands of digits is refused (and slow).
    digits = port is not None and port.isascii() and port.isdigit() and len(port) <= 5
    if port and not (digits and 1 <= int(port) <= _LAST_PORT):
        return f"the port {port!r} is not a number from 1 to {_LAST_PORT}"
    return None


def resolve_base_url(endpoint: str | None, data_center: str | None) -> str:
    """The API base URL (without ``/v4``): an explicit endpoint wins over a data-centre name.

    The endpoint exists for the emulator and for proxies; the data centre is what real apps use.
    """
    if endpoint:
        if has_credentials(endpoint):
            # Do not echo the URL: it holds what looks like credentials.
            raise ConfigError(
                "the endpoint URL contains a user name or password",
                hint="remove them from --endpoint / RECONCILER_ENDPOINT and set "
                "ENGAGELAB_APP_KEY and ENGAGELAB_MASTER_SECRET instead",
            )
        problem = url_problem(endpoint)
        if problem:
            raise ConfigError(
                f"--endpoint {endpoint!r} is not a valid http(s) URL: {problem}",
                hint="give a base URL such as http://127.0.0.1:8080 (--endpoint or "
                "RECONCILER_ENDPOINT)",
            )
        problem = plain_http_problem(endpoint)
        if problem:
            raise ConfigError(
                problem,
                hint="use https://, or http:// only for an emulator on 127.0.0.1 / localhost",
            )
        return endpoint.rstrip("/")
    name = (data_center or DATA_CENTER.default).lower()
    try:
        return DATA_CENTERS[name]
    except KeyError:
        known = ", ".join(DATA_CENTERS)
        raise ConfigError(
            f"unknown data centre {data_center!r}",
            hint=f"use one of {known} (--data-center or RECONCILER_DATA_CENTER)",
        ) from None


@dataclass(frozen=True)
class Credentials:
    """AppKey and Master Secret for HTTP Basic auth; never shown by repr or str."""

    app_key: str = field(repr=False)
    master_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(app_key=<hidden>, master_secret=<hidden>)"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never leave the process in a message or log line."""
        token = base64.b64encode(f"{self.app_key}:{self.master_secret}".encode()).decode()
        return tuple(s for s in (self.app_key, self.master_secret, token) if s)


def credentials_from_env(
    environ: Mapping[str, str],
    key_var: str = APP_KEY_ENV.default,
    secret_var: str = MASTER_SECRET_ENV.default,
) -> Credentials | None:
    """Credentials from the environment; None when neither variable is set.

    Half-set credentials or an AppKey that is not 24 characters are a CredentialsError, raised
    before any call (docs/api.md section 1). Empty values count as unset; surrounding whitespace
    (a trailing newline from a secrets file) is dropped.
    """
    app_key = environ.get(key_var, "").strip()
    secret = environ.get(secret_var, "").strip()
    if not app_key and not secret:
        return None
    if not app_key:
        raise CredentialsError(
            f"{secret_var} is set but {key_var} is not",
            hint=f"set {key_var} to the app's AppKey (24 characters), or unset both to use "
            "the embedded emulator",
        )
    if not secret:
        raise CredentialsError(
            f"{key_var} is set but {secret_var} is not",
            hint=f"set {secret_var} to the app's Master Secret, or unset both to use the "
            "embedded emulator",
        )
    if len(app_key) != APP_KEY_LENGTH:
        raise CredentialsError(
            f"{key_var} must be {APP_KEY_LENGTH} characters long, it has {len(app_key)}",
            hint="copy the AppKey again from the EngageLab console (app settings)",
        )
    return Credentials(app_key=app_key, master_secret=secret)


@dataclass(frozen=True)
class ClientSettings:
    """Everything the API client needs; built once, before any call.

    ``max_retries`` bounds retries of one request; ``retry_budget_min`` and
    ``retry_budget_ratio`` bound retries across the whole client (at most
    ``min + ratio * requests``), so a sick server is not hammered by every request's retries.
    """

    base_url: str
    credentials: Credentials
    rate_limit: float = RATE_LIMIT.default  # the ceiling of the adaptive rate
    concurrency: int | None = CONCURRENCY.default  # None: adaptive (Little's law)
    timeout: float = TIMEOUT.default
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_base: float = 0.5  # seconds; first retry waits up to this (full jitter)
    backoff_max: float = 20.0  # seconds; no single wait exceeds this...
    max_retry_after: float = 120.0  # ...except a Retry-After up to this; longer ones give up
    retry_budget_min: int = 20
    retry_budget_ratio: float = 0.5
    read_deadline: float = READ_DEADLINE.default  # seconds for a whole read of the remote side
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    def __post_init__(self) -> None:
        if self.rate_limit <= 0:
            raise ConfigError(f"rate limit must be positive, got {self.rate_limit}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout}")
        if self.max_retries < 0:
            raise ConfigError(f"max retries must be 0 or more, got {self.max_retries}")
        # "not >" also refuses NaN, which compares false with everything.
        if not self.read_deadline > 0 or self.read_deadline == float("inf"):
            raise ConfigError(f"read deadline must be a positive number, got {self.read_deadline}")
        if self.max_answer_bytes < 1:
            raise ConfigError(f"answer size cap must be positive, got {self.max_answer_bytes}")


def settings_from_options(
    options: GlobalOptions, credentials: Credentials, *, base_url: str | None = None
) -> ClientSettings:
    """ClientSettings from the top-level command's options (unset ones take the defaults).

    ``base_url`` overrides endpoint / data centre (the embedded emulator passes its own).
    """
    return ClientSettings(
        base_url=base_url or resolve_base_url(options.endpoint, options.data_center),
        credentials=credentials,
        rate_limit=options.rate_limit if options.rate_limit is not None else RATE_LIMIT.default,
        concurrency=options.concurrency,  # None: adaptive
        timeout=options.timeout if options.timeout is not None else TIMEOUT.default,
        read_deadline=(
            options.read_deadline if options.read_deadline is not None else READ_DEADLINE.default
        ),
    )
