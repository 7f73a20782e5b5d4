"""Test sends, the sending half: the batches ``build`` made, sent one after the other, and the
answers read target by target (docs/api.md section 6).

Targets the server rate-limited (23008) are sent again with bounded exponential backoff; any
other failed target is reported, never re-sent (it could reach a device twice). The whole run
stops at the first global error, because such an error (auth, permission, allow-list,
parameters) fails every later batch the same way, and at a call whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from reconciler.errors import AmbiguousPushError, ApiError, ReconcilerError, RemoteError
from reconciler.remote.limiter import Sleep
from reconciler.remote.responses import BatchResponse
from reconciler.testsend.build import By

__all__ = [
    "BatchPusher",
    "RetryPolicy",
    "SendReport",
    "TargetOutcome",
    "send_batches",
]

RATE_LIMITED = 23008  # docs/api.md section 6: this target was over the push QPS quota

# Global batch errors (docs/api.md section 6): the whole call failed, nothing was sent, and every
# later batch would fail the same way. What each means and what to do about it. None of them is
# sent again by ``send_batches``; 21009 in particular is "do not retry" on the page (the client
# does not retry a 400 either, see tests/batch/test_global_errors.py).
GLOBAL_ERRORS: dict[int, tuple[str, str]] = {
    21004: (
        "basic authentication failed",
        "check the AppKey and Master Secret variables of this environment and its data centre",
    ),
    21008: ("the AppKey is not 24 characters long", "copy the AppKey again from the console"),
    21038: (
        "the app has no push permission",
        "check the app's configuration in the EngageLab console",
    ),
    21043: (
        "the app has no push permission (payment due)",
        "settle the account in the EngageLab console",
    ),
    23009: (
        "this machine's IP address is not on the app's allow-list",
        "add the IP address to the allow-list in the EngageLab console",
    ),
    21009: (
        "internal error of the EngageLab server (not to be retried)",
        "contact EngageLab support; do not repeat the send blindly",
    ),
    # 23008 for a whole call (no results): nothing was sent, so the client retried it with
    # backoff (docs/api.md section 6: retry what failed for the rate limit); this is the give-up.
    23008: (
        "the whole batch was over the app's push quota (API rate limit), also after the "
        "client's retries",
        "wait a minute and send again; the quota is shared with the app's other pushes",
    ),
    21003: ("a parameter value is invalid", "check the request with --dry-run"),
    21015: ("the request parameters are invalid", "check the request with --dry-run"),
    21016: ("the parameter check failed", "check the request with --dry-run"),
}


class BatchPusher(Protocol):
    """The one client call a test send needs (``EngageLabClient.batch_push``)."""

    async def batch_push(self, by: By, requests: list[dict[str, Any]]) -> BatchResponse: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently targets rate-limited with 23008 are sent again.

    The push quota is counted per second (docs/api.md section 6), so waits start at a second and
    double up to ``max_delay``; no jitter, since one sender works through its batches in turn.
    """

    max_attempts: int = 6  # sends per target, the first one included
    base_delay: float = 1.0
    max_delay: float = 16.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


Status = Literal["delivered", "failed", "rate_limited", "unknown", "not_sent"]


@dataclass
class TargetOutcome:
    """What happened to one target."""

    target: str
    status: Status = "not_sent"
    msg_id: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    attempts: int = 0

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"

    def describe(self) -> str:
        """The msg_id when delivered, else why not (one line)."""
        if self.status == "delivered":
            return self.msg_id or ""
        if self.status == "not_sent":
            return "not sent: the run stopped before this target"
        if self.status == "unknown":
            return f"unknown: {self.error_message}"
        text = f"{self.error_code} {self.error_message or ''}".strip()
        if self.status == "rate_limited":
            text += f" (still rate limited after {self.attempts} attempt(s))"
        return text


@dataclass
class SendReport:
    """The outcome of a test send, target by target in the order given."""

    outcomes: list[TargetOutcome]
    batches: int  # batches of targets (as planned)
    calls: int = 0  # batch push calls made, retries included
    stopped: ReconcilerError | None = None  # the error that ended the run early, if any
    waited: float = 0.0  # seconds spent in backoff

    @property
    def delivered(self) -> int:
        return sum(1 for o in self.outcomes if o.delivered)

    @property
    def all_delivered(self) -> bool:
        return self.stopped is None and all(o.delivered for o in self.outcomes)


async def send_batches(
    client: BatchPusher,
    by: By,
    batches: Sequence[Sequence[dict[str, Any]]],
    *,
    policy: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    progress: Callable[[str], None] | None = None,
) -> SendReport:
    """Send ``batches`` in order; retry 23008 targets; stop at the first global error.

    A global error (docs/api.md section 6) or a call whose outcome is unknown ends the run: later
    batches are not sent and ``SendReport.stopped`` holds a one-message error. Targets that
    failed for any other reason are reported, never re-sent: only 23008 says "not sent, try
    again"; anything else re-sent could reach a device twice.
    """
    policy = policy or RetryPolicy()
    outcomes = {str(r["target"]): TargetOutcome(str(r["target"])) for b in batches for r in b}
    report = SendReport(outcomes=list(outcomes.values()), batches=len(batches))
    for number, batch in enumerate(batches, start=1):
        pending = list(batch)
        attempt = 0
        while pending:
            attempt += 1
            if attempt > 1:
                wait = policy.delay(attempt - 1)
                report.waited += wait
                if progress:
                    progress(
                        f"batch {number}/{len(batches)}: {len(pending)} target(s) rate limited, "
                        f"retrying in {wait:g} s"
                    )
                await sleep(wait)
            report.calls += 1
            try:
                response = await client.batch_push(by, list(pending))
            except RemoteError as exc:
                report.stopped = _stopped(exc, number, len(batches), report)
                for r in pending:
                    o = outcomes[str(r["target"])]
                    o.attempts = attempt
                    if isinstance(exc, AmbiguousPushError):
                        o.status = "unknown"
                        o.error_message = "the answer was lost; it may have been sent"
                return report
            pending = _record(response, pending, outcomes, attempt, policy)
        if progress:
            done = sum(1 for o in outcomes.values() if o.delivered)
            progress(f"batch {number}/{len(batches)} done; {done} target(s) delivered so far")
    return report


def _record(
    response: BatchResponse,
    sent: list[dict[str, Any]],
    outcomes: dict[str, TargetOutcome],
    attempt: int,
    policy: RetryPolicy,
) -> list[dict[str, Any]]:
    """Note each sent target's result; return the requests worth another attempt."""
    again: list[dict[str, Any]] = []
    for request in sent:
        target = str(request["target"])
        o = outcomes[target]
        o.attempts = attempt
        result = response.results.get(target)
        if result is None:
            # Sent but not answered for: it may have gone out, so never re-send it.
            o.status = "unknown"
            o.error_message = "no result for this target in the answer; it may have been sent"
        elif result.success:
            o.status, o.msg_id = "delivered", result.msg_id
            o.error_code = o.error_message = None
        else:
            o.error_code, o.error_message = result.error_code, result.error_message
            if result.rate_limited:
                o.status = "rate_limited"
                if attempt < policy.max_attempts:
                    again.append(request)
            else:
                o.status = "failed"
    return again


def _stopped(exc: RemoteError, number: int, total: int, report: SendReport) -> ReconcilerError:
    """The single error that ends a run, saying which batch and what was already delivered."""
    done = report.delivered
    sent_text = (
        "nothing was sent"
        if done == 0
        else f"{done} target(s) of earlier batches were delivered (listed above)"
    )
    where = f"test send stopped at batch {number} of {total}"
    error: ReconcilerError
    if isinstance(exc, ApiError):
        what, hint = GLOBAL_ERRORS.get(exc.code or 0, (None, exc.hint))
        code = f", code {exc.code}" if exc.code is not None else ""
        answer = f"HTTP {exc.status}{code}: {exc.vendor_message}"
        reason = (
            f"EngageLab refused the whole batch: {what} ({answer})"
            if what
            else f"the server answered {answer}"
        )
        error = type(exc)(
            f"{where}: {reason}; {sent_text}",
            status=exc.status,
            code=exc.code,
            hint=hint,
        )
    elif isinstance(exc, AmbiguousPushError):
        error = AmbiguousPushError(
            f"{where}: {exc.message}; {sent_text} before it", targets=exc.targets
        )
    else:
        error = RemoteError(f"{where}: {exc.message}; {sent_text}", hint=exc.hint)
    error.__cause__ = exc
    return error
