"""HTTP Basic authentication as the vendor does it (docs/api.md section 1), in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Literal

from reconciler.emulator.wire import APP_KEY_LENGTH

AuthResult = Literal["ok", "failed", "bad_length"]


def check_basic_auth(header: str | None, app_key: str, master_secret: str) -> AuthResult:
    """ "ok", "failed", or "bad_length" when the AppKey is not 24 characters (batch: 21008)."""
    if not header or not header.startswith("Basic "):
        return "failed"
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "failed"
    user, sep, password = decoded.partition(":")
    if not sep:
        return "failed"
    if len(user) != APP_KEY_LENGTH:
        return "bad_length"
    key_ok = hmac.compare_digest(user.encode(), app_key.encode())
    secret_ok = hmac.compare_digest(password.encode(), master_secret.encode())
    return "ok" if key_ok and secret_ok else "failed"
