"""Retries: one request made of attempts, and when another attempt is worth it.

Reads, updates and deletes are retried with exponential backoff and full jitter on connection
errors, 429 and 5xx, honouring ``Retry-After``, within a per-request and a client-wide retry
budget. Writes that are not idempotent (create, batch push) are never retried once they may have
reached the server: an unknown outcome becomes the error their ``ambiguous`` builds
(``AmbiguousCreateError`` / ``AmbiguousPushError``) for the caller to resolve, because a blind
retry can duplicate a push to real users. Every answer is also a signal to the pace
(``ratelimit``). The attempts themselves are ``transport``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from reconciler.errors import (
    ApiError,
    ConnectionFailedError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    RemoteError,
    ServerError,
    ServerStormError,
)
from reconciler.remote import answers
from reconciler.remote.ratelimit import Outcome
from reconciler.remote.transport import Lost, TooLarge, Transport

# The client's own channel (with ``answers``): ``--debug`` shows it as reconciler.remote.client.
logger = logging.getLogger("reconciler.remote.client")

# Answers that say "not now" rather than "never": worth another attempt of an idempotent call.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Requests given up in a row, with the client-wide retry budget spent, after which no further
# request is sent: a server refusing everything would otherwise be sent every remaining write
# once, at the pace's floor of one a second (1000 creates: 25 minutes of refusals).
STORM_GIVE_UPS = 3


class RetryingTransport(Transport):
    """``Transport`` with ``_request``: attempts until an answer, an error or the budget's end.

    Once ``STORM_GIVE_UPS`` requests in a row have given up with the retry budget spent, the
    server is taken to be refusing or failing everything: later requests are not sent but fail
    at once (``ServerStormError``); nothing they would have written was written.
    """

    _given_up_in_a_row = 0
    _storm: str | None = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        ambiguous: Callable[[str], RemoteError] | None = None,
        gone_after_unknown_ok: bool = False,
        retry: bool = True,
        before_send: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise from the error tree.

        ``ambiguous`` marks a non-idempotent call: once an attempt may have reached the server
        and brought no clean answer, it builds the error to raise instead of retrying.
        ``retry`` False: one attempt only (a request made on a guess, which its caller makes
        again, with retries, once it is needed): it takes no retries from the client's budget
        (like every request, it adds to the budget's size).
        """
        self._may_send(method, path)
        self._first_attempts += 1
        attempt = 0
        outcome_unknown = False
        while True:
            attempt += 1
            failure: RemoteError
            retry_after: float | None = None
            try:
                response, ticket = await self._attempt(
                    method, path, json_body, attempt, before_send
                )
            except TooLarge:
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
            except Lost as lost:
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
                    self._given_up_in_a_row = 0
                    return response
                error = self._answers.error(response, method, path)
                if not _retryable(error):
                    self._given_up_in_a_row = 0  # an answer that is not "not now" breaks a run
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

            delay = self._retry_delay(attempt, retry_after) if retry else None
            if delay is None:
                _note_gave_up(failure, attempt, retry_after, self.settings.max_retry_after)
                if retry and self._budget_spent():
                    self._given_up_in_a_row += 1
                    if self._given_up_in_a_row >= STORM_GIVE_UPS:
                        self._storm = (
                            f"the server refused or failed {self._given_up_in_a_row} requests in "
                            f"a row after {self.stats.retries} retries (the client's budget); "
                            f"the last: {failure.message}"
                        )
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

    def _may_send(self, method: str, path: str) -> None:
        """Raise ``ServerStormError`` once the breaker is open. Checked when a request starts
        and again when each attempt gets its slot (transport), so that requests already
        waiting in the limiter (a phase starts all its writes at once) are held back too."""
        if self._storm is not None:
            raise ServerStormError(
                f"{method} {path}: not sent: {self._storm}",
                hint="nothing was sent for it; re-run later, or with a lower --rate-limit "
                "(RECONCILER_RATE_LIMIT)",
            )

    def _budget_spent(self) -> bool:
        s = self.settings
        return bool(
            self.stats.retries >= s.retry_budget_min + s.retry_budget_ratio * self._first_attempts
        )

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent.

        Full jitter (uniform between 0 and the exponential cap) spreads the retries of many
        concurrent requests; a ``Retry-After`` from the server is a floor.
        """
        s = self.settings
        if attempt > s.max_retries:
            return None
        if self._budget_spent():
            return None
        if retry_after is not None and retry_after > s.max_retry_after:
            return None
        cap = min(s.backoff_max, s.backoff_base * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, cap)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


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
