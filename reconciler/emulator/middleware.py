"""Fault injection and request logging around the vendor endpoints, and the outermost answer
layer, as raw ASGI middleware.

``AnswerLayer`` wraps everything: every answer gets a ``Date`` header from the emulator's own
clock, and an unexpected exception becomes the vendor's 500/28200 envelope instead of a plain
text page.

``FaultLayer``, for every ``/v4/`` request: latency (plus jitter), then the request-rate limit
(schedule endpoints only, answered in the ``rate_limit_shape`` chosen: 429 with ``Retry-After``
or 400/28100; batch targets are limited per target inside the handler), then injected server
errors (500/28200 or 503/28203, nothing applied), then the handler, then "commit then time out"
for successful writes: the write is applied, but the answer is held for ``hang_seconds`` or the
connection dropped after the status line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from email.utils import format_datetime
from typing import Any

import httpx
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator import wire
from reconciler.emulator.core import Emulator, RequestRecord
from reconciler.printable import escaped

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
# Where a handler notes the injected fault its answer stands for (read back for the log).
FAULT_KEY = "emulator.fault"
logger = logging.getLogger("reconciler.emulator")


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised to drop a connection after a committed write ("commit then time out").

    Under uvicorn the connection is closed after the status line, so the client sees a broken
    response; under ``httpx.ASGITransport`` this exception reaches the client itself, which is
    why it is an ``httpx.TransportError``: both look like a dropped connection to the caller.
    """


class AnswerLayer:
    """ASGI middleware around the whole app: ``Date`` from the emulator clock, no bare 500s."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def dated(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # The client takes this header as the server's clock: it must be the emulated
                # time (injected or advanced), not the machine's.
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", http_date(self.emulator).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, dated)
        except ClientDisconnect:
            # The client went away before its request body arrived: nobody to answer, and
            # nothing wrong with the emulator (no traceback in its output).
            logger.debug("emulator: %s closed before its body arrived", _shown_path(scope))
        except Exception:
            if started:  # a dropped answer (ConnectionDropped) or a failure mid-body
                raise
            logger.exception("emulator: unexpected error answering %s", _shown_path(scope))
            body = wire.error_body(wire.SCHEDULE_INTERNAL, "Server Internal error.")
            await _send_json(dated, 500, body)


def http_date(emulator: Emulator) -> str:
    """The emulator's current time as an HTTP date (RFC 9110: IMF-fixdate, GMT)."""
    return format_datetime(emulator.now().astimezone(UTC).replace(microsecond=0), usegmt=True)


class FaultLayer:
    """ASGI middleware applying ``emulator.faults`` and filling ``emulator.request_log``."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v4/"):
            await self.app(scope, receive, send)
            return
        em = self.emulator
        dice = em.dice
        method: str = scope["method"]
        path: str = scope["path"]
        query = bytes(scope.get("query_string", b"")).decode("latin-1")

        def log(status: int, fault: str | None = None) -> None:  # always before answering
            em.log_request(RequestRecord(method, path, status, query, fault))

        delay = dice.delay()
        if delay > 0:
            await em.sleep(delay)

        if path.startswith("/v4/schedules"):
            retry_after = dice.rate_limited()
            if retry_after is not None:
                log(429 if em.faults.rate_limit_shape == "429" else 400, "rate_limit")
                if em.faults.rate_limit_shape == "429":
                    message = f"{wire.RATE_LIMIT_MESSAGE}: retry after {retry_after} s"
                    await _send_json(
                        send,
                        429,
                        wire.error_body(wire.SCHEDULE_INVALID, message),
                        [(b"retry-after", str(retry_after).encode())],
                    )
                else:
                    # The schedule page's own shape: 28100 at HTTP 400, no Retry-After.
                    body = wire.error_body(wire.SCHEDULE_INVALID, wire.RATE_LIMIT_MESSAGE)
                    await _send_json(send, 400, body)
                return

        if dice.server_error():
            if dice.pick_unavailable():
                status, code = 503, wire.SCHEDULE_TIMEOUT
                message = "Execute action timeout, please try later again"
            else:
                status, code, message = 500, wire.SCHEDULE_INTERNAL, "Server Internal error."
            log(status, "error")
            await _send_json(send, status, wire.error_body(code, message))
            return

        commit = dice.commit_fault() if method in WRITE_METHODS else None
        if commit is None:

            async def watch(message: Message) -> None:
                # Log before the client can see the answer, so a test that reads the log right
                # after its request finds the record there.
                if message["type"] == "http.response.start":
                    log(message["status"], scope.get(FAULT_KEY))
                await send(message)

            await self.app(scope, receive, watch)
            return

        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = held[0]["status"]
        if not 200 <= status < 300:  # nothing was committed: answer normally
            log(status, scope.get(FAULT_KEY))
            for held_message in held:
                await send(held_message)
            return
        log(status, commit)
        if commit == "hang":
            await em.sleep(em.faults.hang_seconds)
            for held_message in held:
                await send(held_message)
            return
        await send(held[0])
        raise ConnectionDropped(f"emulator fault: dropped the answer to {method} {path}")


async def _send_json(
    send: Send, status: int, body: Any, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [
        (b"content-type", wire.JSON_UTF8.encode()),
        (b"content-length", str(len(payload)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _shown_path(scope: Scope) -> str:
    """A request's path for the log: decoded by the server, so any client's "%0A::error::..."
    or "%1B" is a line break or an escape there; spelled out (``printable.escaped``)."""
    return escaped(str(scope.get("path")))
