"""One attempt of one request: the connections, the pace, the size cap, the traffic counts.

``Transport`` is the lower half of ``EngageLabClient`` (``reconciler.remote.client``, the
endpoints; ``reconciler.remote.retries``, the retries in between): it owns the ``httpx``
client (on the lean transport of ``reconciler.remote.wire``), sends one attempt inside a slot
of the ``Limiter`` and reads its answer up to ``ClientSettings.max_answer_bytes``. An attempt
that brings no usable answer raises ``Lost`` (saying whether it may have reached the server)
or ``TooLarge``; what to do then is the retry layer's decision. The limit the run found is
kept in the pace file when the client closes. Debug logs never include request headers (they
hold the credentials).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import ssl
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import __version__
from reconciler.config.connection import ClientSettings
from reconciler.errors import ConfigError, ConnectionFailedError
from reconciler.limits import MAX_YEAR, MIN_YEAR
from reconciler.remote import answers, wire
from reconciler.remote.limiter import Limiter, Sleep
from reconciler.remote.pacefile import read_remembered_limit, remember_limit
from reconciler.remote.ratelimit import Ticket
from reconciler.remote.tls import tls_context

# The client's own channel (with ``answers``): ``--debug`` shows it as reconciler.remote.client.
logger = logging.getLogger("reconciler.remote.client")

# httpcore (httpx's default transport, used here only behind a proxy) asks for ``sniffio``
# every time it creates a lock, i.e. several times per request. When sniffio is not installed
# each ask is a failed import that searches sys.path on disk: a fifth of the client's CPU time
# at 500 requests/s. Remember the absence once; an installed sniffio is left alone.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # None: "known to be absent"


@dataclass
class ClientStats:
    """Counters of one client's traffic (attempts actually sent, retries, waits)."""

    requests: int = 0
    retries: int = 0
    transport_errors: int = 0
    retry_wait_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


class TooLarge(Exception):
    """Raised by an attempt: the answer's body passed the size cap
    (``ClientSettings.max_answer_bytes``)."""


class Lost(Exception):
    """Raised by an attempt that failed without a usable answer (``sent``: it may have arrived)."""

    def __init__(self, description: str, *, sent: bool, cause: BaseException) -> None:
        super().__init__(description)
        self.description = description
        self.sent = sent
        self.cause = cause


class Transport:
    """Sends one attempt of a request inside the limiter (module
    docstring); the parameters are those of ``EngageLabClient``."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        pace_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.stats = ClientStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._host = urlsplit(settings.base_url).hostname or settings.base_url
        self._base = settings.base_url.rstrip("/")  # for log lines (never holds credentials)
        self._answers = answers.AnswerReader(
            host=self._host, secrets=settings.credentials.secrets()
        )
        self._pace_file = pace_file
        remembered = (
            None
            if pace_file is None
            else read_remembered_limit(pace_file, settings.base_url, now=time.time())
        )
        self._remembered_limit = remembered or 0.0
        self._limiter = Limiter(
            rate=settings.rate_limit,
            concurrency=settings.concurrency,
            clock=clock,
            sleep=sleep,
            limit=remembered,
        )
        self._first_attempts = 0
        # The server's clock minus ours, from the ``Date`` header of the first answer that has
        # a readable one: a schedule fires by the server's clock, not by this machine's.
        self.server_offset: timedelta | None = None
        # Our own transport (reconciler.remote.wire) unless one is injected (tests, in-process
        # emulator) or a proxy is configured (httpx's default transport knows proxies). One TLS
        # context, loaded off the critical path (reconciler.remote.tls).
        if transport is None:
            tls = tls_context(settings.base_url)
            if wire.uses_proxy():
                try:
                    self._http = self._new_http(None, verify=tls)
                except (ValueError, ImportError, httpx.InvalidURL) as exc:
                    # The text is not shown: it quotes the proxy URL, which may hold a password.
                    raise ConfigError(
                        f"the proxy set in the environment cannot be used ({type(exc).__name__})",
                        hint="check HTTPS_PROXY, HTTP_PROXY and ALL_PROXY (httpx reads them): "
                        "an http:// or https:// proxy URL, or unset them",
                    ) from None
            else:
                # The connection (TLS handshake included) must be made a little before the
                # attempt's own deadline: one that never completes is then known as such
                # (ConnectTimeout: never sent) rather than as a timed-out attempt that may
                # have been sent (_attempt).
                connect = settings.timeout * 0.9
                self._http = self._new_http(
                    wire.WireTransport(tls=tls, connect_timeout=connect), verify=True
                )
        else:
            self._http = self._new_http(transport, verify=True)

    def _new_http(
        self, transport: httpx.AsyncBaseTransport | None, *, verify: ssl.SSLContext | bool
    ) -> httpx.AsyncClient:
        most = self._limiter.max_window  # the requests in flight: the limiter's widest window
        creds = self.settings.credentials
        return httpx.AsyncClient(
            base_url=self.settings.base_url,
            auth=httpx.BasicAuth(creds.app_key, creds.master_secret),
            headers={
                "Accept": "application/json",
                # Compressed answers are decoded here, against the size cap (_read_capped); a
                # server that compresses anyway is decoded the same way.
                "Accept-Encoding": "identity",
                "User-Agent": f"engagelab-reconciler/{__version__}",
            },
            timeout=httpx.Timeout(self.settings.timeout),
            limits=httpx.Limits(max_connections=most, max_keepalive_connections=most),
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        self._remember_pace()

    def _remember_pace(self) -> None:
        """Keep the limit this run found for the next one; forget it once the server took the
        ceiling; leave the file alone when this run learned nothing new."""
        if self._pace_file is None:
            return
        controller = self._limiter.controller
        learned = controller.learned_limit()
        if controller.cuts == 0:
            if controller.limit is None:
                return  # no limit known before, none found
            if learned is None and self.settings.rate_limit <= self._remembered_limit:
                return  # a lower --rate-limit says nothing about the server above it
            if learned is not None and learned <= self._remembered_limit:
                return  # only the remembered limit, not confirmed by a refusal: let it age
        remember_limit(self._pace_file, self.settings.base_url, learned, now=time.time())

    def _may_send(self, method: str, path: str) -> None:
        """Raise to hold back an attempt that has its slot (the retrying layer's breaker)."""

    async def _attempt(
        self,
        method: str,
        path: str,
        json_body: Any,
        attempt: int,
        before_send: Callable[[], None] | None = None,
    ) -> tuple[httpx.Response, Ticket]:
        """One attempt inside the limiter: a response (any status) and its ticket, or ``Lost``.

        The caller reports the answer to the limiter once it knows what the answer means.
        ``before_send`` runs once the limiter lets the attempt go, just before it is sent.
        """
        async with self._limiter.slot() as ticket:
            self._may_send(method, path)
            if before_send is not None:
                before_send()
            started = self._clock()
            self.stats.requests += 1
            try:
                # Our own deadline as well as httpx's: in-process transports ignore httpx's.
                async with asyncio.timeout(self.settings.timeout):
                    response = await self._send(method, path, json_body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # No connection was made, so the request cannot have reached the server.
                self._log_lost(method, path, attempt, started, exc)
                self._limiter.lost(ticket, timed_out=isinstance(exc, httpx.TimeoutException))
                raise Lost(_describe(exc), sent=False, cause=exc) from exc
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
                raise ConnectionFailedError(
                    f"{method} {path}: cannot send to {self._host}: {_describe(exc)}",
                    hint="check --endpoint",
                ) from exc
            except (httpx.RequestError, TimeoutError) as exc:
                self._log_lost(method, path, attempt, started, exc)
                timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
                self._limiter.lost(ticket, timed_out=timed_out)
                what = (
                    f"no answer within {self.settings.timeout:g} s" if timed_out else _describe(exc)
                )
                raise Lost(what, sent=True, cause=exc) from exc
        status = response.status_code
        self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if self.server_offset is None:
            self.server_offset = _date_offset(response.headers.get("date"))
        logger.debug(
            "%s %s%s -> %d in %.0f ms (attempt %d)",  # the only line per request (--debug)
            method,
            self._base,
            path,
            status,
            (self._clock() - started) * 1000,
            attempt,
        )
        return response, ticket

    async def _send(self, method: str, path: str, json_body: Any) -> httpx.Response:
        async with self._http.stream(method, path, json=json_body) as response:
            await self._read_capped(response)
        return response

    async def _read_capped(self, response: httpx.Response) -> None:
        """Read the body, but never more than ``max_answer_bytes`` of it (``TooLarge``).

        Streamed, so a huge (or endless) body costs at most the cap in memory. The client asks
        for no compression; an answer compressed anyway (gzip or deflate, in any number of
        layers) is decoded here, each layer stopped at the cap, so a small compressed bomb
        cannot grow in memory either (httpx's own decoding has no limit).
        """
        cap = self.settings.max_answer_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLarge
        if response.is_stream_consumed:
            # An answer made in memory by an injected transport: httpx has read and decoded it.
            if len(response.content) > cap:
                raise TooLarge
            return
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > cap:
                raise TooLarge
            chunks.append(chunk)
        # What ``aread`` would have stored; every reader of the answer uses ``.content``.
        response._content = decode_capped(
            b"".join(chunks), response.headers.get("Content-Encoding", ""), cap
        )

    def _log_lost(
        self, method: str, path: str, attempt: int, started: float, exc: BaseException
    ) -> None:
        self.stats.transport_errors += 1
        logger.debug(
            "%s %s%s -> %s after %.0f ms (attempt %d)",
            method,
            self._base,
            path,
            type(exc).__name__,
            (self._clock() - started) * 1000,
            attempt,
        )


def decode_capped(raw: bytes, encoding: str, cap: int) -> bytes:
    """``raw`` with its content coding undone, stopped at ``cap`` bytes (``TooLarge``).

    The client asks for no coding, so one coding (gzip or deflate) is decoded and more are
    refused: each layer costs up to ``cap`` of work, and thousands of layers in one header
    would hold the event loop far past any deadline. The stream must end where the body
    does (no truncated member, nothing after it). Other codings are left as they are: such a
    body is no JSON, and is refused as a malformed answer where it is read.
    """
    codings = [
        c for c in (t.strip().lower() for t in encoding.split(",")) if c not in ("", "identity")
    ]
    if not codings:
        return raw
    if len(codings) > 1:
        raise httpx.DecodingError(
            f"the answer has {len(codings)} content codings; at most one is read"
        )
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif coding == "deflate":
        # zlib-wrapped as RFC 9110 says, or raw deflate as some servers send it
        raw_deflate = len(raw) >= 2 and (raw[0] & 0x0F != 8 or (raw[0] << 8 | raw[1]) % 31)
        decoder = zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
    else:
        return raw
    try:
        data = decoder.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise httpx.DecodingError(f"the answer's {coding} coding is broken: {exc}") from exc
    if len(data) > cap or decoder.unconsumed_tail:
        raise TooLarge
    if not decoder.eof or decoder.unused_data:
        raise httpx.DecodingError(f"the answer's {coding} stream does not end with the body")
    return data


def _date_offset(header: str | None) -> timedelta | None:
    """The server's clock minus ours from an HTTP ``Date`` header; None if absent or unreadable.

    ``Date`` has whole seconds: the offset read from it is up to a second (plus the latency of
    the answer) behind, far less than any decision made with it (minutes).
    """
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": the sender does not know its zone
        return None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        # The range --now accepts: a clock in the year 9999 is no clock, and computing firings
        # and expiries from it would overflow the calendar.
        return None
    return moment.astimezone(UTC) - datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
