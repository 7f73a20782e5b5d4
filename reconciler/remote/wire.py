"""A lean HTTP/1.1 transport for ``httpx``: asyncio protocols and ``h11``, no ``httpcore``.

One job: carry the client's requests over keep-alive connections at a fraction of the CPU of
httpx's default transport. That one (httpcore on anyio) costs about 1.1 ms of CPU per request on
this project's traffic, and at a server's 500 requests/s the event loop of a whole ``plan`` was
busy in it nearly all the time, so nothing else (reading answers, planning, printing) could run
beside the requests; this transport costs about 0.35 ms, most of it in httpx's own client
(docs/performance.md, "The transport").

What stays exactly as it was, because the retry layer decides on it
(``reconciler.remote.transport``): the exceptions are httpx's own, raised for the same cases
as httpcore raises them. No connection made (refused, unreachable, the TLS handshake failed):
``httpx.ConnectError``, or ``httpx.ConnectTimeout``; nothing could have reached the server.
Anything after the request was written (the connection dropped, closed before the answer, an
answer that breaks HTTP): ``httpx.ReadError`` or ``httpx.RemoteProtocolError``; it may have
arrived. A request that HTTP cannot carry: ``httpx.LocalProtocolError``.

Connections are reused only when the last exchange ended cleanly, nothing is readable on the
socket (a close, or bytes nobody asked for: polled when the connection is picked, as httpcore
does, because the event loop may not have read the socket since), and for at most
``keepalive_expiry`` seconds of idleness, as httpx's default does.
Bytes after an answer, or arriving while no request is out, end the connection: they are no
request's answer, and must never be read as the next one's. An
answer being read keeps at most ``BUFFER_BYTES`` unread: beyond, reading from the socket
pauses until the reader catches up, so a server that floods cannot grow memory past the
reader's own cap.

Proxies are httpx's business: with a proxy in the environment the client uses httpx's default
transport (``uses_proxy``).
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Callable

import h11
import httpx

# The largest response head accepted (as httpcore's HTTP/1.1 connection: 100 KiB).
MAX_HEAD_BYTES = 100 * 1024
# Unread answer bytes at which the socket stops being read (resumed below half of it).
BUFFER_BYTES = 256 * 1024

_Event = h11.Response | h11.InformationalResponse | h11.Data | h11.EndOfMessage


def uses_proxy() -> bool:
    """Whether httpx would send through a proxy taken from the environment (HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY, in either case): the same reading httpx makes of it."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: h11 parses what arrives, the reader takes the events."""

    def __init__(self) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._transport: asyncio.Transport | None = None
        self._events: deque[_Event] = deque()
        self._error: httpx.TransportError | None = None  # ends the connection, after the events
        self._waiter: asyncio.Future[None] | None = None
        self._buffered = 0
        self._paused = False
        self._was_paused = False
        self._eof = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def eof_received(self) -> bool:
        self._feed(b"")
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self._error is None:
            self._error = httpx.ReadError(_text(exc))
        self._feed(b"")
        if self._error is None:  # closed with nothing pending: only a later read needs a reason
            self._error = httpx.ReadError("the connection was closed")

    # -- parsing ---------------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self._eof or self._error is not None:
            self._wake()
            return
        self._eof = data == b""
        waiting = self._h11.their_state is h11.SEND_RESPONSE  # no answer begun yet
        if data and self._h11.our_state is h11.IDLE:
            # Bytes nobody asked for (no request on this connection): were they read as the
            # answer to the next request, a write could be taken as done, or done as another.
            self._error = httpx.RemoteProtocolError("the server sent data nobody asked for")
            self.close()
            self._wake()
            return
        try:
            self._h11.receive_data(data)
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.ConnectionClosed):
                    break
                if isinstance(event, h11.Data):
                    self._buffered += len(event.data)
                self._events.append(event)  # type: ignore[arg-type]
        except h11.RemoteProtocolError as exc:
            if self._eof and waiting:
                # httpcore's words for the same case (a keep-alive connection the server closed
                # as the request went out, or a server that dropped it unanswered).
                self._error = httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."
                )
            else:
                self._error = httpx.RemoteProtocolError(str(exc))
            self.close()
        if self._buffered > BUFFER_BYTES and not self._paused and self._transport is not None:
            self._paused = True
            # A TLS transport goes on reading the socket while paused and holds what came in
            # its own buffer, out of the reuse check's sight (the socket looks empty): such a
            # connection is never reused.
            self._was_paused = True
            self._transport.pause_reading()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_event(self) -> _Event:
        """The next event of the answer; the connection's error once none is left."""
        while not self._events:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        event = self._events.popleft()
        if isinstance(event, h11.Data):
            self._buffered -= len(event.data)
            if self._paused and self._buffered < BUFFER_BYTES // 2 and self._transport is not None:
                self._paused = False
                self._transport.resume_reading()
        return event

    # -- the client's side -----------------------------------------------------------------------

    def send(self, request: httpx.Request, body: bytes) -> None:
        """Write the whole request (head and body) at once; nothing is awaited in between."""
        assert self._transport is not None
        if not self._quiet():
            # Closed, or spoken to unasked, between the connection's making and now (a TLS
            # server can close right after its handshake): nothing is written, so the request
            # was never sent, and the retry layer may send it again on a new connection.
            raise httpx.ConnectError("the connection was closed before the request was sent")
        try:
            parts = [
                self._h11.send(
                    h11.Request(
                        method=request.method,
                        target=request.url.raw_path,
                        headers=list(request.headers.raw),
                    )
                )
            ]
            if body:
                parts.append(self._h11.send(h11.Data(data=body)))
            parts.append(self._h11.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        self._transport.write(b"".join(p for p in parts if p))

    def _quiet(self) -> bool:
        """Open, and nothing heard from the server since the last answer (no error, no close,
        no stray bytes: those set an error or end the server's side)."""
        return (
            self._error is None
            and self._transport is not None
            and not self._transport.is_closing()
            and self._h11.their_state is h11.IDLE
        )

    def reusable(self, now: float, expiry: float) -> bool:
        """Whether a new request may go out on this idle connection."""
        if not self._quiet() or now - self.idle_since >= expiry:
            return False
        assert self._transport is not None
        # The protocol hears bytes or a close only when the event loop next reads the socket,
        # and a command that plans between its reads and its writes has not let it: ask the
        # socket itself (one poll, as httpcore does). Anything readable on an idle connection,
        # a close or stray bytes, ends it; stray bytes must never answer the next request.
        sock = self._transport.get_extra_info("socket")
        return sock is None or not _readable(sock.fileno())

    def finished_cleanly(self) -> bool:
        """After an answer's end: both sides done and keep-alive; starts the next cycle."""
        clean = (
            self._error is None
            and not self._was_paused
            and not self._events
            and self._h11.our_state is h11.DONE
            and self._h11.their_state is h11.DONE
            and not self._h11.trailing_data[0]  # bytes after the answer: nobody's answer
        )
        if clean:
            self._h11.start_next_cycle()
        return clean

    def close(self) -> None:
        """Drop the connection now: an unsent request body is not kept waiting for a server
        that does not read (``close`` would wait for it to drain, holding the socket)."""
        if self._transport is not None:
            self._transport.abort()


class _Body(httpx.AsyncByteStream):
    """The body of one answer, read as it arrives; the connection goes back to the pool after
    a clean end, and is closed otherwise (an error, or the reader stopping early)."""

    def __init__(self, owner: WireTransport, key: tuple[str, str, int], conn: _Connection):
        self._owner = owner
        self._key = key
        self._conn: _Connection | None = conn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await conn.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} in a body")
        except BaseException:
            self._end(reuse=False)
            raise
        self._end(reuse=True)

    async def aclose(self) -> None:
        self._end(reuse=False)

    def _end(self, *, reuse: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._owner._release(self._key, conn, reuse=reuse)


class WireTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over keep-alive connections, one pool per origin (module docstring).

    ``tls``: the context for ``https`` origins; ``connect_timeout``: seconds to open a
    connection (the TLS handshake included). The number of connections is not capped here: the
    client's limiter already caps the requests in flight, and each holds one connection.
    """

    def __init__(
        self,
        *,
        tls: ssl.SSLContext,
        connect_timeout: float,
        keepalive_expiry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._expiry = keepalive_expiry
        self._clock = clock
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"cannot send to a {url.scheme!r} URL")
        key = (url.scheme, host, port)
        conn = self._idle_connection(key) or await self._connect(key)
        try:
            conn.send(request, body)
            event = await conn.next_event()
            while isinstance(event, h11.InformationalResponse):  # 1xx: the real answer follows
                event = await conn.next_event()
            if not isinstance(event, h11.Response):
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} for a head")
        except BaseException:
            self._release(key, conn, reuse=False)
            raise
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, key, conn),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
            },
        )

    def _idle_connection(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = self._clock()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been dropped
            if conn.reusable(now, self._expiry):
                return conn
            self._forget(conn)
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        secure = scheme == "https"
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, conn = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._tls if secure else None,
                    server_hostname=host if secure else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection within {self._connect_timeout:g} s") from exc
        except OSError as exc:  # refused, unreachable, unknown host, TLS handshake failed
            raise httpx.ConnectError(_text(exc)) from exc
        self._open.add(conn)
        return conn

    def _release(self, key: tuple[str, str, int], conn: _Connection, *, reuse: bool) -> None:
        if reuse and conn.finished_cleanly():
            conn.idle_since = self._clock()
            self._idle.setdefault(key, []).append(conn)
        else:
            self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def aclose(self) -> None:
        for conn in list(self._open):
            self._forget(conn)
        self._idle.clear()


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or is closed), without waiting. ``poll`` where
    there is one: ``select`` refuses descriptors above 1023, which a program using the Python
    API among many open files may well hand out."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
