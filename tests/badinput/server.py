"""Loopback HTTP servers for the bad-input, secrets and concurrency suites.

``serve_asgi`` runs any ASGI app under uvicorn in a background thread on 127.0.0.1 (like
``reconciler.testing.serve_emulator``, which only serves an ``Emulator``), so the real CLI can be
pointed at it with ``--endpoint``. ``ScriptedServer`` is such an app: it answers the vendor
endpoints with whatever a test scripts (an HTML error page, truncated JSON, a wrong shape) and
records every request, so a test can assert that no write call was made.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from reconciler.emulator.serve import base_url, bind_socket
from tests.kit import bodies

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
ASGIApp = Callable[..., Any]


@contextmanager
def serve_asgi(app: ASGIApp, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields the base URL."""
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the scripted server did not start")
        time.sleep(0.002)
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()


@dataclass(frozen=True)
class Answer:
    """What the scripted server sends back: status, raw body bytes, content type."""

    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(data).encode())

    @classmethod
    def raw(cls, text: str | bytes, status: int = 200, content_type: str = "text/html") -> Answer:
        body = text.encode() if isinstance(text, str) else text
        return cls(status, body, content_type)


@dataclass(frozen=True)
class Seen:
    """One request the scripted server received."""

    method: str
    path: str
    query: str
    authorization: str


Route = Callable[[str, str, str], Answer]  # (method, path, query) -> answer

TASK_ID = "00000000-0000-4000-8000-000000000001"


def task_body(name: str = "remote_task", schedule_id: str = TASK_ID) -> dict[str, Any]:
    """A well-formed detail object, as the vendor's detail GET returns it (docs/api.md 3)."""
    return {"schedule_id": schedule_id, **bodies.body(name, alert="Hi", sender=None)}


def page_of(*names_ids: tuple[str, str]) -> dict[str, Any]:
    rows = [{"schedule_id": sid, "name": n, "enabled": True} for n, sid in names_ids]
    return {"total_count": len(rows), "total_pages": 1 if rows else 0, "page": 1, "schedules": rows}


def healthy(method: str, path: str, query: str) -> Answer:
    """An app holding one task (``remote_task``); writes succeed (they must never be reached)."""
    if path == "/v4/schedules" and method == "GET":
        page = query.removeprefix("page=") or "1"
        if page == "1":
            return Answer.json(page_of(("remote_task", TASK_ID)))
        return Answer.json({"total_count": 1, "total_pages": 1, "page": int(page), "schedules": []})
    if path == f"/v4/schedules/{TASK_ID}" and method == "GET":
        return Answer.json([task_body()])
    if path == f"/v4/schedules/{TASK_ID}/msg-ids":
        return Answer.json({"count": 0, "MsgIds": []})
    if method in WRITE_METHODS:
        return Answer.json({"schedule_id": "new", "name": "x"})
    return Answer.json({"error": {"code": 28104, "message": "no such schedule"}}, 404)


@dataclass
class ScriptedServer:
    """An ASGI app answering ``/v4/`` requests through ``route``; records every request."""

    route: Route = healthy
    seen: list[Seen] = field(default_factory=list)
    # Echo the request's Authorization header back in a response header, as some debugging
    # proxies do (a way for credentials to reach logs that print response headers).
    echo_authorization: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:  # drain the request body
            message = await receive()
            if not message.get("more_body"):
                break
        headers = dict(scope.get("headers") or [])
        record = Seen(
            method=scope["method"],
            path=scope["path"],
            query=bytes(scope.get("query_string", b"")).decode("latin-1"),
            authorization=headers.get(b"authorization", b"").decode("latin-1"),
        )
        with self._lock:
            self.seen.append(record)
        answer = self.route(record.method, record.path, record.query)
        response_headers = [
            (b"content-type", answer.content_type.encode()),
            (b"content-length", str(len(answer.body)).encode()),
        ]
        if self.echo_authorization:
            response_headers.append((b"x-echo-authorization", record.authorization.encode()))
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    def reset(self, route: Route = healthy, *, echo_authorization: bool = False) -> None:
        with self._lock:
            self.route = route
            self.echo_authorization = echo_authorization
            self.seen.clear()

    def writes(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method in WRITE_METHODS]
