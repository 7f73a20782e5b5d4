"""The EngageLab schedule and batch-push API, one method per endpoint (docs/api.md sections 3, 6).

``EngageLabClient`` turns each endpoint's call into a request and its answer into a typed
result (``responses``), or into the ``reconciler.errors`` tree with status, vendor code and
message. What lies below is in two modules: ``retries`` (when another attempt is worth it, and
why a create or a batch push is never re-sent once it may have reached the server) and
``transport`` (the connection pools, the pace and the size cap of one attempt).

Credentials are sent as HTTP Basic auth and appear in no message, log line or repr: messages
copied out of answers are scrubbed, ids and names spelling them are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

from reconciler.errors import (
    AmbiguousCreateError,
    AmbiguousPushError,
    MalformedResponseError,
    UsageError,
)
from reconciler.planning import canonical
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
from reconciler.remote.retries import RetryingTransport

# The result types live in ``responses``; they are re-exported here, next to their endpoints.
__all__ = [
    "BatchResponse",
    "BatchResult",
    "CreatedSchedule",
    "EngageLabClient",
    "ListedSchedule",
    "MsgRecord",
    "SchedulePage",
]


_BATCH_MAX = 500  # docs/api.md section 6: 1..500 requests per batch


class EngageLabClient(RetryingTransport):
    """The EngageLab API, one method per endpoint; use as ``async with EngageLabClient(...)``.

    ``transport`` replaces the network (``httpx.MockTransport``, ``httpx.ASGITransport`` of the
    emulator); ``sleep``, ``rng`` and ``clock`` make backoff and pacing testable without waiting.
    ``pace_file`` keeps the server's request limit between runs: read when the client is made,
    written when it closes (docs/rate-control.md "Between runs").
    """

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

    async def create_schedule(
        self, body: dict[str, Any], *, before_send: Callable[[], None] | None = None
    ) -> CreatedSchedule:
        """``POST /v4/schedules``. Sent at most once once it may have reached the server.

        A 4xx answer is a clean rejection (its ApiError); a timeout, a dropped connection, a 5xx
        or a 2xx without a usable id leaves the outcome unknown: ``AmbiguousCreateError`` with
        the name and body fingerprint, so the caller can look the task up before deciding.
        ``before_send`` is called right before each attempt leaves (after the pacing's wait).
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
        response = await self._request(
            "POST", "/v4/schedules", json_body=body, ambiguous=ambiguous, before_send=before_send
        )
        try:
            with self._answers.scrubbing():
                created = parse_created(self._answers.json(response, where), where)
            self._no_secret_in(created.schedule_id, created.name, where=where)
            return created
        except MalformedResponseError as exc:
            raise ambiguous(f"the answer (HTTP {response.status_code}) has no usable id") from exc

    async def list_schedules(self, page: int = 1, *, retry: bool = True) -> SchedulePage:
        """``GET /v4/schedules?page=N``: one page of active tasks, oldest first, 50 per page.

        ``retry`` False: a single attempt (a page requested before it is known to be needed).
        """
        if page < 1:
            raise UsageError(f"page numbers start at 1, got {page}")
        path = f"/v4/schedules?page={page}"
        response = await self._request("GET", path, retry=retry)
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
            detail = parse_detail(data, f"GET {path}", schedule_id, size=len(response.content))
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
            return parse_detail(data, f"PUT {path}", schedule_id, size=len(response.content))

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
