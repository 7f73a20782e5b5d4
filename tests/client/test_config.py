"""Connection settings: base URL, credentials from the environment, limits."""

from __future__ import annotations

import pytest

from reconciler.config.connection import (
    DATA_CENTERS,
    ClientSettings,
    Credentials,
    credentials_from_env,
    resolve_base_url,
    settings_from_options,
)
from reconciler.errors import ConfigError, CredentialsError
from reconciler.options import GlobalOptions

from .helpers import CANARY_KEY, CANARY_SECRET, CREDS


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("sgp", "pushapi-sgp"),
        ("hk", "pushapi-hk"),
        ("usva", "pushapi-usva"),
        ("defra", "pushapi-defra"),
        ("jpn", "pushapi-jpn"),
        ("bra", "pushapi-bra"),
        ("SGP", "pushapi-sgp"),
    ],
)
def test_each_data_centre_maps_to_its_host(name: str, host: str) -> None:
    """Every data centre of docs/api.md section 1 resolves to its own host, case-insensitively."""
    assert resolve_base_url(None, name) == f"https://{host}.engagelab.com"


def test_default_data_centre_is_singapore() -> None:
    """Without endpoint or data centre the client talks to Singapore (docs/api.md section 1)."""
    assert resolve_base_url(None, None) == DATA_CENTERS["sgp"]


def test_explicit_endpoint_wins_and_loses_its_trailing_slash() -> None:
    """--endpoint (the emulator) overrides the data centre."""
    assert resolve_base_url("http://127.0.0.1:8080/", "hk") == "http://127.0.0.1:8080"


def test_unknown_data_centre_lists_the_valid_ones() -> None:
    """A typo in the data centre is an error naming the valid choices."""
    with pytest.raises(ConfigError) as info:
        resolve_base_url(None, "fra")
    assert "'fra'" in info.value.message
    assert info.value.hint is not None
    assert "defra" in info.value.hint


def test_endpoint_that_is_not_http_is_refused() -> None:
    """An endpoint without http(s) scheme and host is a clear ConfigError."""
    with pytest.raises(ConfigError, match="not a valid http"):
        resolve_base_url("127.0.0.1:8080", None)


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("http://[::1", "not closed with ']'"),  # urlsplit raised ValueError
        ("http://[zz]:8080", "[zz] is not an IPv6 address"),
        ("http://[::1]x:8080", "HOST:PORT"),
        ("http://127.0.0.1:99999", "port '99999'"),  # the socket raised OverflowError
        ("http://127.0.0.1:abc", "port 'abc'"),  # httpx raised InvalidURL
        ("http://127.0.0.1:0", "port '0'"),  # quietly became port 80
        ("http://127.0.0.1:-1", "port '-1'"),
        ("http://127.0.0.1:" + "9" * 5000, "port '999"),
        ("http://999.1.1.1:8080", "not an IPv4 address"),
        ("http://local host:8080", "a space"),
        ("https://exa\x00mple.com", "invisible character"),
        ("https://ex%41mple.com", "not a host name"),
        ("https://xn--zz.com", "not a valid international"),  # httpx raised at the first request
        ("https://☃.com", "not a valid international"),
        ("http://127.0.0.1:8080/?x=1", "query"),
        ("http://:8080", "no host"),
        # the socket's IDNA encoder raised UnicodeError at the first request
        ("https://a..b.invalid", "an empty part"),
        ("https://.invalid", "an empty part"),
        ("https://" + "a" * 64 + ".com", "over 63 characters"),
        ("https://" + ".".join(["a" * 60] * 5), "over 253"),
    ],
)
def test_malformed_endpoint_is_a_config_error_naming_the_option(endpoint: str, why: str) -> None:
    """A malformed endpoint is refused before any client exists, naming --endpoint and what is
    wrong; it used to escape as ValueError, OverflowError or httpx.InvalidURL, or to connect to
    another port than the one written."""
    with pytest.raises(ConfigError) as info:
        resolve_base_url(endpoint, None)
    assert info.value.message.startswith(f"--endpoint {endpoint!r} is not a valid http(s) URL: ")
    assert why in info.value.message
    assert "--endpoint" in (info.value.hint or "")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://[::1]:8080",
        "http://127.0.0.1:",  # an empty port is the scheme's own
        "http://localhost:65535/prefix",
        "HTTPS://Example.COM:8443",
        "https://xn--d1acufc.xn--p1ai",
        "https://пример.рф",  # httpx sends it as xn--e1afmkfd.xn--p1ai
        "https://push_proxy.internal",
        "https://example.com.",  # a final dot: the root, not an empty part
    ],
)
def test_well_formed_endpoints_are_accepted(endpoint: str) -> None:
    """The check refuses what cannot be connected to, not unusual but valid URLs."""
    assert resolve_base_url(endpoint, None) == endpoint


def test_endpoint_with_credentials_is_refused_without_echoing_them() -> None:
    """Credentials in the endpoint URL are refused, and the message does not repeat them."""
    with pytest.raises(ConfigError) as info:
        resolve_base_url(f"https://{CANARY_KEY}:{CANARY_SECRET}@example.com", None)
    text = f"{info.value.message} {info.value.hint}"
    assert CANARY_KEY not in text
    assert CANARY_SECRET not in text


def test_no_credentials_in_the_environment_gives_none() -> None:
    """Neither variable set means "use the embedded emulator", not an error."""
    assert credentials_from_env({}) is None
    assert credentials_from_env({"ENGAGELAB_APP_KEY": "", "ENGAGELAB_MASTER_SECRET": " "}) is None


def test_credentials_are_read_and_stripped() -> None:
    """A trailing newline from a secrets file does not end up in the Basic auth header."""
    creds = credentials_from_env(
        {"ENGAGELAB_APP_KEY": CANARY_KEY + "\n", "ENGAGELAB_MASTER_SECRET": CANARY_SECRET}
    )
    assert creds == Credentials(CANARY_KEY, CANARY_SECRET)


def test_secret_without_app_key_is_an_error() -> None:
    """Half-set credentials are refused before any call, naming the missing variable."""
    with pytest.raises(CredentialsError, match="ENGAGELAB_APP_KEY is not"):
        credentials_from_env({"ENGAGELAB_MASTER_SECRET": CANARY_SECRET})


def test_app_key_without_secret_is_an_error() -> None:
    """Half-set credentials are refused before any call, naming the missing variable."""
    with pytest.raises(CredentialsError, match="ENGAGELAB_MASTER_SECRET is not"):
        credentials_from_env({"ENGAGELAB_APP_KEY": CANARY_KEY})


def test_app_key_of_wrong_length_is_an_error_that_does_not_show_it() -> None:
    """An AppKey must be 24 characters (docs/api.md 1); the message gives only its length."""
    bad = CANARY_KEY[:20]
    with pytest.raises(CredentialsError) as info:
        credentials_from_env({"ENGAGELAB_APP_KEY": bad, "ENGAGELAB_MASTER_SECRET": "x"})
    assert "24 characters" in info.value.message
    assert "has 20" in info.value.message
    assert bad not in str(info.value)


def test_custom_variable_names_are_honoured() -> None:
    """Environments may keep their credentials under their own variable names."""
    creds = credentials_from_env(
        {"PROD_KEY": CANARY_KEY, "PROD_SECRET": CANARY_SECRET},
        key_var="PROD_KEY",
        secret_var="PROD_SECRET",
    )
    assert creds is not None
    assert creds.master_secret == CANARY_SECRET


def test_credentials_repr_and_settings_repr_hide_both_values() -> None:
    """Neither repr nor str of credentials or settings shows the AppKey or the secret."""
    text = " ".join(
        [repr(CREDS), str(CREDS), repr(ClientSettings(base_url="http://x", credentials=CREDS))]
    )
    assert CANARY_KEY not in text
    assert CANARY_SECRET not in text
    assert "<hidden>" in text


@pytest.mark.parametrize(
    "bad",
    [{"rate_limit": 0}, {"concurrency": 0}, {"timeout": 0}, {"max_retries": -1}],
)
def test_impossible_limits_are_config_errors(bad: dict[str, float]) -> None:
    """Zero rate, concurrency or timeout cannot work and is refused up front."""
    with pytest.raises(ConfigError):
        ClientSettings(base_url="http://x", credentials=CREDS, **bad)  # type: ignore[arg-type]


def test_settings_from_options_take_defaults_for_unset_options() -> None:
    """Unset global options fall back to a 500 req/s ceiling (the vendor's published quota),
    an adaptive window (None) and 30 s."""
    s = settings_from_options(GlobalOptions(data_center="hk"), CREDS)
    assert (s.base_url, s.rate_limit, s.concurrency, s.timeout) == (
        DATA_CENTERS["hk"],
        500.0,
        None,
        30.0,
    )


def test_settings_from_options_use_the_given_options() -> None:
    """--endpoint, --rate-limit, --concurrency and --timeout reach the client settings."""
    opts = GlobalOptions(endpoint="http://127.0.0.1:9", rate_limit=5, concurrency=2, timeout=1.5)
    s = settings_from_options(opts, CREDS)
    assert (s.base_url, s.rate_limit, s.concurrency, s.timeout) == (
        "http://127.0.0.1:9",
        5,
        2,
        1.5,
    )
