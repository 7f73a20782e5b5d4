"""Helpers for tests, ours and users': run the emulator over real HTTP on loopback.

``serve_emulator`` starts uvicorn in a background thread on 127.0.0.1 with a free port and
yields the base URL; leaving the ``with`` block stops the server and saves the emulator's data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.emulator import Emulator
from reconciler.emulator.serve import base_url, bind_socket, build_server


@contextmanager
def serve_emulator(
    emulator: Emulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve ``emulator`` over HTTP; yields the base URL, e.g. ``"http://127.0.0.1:53211"``."""
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]
    server = build_server(
        emulator, sock, log_level=log_level, configure_logging=False, graceful_seconds=2
    )
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"emulator-{bound_port}",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the emulator did not start on {host}:{bound_port}")
        time.sleep(0.002)
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
        emulator.save()
