"""The lean HTTP/1.1 transport (reconciler.remote.wire) against scripted servers on loopback.

What the retry layer decides on must come out as before: no connection is ``ConnectError``
(never sent), a connection that ends without an answer is ``RemoteProtocolError`` (maybe
sent). And what httpcore did for safety must still hold: a connection is reused only after a
clean exchange, never with bytes that are nobody's answer waiting on it, and an answer being
read holds a bounded number of bytes in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler.remote import wire
from reconciler.remote.transport import Lost, TooLarge, Transport
from tests.client.helpers import settings
from tests.kit.clock import FakeClock

OK = b'{"ok": 1}'


def answer(body: bytes = OK, *, extra: bytes = b"", status: str = "200 OK") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(body)}\r\n{extra.decode()}\r\n").encode() + body


# A handler gets the request head (bytes up to the blank line) and the stream writer, and says
# what to do next with the connection: True keeps serving it, False closes it.
Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]


class Server:
    """A loopback server that reads requests (heads, and bodies by Content-Length) and answers
    each by ``handler``; counts connections and requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.requests.append(head)
                if not await self.handler(head, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def transport(clock: FakeClock | None = None) -> wire.WireTransport:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if clock is None:
        return wire.WireTransport(tls=tls, connect_timeout=5)
    return wire.WireTransport(tls=tls, connect_timeout=5, clock=clock.monotonic)


async def get(client: httpx.AsyncClient, path: str = "/v4/schedules") -> httpx.Response:
    response = await client.get(path)
    return response


def client_for(url: str, t: wire.WireTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=t)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# -- keep-alive ---------------------------------------------------------------------------------


async def _answers_ok(head: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer())
    return True


def test_a_connection_is_reused_after_a_clean_answer() -> None:
    async def scenario() -> None:
        async with Server(_answers_ok) as server, client_for(server.url, transport()) as client:
            for _ in range(5):
                response = await get(client)
                assert response.json() == {"ok": 1}
            assert server.connections == 1
            assert len(server.requests) == 5

    run(scenario())


def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def close_after_answer(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer())
        return False  # answered, then closed: the next request needs a new connection

    async def scenario() -> None:
        async with Server(close_after_answer) as server:
            async with client_for(server.url, transport()) as client:
                for _ in range(3):
                    assert (await get(client)).json() == {"ok": 1}
                    await asyncio.sleep(0.05)  # the close arrives while the connection is idle
            assert server.connections == 3

    run(scenario())


def test_an_answer_that_says_connection_close_ends_the_connection() -> None:
    async def says_close(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(extra=b"Connection: close\r\n"))
        return True  # the server would go on; the client must not

    async def scenario() -> None:
        async with Server(says_close) as server, client_for(server.url, transport()) as client:
            for _ in range(3):
                assert (await get(client)).json() == {"ok": 1}
            assert server.connections == 3

    run(scenario())


def test_an_idle_connection_expires_after_five_seconds() -> None:
    clock = FakeClock(now=100.0)

    async def scenario() -> None:
        async with Server(_answers_ok) as server, client_for(server.url, transport(clock)) as c:
            await get(c)
            clock.now += 4.9
            await get(c)
            assert server.connections == 1
            clock.now += 5.1
            await get(c)
            assert server.connections == 2

    run(scenario())


# -- answers that are nobody's --------------------------------------------------------------------


def test_bytes_after_an_answer_are_never_read_as_the_next_answer() -> None:
    """A server that answers one request twice: the second answer must not become the answer
    to the next request (a create would be taken as done with another task's id)."""
    count = 0

    async def answers_twice(head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal count
        count += 1
        writer.write(answer(f'{{"n": {count}}}'.encode()))
        if count == 1:
            await writer.drain()
            await asyncio.sleep(0.02)  # after the client has taken its answer
            writer.write(answer(b'{"n": "stale"}'))
        return True

    async def scenario() -> None:
        async with Server(answers_twice) as server, client_for(server.url, transport()) as client:
            assert (await get(client)).json() == {"n": 1}
            await asyncio.sleep(0.05)
            assert (await get(client)).json() == {"n": 2}
            assert server.connections == 2

    run(scenario())


def test_bytes_that_arrive_with_the_answer_end_the_connection_too() -> None:
    async def glued(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer() + answer(b'{"n": "stale"}'))  # one write: one segment
        return True

    async def scenario() -> None:
        async with Server(glued) as server, client_for(server.url, transport()) as client:
            assert (await get(client)).json() == {"ok": 1}
            assert (await get(client)).json() == {"ok": 1}
            assert server.connections == 2

    run(scenario())


# -- failures, as the retry layer sees them ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_connection_is_a_connect_error_and_never_sent() -> None:
    async def scenario() -> None:
        url = f"http://127.0.0.1:{_free_port()}"
        t = Transport(settings(base_url=url, max_retries=0), transport=None)
        try:
            with pytest.raises(Lost) as lost:
                await t._attempt("POST", "/v4/schedules", {"name": "x"}, 1)
        finally:
            await t.aclose()
        assert lost.value.sent is False
        assert isinstance(lost.value.cause, httpx.ConnectError)

    run(scenario())


def test_a_connection_dropped_without_an_answer_may_have_been_sent() -> None:
    async def drops(head: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def scenario() -> None:
        async with Server(drops) as server:
            t = Transport(settings(base_url=server.url), transport=None)
            try:
                with pytest.raises(Lost) as lost:
                    await t._attempt("POST", "/v4/schedules", {"name": "x"}, 1)
            finally:
                await t.aclose()
        assert lost.value.sent is True
        assert isinstance(lost.value.cause, httpx.RemoteProtocolError)
        assert "without sending a response" in lost.value.description

    run(scenario())


def test_an_answer_cut_short_is_a_protocol_error() -> None:
    async def cut(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b'{"ok": 1}')[:-3])
        return False

    async def scenario() -> None:
        async with Server(cut) as server, client_for(server.url, transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await get(client)

    run(scenario())


def test_a_head_larger_than_100_kib_is_refused() -> None:
    async def huge_head(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (200 * 1024))
        return True

    async def scenario() -> None:
        async with Server(huge_head) as server, client_for(server.url, transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await get(client)

    run(scenario())


def test_garbage_instead_of_http_is_a_protocol_error() -> None:
    async def garbage(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        return True

    async def scenario() -> None:
        async with Server(garbage) as server, client_for(server.url, transport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await get(client)

    run(scenario())


# -- bodies ---------------------------------------------------------------------------------------


def test_chunked_close_delimited_and_informational_answers_are_read_whole() -> None:
    body = json.dumps({"items": list(range(2000))}).encode()
    kinds = iter(["chunked", "close", "informational"])

    async def varied(head: bytes, writer: asyncio.StreamWriter) -> bool:
        kind = next(kinds)
        if kind == "chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 1000):
                piece = body[i : i + 1000]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            writer.write(b"0\r\n\r\n")
            return True
        if kind == "close":
            writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + body)
            return False
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(body))
        return True

    async def scenario() -> None:
        async with Server(varied) as server, client_for(server.url, transport()) as client:
            for _ in range(3):
                response = await get(client)
                assert response.status_code == 200
                assert response.content == body

    run(scenario())


def test_a_flood_is_read_only_as_far_as_the_reader_asks() -> None:
    """A server that sends 64 MiB: the client keeps at most its buffer unread, and the
    size cap stops the read (nothing else is kept in memory)."""
    size = 64 * 1024 * 1024
    sent = 0

    async def flood(head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal sent
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"x" * 65536
        try:
            while sent < size:
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        return False

    async def scenario() -> None:
        async with Server(flood) as server:
            t = transport()
            async with (
                client_for(server.url, t) as client,
                client.stream("GET", "/v4/schedules") as response,
            ):
                stream = response.aiter_raw()
                await stream.__anext__()  # one chunk read, then the reader stops
                await asyncio.sleep(0.3)  # the server goes on writing meanwhile
                (conn,) = t._open
                assert conn._paused
                assert conn._buffered <= wire.BUFFER_BYTES + 256 * 1024
            assert sent < size / 4  # the server was held up by the unread data
            assert not t._idle.get(("http", "127.0.0.1", int(server.url.rsplit(":", 1)[1])))

    run(scenario())


def test_an_answer_over_the_cap_is_too_large_and_its_connection_closed() -> None:
    async def big(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(64):
            writer.write(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    async def scenario() -> None:
        async with Server(big) as server:
            t = Transport(settings(base_url=server.url, max_answer_bytes=1024 * 1024))
            try:
                with pytest.raises(TooLarge):
                    await t._attempt("GET", "/v4/schedules", None, 1)
            finally:
                await t.aclose()

    run(scenario())


def test_a_cancelled_request_closes_its_connection() -> None:
    async def slow(head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.5)
        writer.write(answer())
        return True

    async def scenario() -> None:
        async with Server(slow) as server:
            t = transport()
            async with client_for(server.url, t) as client:
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await get(client)
                assert not t._open  # an answer that may still come is nobody's
                assert (await get(client)).json() == {"ok": 1}
            assert server.connections == 2

    run(scenario())


# -- which transport ------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"])
def test_a_proxy_in_the_environment_leaves_the_requests_to_httpx(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for scheme in ("https", "http", "all"):
        monkeypatch.delenv(f"{scheme}_proxy", raising=False)
        monkeypatch.delenv(f"{scheme.upper()}_PROXY", raising=False)
    assert not wire.uses_proxy()
    t = Transport(settings(base_url="http://127.0.0.1:9"))
    assert isinstance(t._http._transport, wire.WireTransport)
    run(t.aclose())
    monkeypatch.setenv(variable, "http://proxy.invalid:3128")
    assert wire.uses_proxy()
    t = Transport(settings(base_url="http://127.0.0.1:9"))
    assert not isinstance(t._http._transport, wire.WireTransport)
    run(t.aclose())
