"""Run an emulator app under uvicorn on an already-bound socket (for the CLI and for tests).

Binding the socket ourselves lets ``port=0`` pick a free port whose number is known before the
server starts, and keeps uvicorn's own signal handling out of background threads.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

from reconciler.emulator.app import create_app
from reconciler.emulator.core import Emulator
from reconciler.emulator.middleware import ConnectionDropped


class _HideDroppedConnections(logging.Filter):
    """uvicorn logs a traceback for every dropped answer; for an injected fault that is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_FILTER = _HideDroppedConnections()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 picks a free one).

    It listens at once, so a client that connects before uvicorn has started waits in the
    backlog instead of being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    """The ``http://host:port`` a bound socket serves (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_server(
    emulator: Emulator,
    sock: socket.socket,
    *,
    log_level: str = "info",
    configure_logging: bool = True,
    graceful_seconds: int = 5,
) -> uvicorn.Server:
    """A uvicorn server for ``emulator``; run it with ``server.run(sockets=[sock])``.

    ``configure_logging=False`` leaves the process's logging configuration alone (tests).
    """
    host, port = sock.getsockname()[:2]
    kwargs: dict[str, Any] = {}
    if not configure_logging:
        kwargs["log_config"] = None
    config = uvicorn.Config(
        create_app(emulator),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        date_header=False,  # the app sends Date from the emulator's clock
        timeout_graceful_shutdown=graceful_seconds,
        **kwargs,
    )
    logging.getLogger("uvicorn.error").addFilter(_FILTER)
    return uvicorn.Server(config)
