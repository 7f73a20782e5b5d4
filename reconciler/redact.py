"""Keep the configured credentials out of every message the reconciler prints.

One job: replace any value equal to a configured credential (the AppKey and Master Secret in
the environment variables the configuration names, and their Basic-auth token) in a text about
to be shown. Errors quote user files (a manifest that is a copy of ``.env``, a mistyped key
that happens to be the secret); whatever their source, a credential never reaches the
terminal, a CI log or a pull-request annotation.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping

DEFAULT_VARIABLES = ("ENGAGELAB_APP_KEY", "ENGAGELAB_MASTER_SECRET")
REDACTED = "<redacted>"
# Shorter values would redact ordinary words; no real AppKey (24 characters) or Master Secret
# is this short.
MIN_SECRET_LENGTH = 6

_variables: dict[str, None] = dict.fromkeys(DEFAULT_VARIABLES)


def watch(names: Iterable[str]) -> None:
    """Also treat the values of these environment variables as credentials.

    Called with the ``app_key_env`` / ``master_secret_env`` of every configured environment.
    """
    for name in names:
        _variables.setdefault(name, None)


def secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The credential values to hide, longest first (so no longer one is hidden only in part)."""
    env = os.environ if environ is None else environ
    values = [env.get(name, "").strip() for name in _variables]
    found = [v for v in values if len(v) >= MIN_SECRET_LENGTH]
    tokens = [  # the Basic-auth header value of any key:secret pair among them
        base64.b64encode(f"{a}:{b}".encode()).decode("ascii")
        for a in found
        for b in found
        if a != b
    ]
    return sorted(set(found + tokens), key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every configured credential replaced by ``<redacted>``."""
    for value in secrets(environ):
        if value in text:
            text = text.replace(value, REDACTED)
    return text
