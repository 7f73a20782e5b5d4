"""Fault injection and request logging around the vendor endpoints, as raw ASGI middleware.

Order for every ``/v4/`` request: latency (plus jitter), then the request-rate limit (429 with
``Retry-After``, schedule endpoints only; batch targets are limited per target inside the
handler), then injected server errors (500/28200 or 503/28203, nothing applied), then the
handler, then "commit then time out" for successful writes: the write is applied, but the answer
is held for ``hang_seconds`` or the connection dropped after the status line.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.emulator import wire
from reconciler.emulator.core import Emulator, RequestRecord

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised to drop a connection after a committed write ("commit then time out").

    Under uvicorn the connection is closed after the status line, so the client sees a broken
    response; under ``httpx.ASGITransport`` this exception reaches the client itself, which is
    why it is an ``httpx.TransportError``: both look like a dropped connection to the caller.
    """


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
                message = f"rate limit exceeded: retry after {retry_after} s"
                log(429, "rate_limit")
                await _send_json(
                    send,
                    429,
                    wire.error_body(wire.SCHEDULE_INVALID, message),
                    [(b"retry-after", str(retry_after).encode())],
                )
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
                    log(message["status"])
                await send(message)

            await self.app(scope, receive, watch)
            return

        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = held[0]["status"]
        if not 200 <= status < 300:  # nothing was committed: answer normally
            log(status)
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
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
