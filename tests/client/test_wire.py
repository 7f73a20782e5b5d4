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
import os
import resource
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from reconciler.errors import ConfigError
from reconciler.remote import transport as transport_module
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


class ThreadedServer:
    """A loopback server in its own thread (it goes on while the client's event loop is
    blocked): answers each request with ``{"n": count}``; after the first answer it sends a
    stale second answer, or closes, 5 ms later."""

    def __init__(self, late: str) -> None:
        self.late = late
        self.connections = 0
        self.answered = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, contextlib.suppress(OSError):  # the client may reset it
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, data = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(data) < length:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            data = data[length:]
            self.answered += 1
            conn.sendall(answer(f'{{"n": {self.answered}}}'.encode()))
            if self.answered == 1:
                time.sleep(0.005)
                if self.late == "close":
                    return
                conn.sendall(answer(b'{"n": "stale"}'))

    def close(self) -> None:
        self._listener.close()


@pytest.mark.parametrize("late", ["stale answer", "close"])
def test_what_arrives_while_the_loop_is_busy_is_seen_before_the_connection_is_reused(
    late: str,
) -> None:
    """A command plans between its reads and its writes without letting the event loop read
    the sockets: bytes or a close that arrived meanwhile are still found (the socket is polled
    when the connection is picked). Else a stale answer became the next request's (a create
    bound to another task's id), and a keep-alive close made a never-sent create ambiguous."""
    server = ThreadedServer(late)

    async def scenario() -> None:
        async with client_for(server.url, transport()) as client:
            assert (await get(client)).json() == {"n": 1}
            time.sleep(0.1)  # planning: the loop does not turn, the late bytes wait in the socket
            response = await client.post("/v4/schedules", json={"name": "a"})
            assert response.json() == {"n": 2}

    try:
        run(scenario())
    finally:
        server.close()
    assert server.connections == 2


def test_a_connection_spoken_to_before_its_request_sends_nothing_and_says_never_sent() -> None:
    """A TLS server may close, or talk, right after its handshake, before the request is
    written: nothing is written then, and the error is one the retry layer knows as never
    sent (a ConnectError), not an HTTP misuse that stops the command."""

    class Sink(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.written: list[bytes] = []

        def write(self, data: bytes | bytearray | memoryview) -> None:
            self.written.append(bytes(data))

        def is_closing(self) -> bool:
            return False

        def abort(self) -> None:
            pass

    for arrival in (b"HTTP/1.1 200 OK\r\n\r\n", b""):
        conn = wire._Connection()
        sink = Sink()
        conn.connection_made(sink)
        if arrival:
            conn.data_received(arrival)
        else:
            conn.eof_received()
        with pytest.raises(httpx.ConnectError):
            conn.send(httpx.Request("POST", "http://127.0.0.1/v4/schedules", json={}), b"{}")
        assert sink.written == []


# -- failures, as the retry layer sees them ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def lost_post(url: str, **overrides: Any) -> Lost:
    """What a create's one attempt through the client's own transport ends in (it must fail)."""
    t = Transport(settings(base_url=url, **overrides), transport=None)
    try:
        with pytest.raises(Lost) as lost:
            await t._attempt("POST", "/v4/schedules", {"name": "x"}, 1)
    finally:
        await t.aclose()
    return lost.value


def test_no_connection_is_a_connect_error_and_never_sent() -> None:
    async def scenario() -> None:
        lost = await lost_post(f"http://127.0.0.1:{_free_port()}")
        assert lost.sent is False
        assert isinstance(lost.cause, httpx.ConnectError)

    run(scenario())


def test_a_connection_dropped_without_an_answer_may_have_been_sent() -> None:
    async def drops(head: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def scenario() -> None:
        async with Server(drops) as server:
            lost = await lost_post(server.url)
        assert lost.sent is True
        assert isinstance(lost.cause, httpx.RemoteProtocolError)
        assert "without sending a response" in lost.description

    run(scenario())


@pytest.mark.parametrize(
    ("sent", "closes"),
    [
        pytest.param(answer(b'{"ok": 1}')[:-3], True, id="answer cut short"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (200 * 1024), False, id="head of 200 KiB"
        ),
        pytest.param(b"SSH-2.0-OpenSSH\r\n\r\n", False, id="not HTTP"),
    ],
)
def test_an_answer_that_breaks_http_is_a_protocol_error(sent: bytes, closes: bool) -> None:
    """Each may have followed a request that arrived: a protocol error (maybe sent), never a
    value; a head is refused past 100 KiB, as httpcore refused it."""

    async def breaks(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(sent)
        return not closes

    async def scenario() -> None:
        async with Server(breaks) as server, client_for(server.url, transport()) as client:
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


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_connection_given_up_is_dropped_at_once_with_its_unsent_body() -> None:
    """A server that accepts and never reads: requests that time out must not leave their
    sockets (and bodies) waiting for a drain that never comes."""

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await asyncio.sleep(3600)

    held: list[asyncio.StreamWriter] = []

    async def scenario() -> None:
        server = await asyncio.start_server(never_reads, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        t = transport()
        before = _open_fds()
        async with client_for(url, t) as client:
            for _ in range(5):
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await client.post("/v4/schedules", content=b"x" * (8 * 1024 * 1024))
            await asyncio.sleep(0.05)
            assert _open_fds() - before <= 5  # the server's five ends only
        for writer in held:
            writer.transport.abort()
        server.close()

    run(scenario())


def _gzip_of_zeros(megabytes: int) -> bytes:
    out = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [out.compress(block) for _ in range(megabytes)]
    return b"".join(parts) + out.flush()


def test_a_compressed_bomb_is_stopped_at_the_cap() -> None:
    """256 MiB of zeros gzipped is 250 KB: decoding it must stop at the cap, not after building
    the whole thing (httpx's own decoding has no limit)."""
    bomb = _gzip_of_zeros(256)

    async def sends_bomb(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        return True

    async def scenario() -> None:
        async with Server(sends_bomb) as server:
            t = Transport(settings(base_url=server.url, max_answer_bytes=1024 * 1024))
            try:
                tracemalloc.start()
                with pytest.raises(TooLarge):
                    await t._attempt("GET", "/v4/schedules", None, 1)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                await t.aclose()
            assert peak < 32 * 1024 * 1024

    run(scenario())
    assert transport_module.decode_capped(bomb, "gzip", 300 * 1024 * 1024) == bytes(
        256 * 1024 * 1024
    )


def test_more_than_one_coding_is_refused_before_any_is_decoded() -> None:
    """Every layer costs up to the cap of work: a header naming thousands of layers (a few KB
    of body) held the event loop for seconds, past any deadline. One coding is read; the client
    asks for none."""
    once = zlib.compress(b'{"ok": 1}', wbits=zlib.MAX_WBITS | 16)
    layered = once
    for _ in range(1000):
        layered = zlib.compress(layered, 0, wbits=zlib.MAX_WBITS | 16)
    started = time.perf_counter()
    with pytest.raises(httpx.DecodingError, match="1001 content codings"):
        transport_module.decode_capped(layered, ", ".join(["gzip"] * 1001), 8 * 1024 * 1024)
    assert time.perf_counter() - started < 0.1
    with pytest.raises(httpx.DecodingError, match="2 content codings"):
        transport_module.decode_capped(zlib.compress(once, wbits=31), "gzip, gzip", 1024)
    assert transport_module.decode_capped(once, "gzip, identity", 1024) == b'{"ok": 1}'
    assert transport_module.decode_capped(b'{"ok": 1}', "identity", 1024) == b'{"ok": 1}'


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param(b"cut", "does not end", id="truncated"),
        pytest.param(b"after", "does not end", id="bytes after the stream"),
        pytest.param(b"broken", "broken", id="not gzip"),
    ],
)
def test_a_gzip_stream_must_end_where_the_body_does(body: bytes, why: str) -> None:
    whole = zlib.compress(b'{"ok": 1}', wbits=zlib.MAX_WBITS | 16)
    raw = {b"cut": whole[:-4], b"after": whole + b"garbage", b"broken": b"\x1f\x8bnot gzip"}[body]
    with pytest.raises(httpx.DecodingError, match=why):
        transport_module.decode_capped(raw, "gzip", 1024)


def test_a_connection_paused_during_its_answer_is_not_used_again() -> None:
    """While the reader was behind, a TLS transport keeps reading the socket into its own
    buffer, where the reuse check cannot see: bytes after the answer would be taken as the next
    request's. So a connection that had to pause is never reused."""
    big = b"x" * (wire.BUFFER_BYTES * 2)

    async def answers_big(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(big) if b"/big" in head else answer())
        return True

    async def scenario() -> None:
        async with Server(answers_big) as server, client_for(server.url, transport()) as client:
            async with client.stream("GET", "/big") as response:
                await asyncio.sleep(0.2)  # the reader falls behind: reading pauses
                assert len(await response.aread()) == len(big)
            assert (await get(client)).json() == {"ok": 1}
            assert (await get(client)).json() == {"ok": 1}
            assert server.connections == 2  # the big answer's connection was not reused

    run(scenario())


@pytest.mark.parametrize(
    "proxy", ["foo://proxy.invalid", "socks5://user:pw@127.0.0.1:1", "http://[::1"]
)
def test_a_proxy_httpx_cannot_use_is_a_clear_error_without_its_url(
    monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    with pytest.raises(ConfigError, match="proxy set in the environment") as raised:
        Transport(settings(base_url="http://127.0.0.1:9"))
    assert "proxy.invalid" not in str(raised.value)
    assert "pw" not in str(raised.value)


def test_the_client_asks_for_answers_uncompressed() -> None:
    async def scenario() -> None:
        async with Server(_answers_ok) as server:
            t = Transport(settings(base_url=server.url))
            try:
                await t._attempt("GET", "/v4/schedules", None, 1)
            finally:
                await t.aclose()
            assert b"accept-encoding: identity" in server.requests[0].lower()

    run(scenario())


def test_a_tls_handshake_that_never_completes_is_known_as_never_sent() -> None:
    """A server that accepts and never answers the handshake: the connection's own deadline
    (half the attempt's) ends it first, so a create is retried rather than made ambiguous."""

    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await asyncio.sleep(3600)

    async def scenario() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            lost = await lost_post(url, timeout=0.4)
        finally:
            for writer in held:
                writer.transport.abort()
            server.close()
            await server.wait_closed()
        assert lost.sent is False
        assert isinstance(lost.cause, httpx.ConnectTimeout)

    run(scenario())


def test_a_connection_on_a_descriptor_above_1023_can_still_be_checked() -> None:
    """``select`` refuses descriptors above 1023; a program using the Python API among many
    open files gets such descriptors, and picking a connection must not fail there."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"this machine allows {hard} open files, not enough for a descriptor of 2000")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    a, b = socket.socketpair()
    high = os.dup2(a.fileno(), 2000)
    try:
        assert not wire._readable(high)
        b.send(b"x")
        assert wire._readable(high)
    finally:
        os.close(high)
        a.close()
        b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
