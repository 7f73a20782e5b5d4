"""A hostile EngageLab server: the real emulator behind an ASGI layer that makes its answers lie.

``HostileApp`` wraps the emulator's Starlette app. Every request reaches the emulator (so the
world stays consistent: an honest ``apply`` creates real tasks), then the active ``Lie`` may
replace the honest answer with its own: a moved total, a repeated id, a renamed detail, an HTML
error page, a body dripped a byte at a time, a body of tens of MiB streamed from nothing, an id
made of path characters. Every request is recorded, so a test can assert that no write reached
the server while it lied. Served on 127.0.0.1 by ``tests.badinput.server.serve_asgi``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator import Emulator
from reconciler.emulator.app import create_app

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class Seen:
    """One request the hostile server received."""

    method: str
    path: str
    query: str

    @property
    def page(self) -> int | None:
        """The list page asked for, or None when this is not a list read."""
        if self.method != "GET" or self.path != "/v4/schedules":
            return None
        for part in self.query.split("&"):
            if part.startswith("page="):
                return int(part[5:])
        return 1

    @property
    def detail_of(self) -> str | None:
        """The id whose detail is asked for, or None."""
        prefix = "/v4/schedules/"
        if self.method == "GET" and self.path.startswith(prefix) and "/" not in self.path[14:]:
            return self.path[len(prefix) :]
        return None


@dataclass
class Answer:
    """What the server sends: status, headers, body chunks (and a pause before each)."""

    status: int
    body: bytes | AsyncIterator[bytes] = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(data).encode())

    @classmethod
    def html(cls, status: int, title: str, text: str = "", **headers: str) -> Answer:
        page = f"<html><head><title>{title}</title></head><body>{text}</body></html>"
        return cls(status, page.encode(), "text/html", dict(headers))

    def data(self) -> Any:
        """The JSON of an honest (byte) answer."""
        assert isinstance(self.body, bytes)
        return json.loads(self.body) if self.body else None


Honest = Callable[[], Awaitable[Answer]]


class Lie:
    """A way of answering falsely; ``answer`` may call ``honest()`` to start from the truth.

    ``refuse``: the text the tool's error must contain (it must stop with exit 1), or None when
    the answers, though wrong, leave the tool nothing to do (it may go on; it must not write).
    ``target`` (an id of a task the server holds) is chosen by the caller, so a campaign can
    aim each lie at another task.
    """

    name = "honest"
    refuse: str | None = None

    def __init__(self) -> None:
        self.target = ""
        self.lock = threading.Lock()
        self.count = 0

    def bump(self) -> int:
        with self.lock:
            self.count += 1
            return self.count

    async def answer(self, seen: Seen, honest: Honest) -> Answer:
        return await honest()

    def __repr__(self) -> str:
        return self.name


class HostileApp:
    """The emulator's app with a ``Lie`` in front; records every request."""

    def __init__(self, emulator: Emulator) -> None:
        self.inner = create_app(emulator)
        self.lie: Lie = Lie()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def use(self, lie: Lie) -> None:
        with self._lock:
            self.lie = lie
            self.seen.clear()

    def writes(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method in WRITE_METHODS]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        seen = Seen(
            method=scope["method"],
            path=scope["path"],
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
        )
        with self._lock:
            self.seen.append(seen)
            lie = self.lie

        async def honest() -> Answer:
            return await self._honest(scope, receive)

        answer = await lie.answer(seen, honest)
        await _send(answer, send)

    async def _honest(self, scope: dict[str, Any], receive: Any) -> Answer:
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    headers[key.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.inner(scope, receive, capture)
        content_type = headers.pop("content-type", "application/json")
        headers.pop("content-length", None)
        return Answer(status, b"".join(chunks), content_type, headers)


async def _send(answer: Answer, send: Any) -> None:
    headers = [(b"content-type", answer.content_type.encode())]
    headers += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
    if isinstance(answer.body, bytes):
        headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if isinstance(answer.body, bytes):
        await send({"type": "http.response.body", "body": answer.body})
        return
    try:
        async for chunk in answer.body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except (OSError, asyncio.CancelledError):
        return  # the client hung up (it stopped reading): what a capped reader does


async def drip(body: bytes, pause: float) -> AsyncIterator[bytes]:
    """``body`` one byte at a time, ``pause`` seconds apart (a slow-loris answer)."""
    for i in range(len(body)):
        await asyncio.sleep(pause)
        yield body[i : i + 1]


async def flood(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a JSON list that never ends, made up as they are sent."""
    piece = b"[" + b" " * (chunk - 1)
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)
        piece = b" " * chunk
