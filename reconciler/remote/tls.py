"""The TLS context of the client: loaded once, off the critical path of a command.

Loading the CA bundle takes ~17 ms; ``prepare_tls`` starts it in a thread as soon as the target
is known (``reconciler.config.session``), so the context is ready when the client is made.
"""

from __future__ import annotations

import ssl
import threading
from concurrent.futures import Future
from urllib.parse import urlsplit

import httpx

_tls_ready: Future[ssl.SSLContext] | None = None


def prepare_tls() -> None:
    """Start loading the CA bundle in a thread (17 ms; OpenSSL reads it without the GIL).

    Called when the target is known, so that the context is ready by the time the manifests
    are read and the first request goes out. Idempotent.
    """
    global _tls_ready
    if _tls_ready is not None:
        return
    future: Future[ssl.SSLContext] = Future()
    _tls_ready = future

    def build() -> None:
        try:
            future.set_result(httpx.create_ssl_context())
        except BaseException as exc:  # handed to the caller of tls_context
            future.set_exception(exc)

    # Not a daemon: a command that fails fast must not finalise the interpreter while the
    # thread is inside OpenSSL (that crashed the process with SIGSEGV); exit waits ~17 ms.
    threading.Thread(target=build, name="reconciler-tls").start()


def tls_context(base_url: str) -> ssl.SSLContext:
    """The verifying TLS context for ``https`` endpoints.

    A plain ``http`` endpoint (an emulator on loopback) never handshakes and redirects are not
    followed, so it gets an empty client context: it costs nothing and, should it ever be used,
    it trusts no certificate at all rather than every one.
    """
    if urlsplit(base_url).scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    prepare_tls()
    assert _tls_ready is not None
    return _tls_ready.result()
