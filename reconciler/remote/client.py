"""Async client for the EngageLab schedule and batch-push API (docs/api.md sections 3 and 6).

Small ``httpx`` connection pools behind a semaphore and a token bucket. Reads, updates and
deletes are retried with exponential backoff and full jitter on connection errors, 429 and 5xx,
honouring ``Retry-After``, within a per-request and a client-wide retry budget. Writes that are not
idempotent (create, batch push) are never retried once they may have reached the server: an
unknown outcome becomes ``AmbiguousCreateError`` / ``AmbiguousPushError`` for the caller to
resolve, because a blind retry can duplicate a push to real users.

Error answers become the ``reconciler.errors`` tree with status, vendor code and message.
Credentials are sent as HTTP Basic auth and appear in no message, log line or repr: messages
copied out of answers are scrubbed, and debug logs never include request headers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from reconciler import __version__
from reconciler.config.connection import ClientSettings
from reconciler.errors import (
    AmbiguousCreateError,
    AmbiguousPushError,
    ApiError,
    ConnectionFailedError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RemoteError,
    ServerError,
    UsageError,
)
from reconciler.planning import canonical
from reconciler.remote import answers
from reconciler.remote.ratelimit import (
    Limiter,
    Outcome,
    Ticket,
    read_remembered_limit,
    remember_limit,
)
from reconciler.remote.responses import (
    BatchResponse,
    BatchResult,
    CreatedSchedule,
    ListedSchedule,
    MsgRecord,
    SchedulePage,
    is_safe_id,
    parse_batch,
    parse_created,
    parse_detail,
    parse_msg_ids,
    parse_page,
)

# The result types live in ``responses``; they are re-exported here, next to their endpoints.
__all__ = [
    "BatchResponse",
    "BatchResult",
    "ClientStats",
    "CreatedSchedule",
    "EngageLabClient",
    "ListedSchedule",
    "MsgRecord",
    "SchedulePage",
]

logger = logging.getLogger("reconciler.remote.client")

# httpcore asks for ``sniffio`` every time it creates a lock, i.e. several times per request.
# When sniffio is not installed each ask is a failed import that searches sys.path on disk:
# a fifth of the client's CPU time at 500 requests/s. Remember the absence once; an installed
# sniffio is left alone.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # None: "known to be absent"

Sleep = Callable[[float], Awaitable[None]]

# Answers that say "not now" rather than "never": worth another attempt of an idempotent call.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BATCH_MAX = 500  # docs/api.md section 6: 1..500 requests per batch


@dataclass
class ClientStats:
    """Counters of one client's traffic (attempts actually sent, retries, waits)."""

    requests: int = 0
    retries: int = 0
    transport_errors: int = 0
    retry_wait_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


class _TooLarge(Exception):
    """Internal: an answer's body passed the size cap (``ClientSettings.max_answer_bytes``)."""


class _Lost(Exception):
    """Internal: an attempt failed without a usable answer (``sent``: it may have arrived)."""

    def __init__(self, description: str, *, sent: bool, cause: BaseException) -> None:
        super().__init__(description)
        self.description = description
        self.sent = sent
        self.cause = cause


_tls_ready: Future[ssl.SSLContext] | None = None


def prepare_tls() -> None:
    """Start loading the CA bundle in a thread (17 ms; OpenSSL reads it without the GIL).

    Called when the target is known, so that the context is ready by the time the manifests
    are read and the first request goes out. Idempotent.
    """
    global _tls_ready
    if _tls_ready is not None:
        return
    future: Future[ssl.SSLContext] = Future()
    _tls_ready = future

    def build() -> None:
        try:
            future.set_result(httpx.create_ssl_context())
        except BaseException as exc:  # handed to the caller of _tls_context
            future.set_exception(exc)

    # Not a daemon: a command that fails fast must not finalise the interpreter while the
    # thread is inside OpenSSL (that crashed the process with SIGSEGV); exit waits ~17 ms.
    threading.Thread(target=build, name="reconciler-tls").start()


def _tls_context(base_url: str) -> ssl.SSLContext:
    """The verifying TLS context for ``https`` endpoints.

    A plain ``http`` endpoint (an emulator on loopback) never handshakes and redirects are not
    followed, so it gets an empty client context: it costs nothing and, should it ever be used,
    it trusts no certificate at all rather than every one.
    """
    if urlsplit(base_url).scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    prepare_tls()
    assert _tls_ready is not None
    return _tls_ready.result()


class EngageLabClient:
    """The EngageLab API, one method per endpoint; use as ``async with EngageLabClient(...)``.

    ``transport`` replaces the network (``httpx.MockTransport``, ``httpx.ASGITransport`` of the
    emulator); ``sleep``, ``rng`` and ``clock`` make backoff and pacing testable without waiting.
    ``pace_file`` keeps the server's request limit between runs: read when the client is made,
    written when it closes (docs/rate-control.md "Between runs").
    """

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
        # Several small connection pools instead of one big one: httpcore's pool re-examines
        # every connection (with a socket poll each) on every request event, so its cost grows
        # with the square of the pool size; at 32+ connections the client itself became the
        # bottleneck (tests/bench/bench_inventory.py). An injected transport gets one client.
        # Sized for the largest window the limiter may open; connections open only when used.
        most = self._limiter.max_window
        sizes = _pool_sizes(most) if transport is None else [most]
        # One TLS context for all pools: each pool would otherwise load the CA bundle again
        # (~30 ms apiece, 0.2 s of start-up at concurrency 48; tests/bench/bench_scenarios.py).
        self._tls = _tls_context(settings.base_url) if transport is None else None
        self._pools = [self._new_http(size, transport) for size in sizes]
        self._pool_load = [0] * len(self._pools)

    def _new_http(self, size: int, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        creds = self.settings.credentials
        return httpx.AsyncClient(
            base_url=self.settings.base_url,
            auth=httpx.BasicAuth(creds.app_key, creds.master_secret),
            headers={
                "Accept": "application/json",
                "User-Agent": f"engagelab-reconciler/{__version__}",
            },
            timeout=httpx.Timeout(self.settings.timeout),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            verify=self._tls if self._tls is not None else True,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"EngageLabClient(base_url={s.base_url!r}, rate_limit={s.rate_limit}, "
            f"concurrency={s.concurrency}, timeout={s.timeout})"
        )

    async def __aenter__(self) -> EngageLabClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
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

    def scrubbing(self) -> AbstractContextManager[None]:
        """A block whose errors get the credentials masked in every spelling (their messages
        quote the server's answers: names, ids, bodies)."""
        return self._answers.scrubbing()

    @property
    def max_in_flight(self) -> int:
        """The most requests that were in flight at once (for benchmarks and tests)."""
        return self._limiter.max_in_flight

    @property
    def rate(self) -> float:
        """The request rate the client paces at now (it adapts; ratelimit.py)."""
        return self._limiter.controller.rate

    # -- endpoints (docs/api.md section 3) ---------------------------------------------------------

    async def create_schedule(self, body: dict[str, Any]) -> CreatedSchedule:
        """``POST /v4/schedules``. Sent at most once once it may have reached the server.

        A 4xx answer is a clean rejection (its ApiError); a timeout, a dropped connection, a 5xx
        or a 2xx without a usable id leaves the outcome unknown: ``AmbiguousCreateError`` with
        the name and body fingerprint, so the caller can look the task up before deciding.
        """
        raw_name = body.get("name")
        name = raw_name if isinstance(raw_name, str) else "<unnamed>"

        def ambiguous(what: str) -> AmbiguousCreateError:
            return AmbiguousCreateError(
                f"create of schedule {name!r} on {self._host}: {what}; "
                "it may or may not exist on the server now",
                name=name,
                # Only when needed: hashing every body cost ~40 µs per create.
                fingerprint=canonical.fingerprint(body),
            )

        where = "POST /v4/schedules"
        response = await self._request("POST", "/v4/schedules", json_body=body, ambiguous=ambiguous)
        try:
            with self._answers.scrubbing():
                created = parse_created(self._answers.json(response, where), where)
            self._no_secret_in(created.schedule_id, created.name, where=where)
            return created
        except MalformedResponseError as exc:
            raise ambiguous(f"the answer (HTTP {response.status_code}) has no usable id") from exc

    async def list_schedules(self, page: int = 1) -> SchedulePage:
        """``GET /v4/schedules?page=N``: one page of active tasks, oldest first, 50 per page."""
        if page < 1:
            raise UsageError(f"page numbers start at 1, got {page}")
        path = f"/v4/schedules?page={page}"
        response = await self._request("GET", path)
        with self._answers.scrubbing():
            result = parse_page(self._answers.json(response, f"GET {path}"), f"GET {path}")
        for item in result.items:
            self._no_secret_in(item.schedule_id, item.name, where=f"GET {path}")
        return result

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        """``GET /v4/schedules/{id}``: the full schedule object (with ``schedule_id``).

        Raises NotFoundError for 404 (no such task, or a single one already sent).
        """
        path = f"/v4/schedules/{self._segment(schedule_id)}"
        response = await self._request("GET", path)
        with self._answers.scrubbing():
            data = self._answers.json(response, f"GET {path}")
            detail = parse_detail(data, f"GET {path}", schedule_id)
        self._no_secret_in(detail["name"], where=f"GET {path}")
        return detail

    async def update_schedule(self, schedule_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /v4/schedules/{id}`` with the full body (docs/api.md 2.4); returns the stored task.

        Retried like a read: a full-body PUT applied twice leaves the same task.
        """
        path = f"/v4/schedules/{self._segment(schedule_id)}"
        response = await self._request("PUT", path, json_body=body)
        with self._answers.scrubbing():
            data = self._answers.json(response, f"PUT {path}")
            return parse_detail(data, f"PUT {path}", schedule_id)

    async def delete_schedule(self, schedule_id: str) -> None:
        """``DELETE /v4/schedules/{id}``.

        A 404 on a retry, after an attempt whose outcome was unknown, means that attempt worked.
        """
        path = f"/v4/schedules/{self._segment(schedule_id)}"
        await self._request("DELETE", path, gone_after_unknown_ok=True)

    async def get_msg_ids(self, schedule_id: str) -> list[MsgRecord]:
        """``GET /v4/schedules/{id}/msg-ids``: every firing, decoded into typed records."""
        path = f"/v4/schedules/{self._segment(schedule_id)}/msg-ids"
        response = await self._request("GET", path)
        with self._answers.scrubbing():
            return parse_msg_ids(self._answers.json(response, f"GET {path}"), f"GET {path}")

    # -- batch single push (docs/api.md section 6) -------------------------------------------------

    async def batch_push(
        self, by: Literal["regid", "alias"], requests: list[dict[str, Any]]
    ) -> BatchResponse:
        """``POST /v4/batch/push/{regid|alias}``; never re-sent by the client.

        Targets failed with 23008 (rate limit) are in ``BatchResponse.rate_limited_targets``:
        retrying those, with backoff, is the caller's job. A timeout or 5xx raises
        ``AmbiguousPushError`` (some targets may have been sent to).
        """
        if by not in ("regid", "alias"):
            raise UsageError(f"batch push targets are 'regid' or 'alias', not {by!r}")
        if not 1 <= len(requests) <= _BATCH_MAX:
            raise UsageError(f"a batch holds 1 to {_BATCH_MAX} requests, got {len(requests)}")
        targets = [str(r.get("target", "")) for r in requests]
        if len(set(targets)) != len(targets):
            raise UsageError("targets within one batch must be unique (docs/api.md section 6)")

        def ambiguous(what: str) -> AmbiguousPushError:
            return AmbiguousPushError(
                f"batch push to {len(targets)} target(s) on {self._host}: {what}; "
                "some or all of them may have been sent to",
                targets=targets,
            )

        path = f"/v4/batch/push/{by}"
        response = await self._request(
            "POST", path, json_body={"requests": requests}, ambiguous=ambiguous
        )
        where = f"POST {path}"
        try:
            with self._answers.scrubbing():
                result = parse_batch(self._answers.json(response, where), where, targets)
        except MalformedResponseError as exc:
            raise ambiguous(f"the answer (HTTP {response.status_code}) is unusable") from exc
        refused = len(result.rate_limited_targets)
        if refused:
            # 23008: the push quota counts targets; slow the whole client by the refused share.
            self._limiter.refused_share(refused / len(targets))
        return result

    # -- machinery ----------------------------------------------------------------------------

    def _no_secret_in(self, *texts: str, where: str) -> None:
        """Refuse ids and names that spell a credential: ids go into request paths (and so into
        messages and debug logs), names into plans and reports (a server echoing the AppKey)."""
        if any(self._answers.scrub.finds(text) for text in texts):
            raise MalformedResponseError(
                f"{where}: malformed answer: a schedule id or name holds the credentials",
                hint="the server's answer is not what the EngageLab API sends; check "
                "--endpoint and any proxy in between",
            )

    def _segment(self, schedule_id: str) -> str:
        """``schedule_id`` as a path segment (``_id``), never one spelling a credential."""
        if self._answers.scrub.finds(schedule_id):
            raise UsageError("a schedule id that holds the credentials is never sent")
        return _id(schedule_id)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        ambiguous: Callable[[str], RemoteError] | None = None,
        gone_after_unknown_ok: bool = False,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise from the error tree.

        ``ambiguous`` marks a non-idempotent call: once an attempt may have reached the server
        and brought no clean answer, it builds the error to raise instead of retrying.
        """
        self._first_attempts += 1
        attempt = 0
        outcome_unknown = False
        while True:
            attempt += 1
            failure: RemoteError
            retry_after: float | None = None
            try:
                response, ticket = await self._attempt(method, path, json_body, attempt)
            except _TooLarge:
                what = (
                    f"the answer of {self._host} is larger than "
                    f"{self.settings.max_answer_bytes} bytes; reading stopped there"
                )
                if ambiguous is not None:
                    raise ambiguous(what) from None
                # Not retried: a server that sent it once will send it again.
                raise MalformedResponseError(
                    f"{method} {path}: {what}",
                    hint="the server's answer is not what the EngageLab API sends; check "
                    "--endpoint and any proxy in between",
                ) from None
            except _Lost as lost:
                if lost.sent and ambiguous is not None:
                    raise ambiguous(lost.description) from lost.cause
                outcome_unknown = outcome_unknown or lost.sent
                failure = ConnectionFailedError(
                    f"{method} {path}: no answer from {self._host}: {lost.description}",
                    hint="check the network and --endpoint / --data-center; "
                    "raise --timeout if the server is slow",
                )
                failure.__cause__ = lost.cause
            else:
                if response.is_success:
                    self._limiter.answered(ticket, "ok")
                    return response
                error = self._answers.error(response, method, path)
                # Every request slows down (or not) on this answer, not only this one.
                self._limiter.answered(ticket, _pace_signal(error))
                if isinstance(error, RateLimitError):
                    logger.debug(
                        "%s %s refused for the rate; pacing at %.1f requests/s",
                        method,
                        path,
                        self._limiter.controller.rate,
                    )
                if gone_after_unknown_ok and outcome_unknown and isinstance(error, NotFoundError):
                    logger.debug("%s %s: 404 after an unknown outcome: it had worked", method, path)
                    return response
                if not _retryable(error):
                    raise error
                if ambiguous is not None and not isinstance(error, RateLimitError):
                    # A 5xx after the request was sent: it may have been carried out.
                    raise ambiguous(f"the server answered HTTP {error.status}") from error
                outcome_unknown = outcome_unknown or error.status >= 500
                failure = error
                retry_after = answers.retry_after(response)

            delay = self._retry_delay(attempt, retry_after)
            if delay is None:
                _note_gave_up(failure, attempt, retry_after, self.settings.max_retry_after)
                raise failure
            self.stats.retries += 1
            self.stats.retry_wait_seconds += delay
            logger.debug(
                "retrying %s %s in %.2f s (attempt %d failed: %s)",
                method,
                path,
                delay,
                attempt,
                failure.message,
            )
            await self._sleep(delay)

    async def _attempt(
        self, method: str, path: str, json_body: Any, attempt: int
    ) -> tuple[httpx.Response, Ticket]:
        """One attempt inside the limiter: a response (any status) and its ticket, or ``_Lost``.

        The caller reports the answer to the limiter once it knows what the answer means.
        """
        async with self._limiter.slot() as ticket:
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
                raise _Lost(_describe(exc), sent=False, cause=exc) from exc
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
                raise _Lost(what, sent=True, cause=exc) from exc
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
        """Send on the least busy pool; with at most ``max_window`` requests in flight (the
        limiter) and pools adding up to ``max_window``, that pool always has a free connection.
        """
        index = self._pool_load.index(min(self._pool_load))
        self._pool_load[index] += 1
        try:
            async with self._pools[index].stream(method, path, json=json_body) as response:
                await self._read_capped(response)
            return response
        finally:
            self._pool_load[index] -= 1

    async def _read_capped(self, response: httpx.Response) -> None:
        """Read the body, but never more than ``max_answer_bytes`` of it (``_TooLarge``).

        Streamed, so a huge (or endless) body costs at most the cap in memory; the count is
        of decoded bytes, so a compressed bomb is stopped too.
        """
        cap = self.settings.max_answer_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise _TooLarge
            chunks.append(chunk)
        # What ``aread`` would have stored; every reader of the answer uses ``.content``.
        response._content = b"".join(chunks)

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

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent.

        Full jitter (uniform between 0 and the exponential cap) spreads the retries of many
        concurrent requests; a ``Retry-After`` from the server is a floor.
        """
        s = self.settings
        if attempt > s.max_retries:
            return None
        if self.stats.retries >= s.retry_budget_min + s.retry_budget_ratio * self._first_attempts:
            return None
        if retry_after is not None and retry_after > s.max_retry_after:
            return None
        cap = min(s.backoff_max, s.backoff_base * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, cap)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


POOL_SIZE = 8


def _pool_sizes(concurrency: int) -> list[int]:
    """Split ``concurrency`` connections into pools of at most POOL_SIZE, as even as possible."""
    count = -(-concurrency // POOL_SIZE)
    base, extra = divmod(concurrency, count)
    return [base + 1] * extra + [base] * (count - extra)


def _pace_signal(error: ApiError) -> Outcome:
    """What an error answer says about the request rate (ratelimit.py)."""
    if isinstance(error, RateLimitError):
        return "refused"
    if isinstance(error, ServerError) or error.status >= 500:
        return "overloaded"
    return "other"


def _retryable(error: ApiError) -> bool:
    return isinstance(error, RateLimitError | ServerError) or error.status in _RETRY_STATUSES


def _note_gave_up(
    failure: RemoteError, attempt: int, retry_after: float | None, max_retry_after: float
) -> None:
    if retry_after is not None and retry_after > max_retry_after:
        note = f"the server asked to wait {retry_after:g} s, more than {max_retry_after:g} s"
    elif attempt > 1:
        note = f"gave up after {attempt} attempts"
    else:
        return
    failure.hint = f"{note}; {failure.hint}" if failure.hint else note


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
    return moment.astimezone(UTC) - datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _id(schedule_id: str) -> str:
    """A schedule id as one path segment: only ids of the safe pattern (``responses.SAFE_ID``:
    no '.' or '..', which would address the collection), and percent-encoded all the same."""
    if not is_safe_id(schedule_id):
        shown = repr(schedule_id) if len(schedule_id) <= 80 else "a long text"
        raise UsageError(
            f"{shown} is not a schedule id (letters, digits, '-' and '_')",
            hint="schedule ids come from the server or the state file; check where this one "
            "came from",
        )
    return quote(schedule_id, safe="")
