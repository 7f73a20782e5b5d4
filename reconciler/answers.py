"""Read an HTTP answer of the EngageLab API: its JSON, or the error it stands for.

``AnswerReader`` turns a non-2xx answer into the ``reconciler.errors`` tree (status, vendor
code, vendor message; API.md sections 4 and 6) and a 2xx body into JSON, and quotes what it
cannot parse (an HTML gateway page, plain text) in a short snippet. Everything it copies out of
an answer is scrubbed of the AppKey, the Master Secret and their Basic auth token.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from reconciler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
)
from reconciler.responses import malformed

logger = logging.getLogger("reconciler.client")

SNIPPET = 200  # characters of an unparseable answer quoted in a message
# The word "rate" with "limit" or "exceed(ed)": "rate limit exceeded", "rate exceeded",
# "API-Rate-Limit überschritten"; not "separate" or "generate" in a validation message.
_RATE_REFUSAL = re.compile(r"\brate\b.*\b(limit|exceed)|\b(limit|exceed)\w*\b.*\brate\b", re.I)


class AnswerReader:
    """Decodes answers and maps error answers for one client (its host and its secrets)."""

    def __init__(self, *, host: str, secrets: Sequence[str]) -> None:
        self.host = host
        self._secrets = tuple(s for s in secrets if s)

    def json(self, response: httpx.Response, where: str) -> Any:
        """The JSON body of a success answer; MalformedResponseError when it is not JSON."""
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError) as exc:  # also too deep, or an over-long number
            raise malformed(
                where,
                f"HTTP {response.status_code} body is not JSON "
                f"({content_type(response)}): {self.snippet(response)}",
            ) from exc

    def error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        """The error-tree exception for a non-2xx answer."""
        status = response.status_code
        code, message = self._error_body(response)
        cls = error_class(status, code, message)
        hint: str | None = None
        if cls is AuthError:
            where = "--data-center" if self.host.endswith(".engagelab.com") else "--endpoint"
            hint = (
                "check ENGAGELAB_APP_KEY and ENGAGELAB_MASTER_SECRET, and that the app lives "
                f"on {self.host} ({where})"
            )
        elif cls is RateLimitError:
            hint = "lower --rate-limit (RECONCILER_RATE_LIMIT) or try again later"
        elif cls is ServerError:
            hint = "the EngageLab server is in trouble; try again later"
        logger.debug("%s %s error body: %s", method, path, self.snippet(response))
        return cls(message, status=status, code=code, method=method, path=path, hint=hint)

    def _error_body(self, response: httpx.Response) -> tuple[int | None, str]:
        """Vendor code and message of an error answer; a description when it has none."""
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # not JSON, too deep, or an over-long number
            return None, (
                f"the answer is not JSON ({content_type(response)}): {self.snippet(response)}"
            )
        err = data.get("error") if isinstance(data, dict) else None
        if not isinstance(err, dict) and isinstance(data, dict) and "code" in data:
            err = data  # some gateways put code/message at the top level
        if not isinstance(err, dict):
            return None, f"unexpected error answer: {self.snippet(response)}"
        code = err.get("code")
        raw = err.get("message")
        message = self.scrub(raw) if isinstance(raw, str) and raw else "(no message)"
        if isinstance(code, bool) or not isinstance(code, int):
            code = None
        return code, message

    def snippet(self, response: httpx.Response) -> str:
        """A short, single-line, scrubbed quote of a body (an HTML page by its title)."""
        text = response.content[: SNIPPET * 8].decode("utf-8", errors="replace")
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            text = f"HTML page {title.group(1).strip()!r}"
        text = " ".join(text.split())
        if not text:
            return "(empty body)"
        if len(text) > SNIPPET:
            text = text[:SNIPPET] + "…"
        return self.scrub(text)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def error_class(status: int, code: int | None, message: str) -> type[ApiError]:
    """Which error an answer is, by HTTP status and vendor code (API.md sections 4 and 6)."""
    if status == 401 or code in (28101, 21004, 21008):
        return AuthError
    if code == 28105:
        # 404 in the code table but means "no push target at that time": a rejection of the
        # request, not a missing task (API.md section 4).
        return RequestRejectedError
    if status == 404 or code == 28104:
        # Any 404 means "gone" (API.md section 3, decision on 28104 / 28404).
        return NotFoundError
    if status == 429 or code == 23008 or (code == 28100 and _RATE_REFUSAL.search(message)):
        # 28100 at HTTP 400 also means "rate limit exceeded" (docs/rate-control.md): told apart
        # from the validation errors of the same code by its message, and worth a retry.
        return RateLimitError
    if status >= 500 or code in (28200, 28203):
        return ServerError
    if 400 <= status < 500:
        return RequestRejectedError
    return ApiError


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("Content-Type", "no content type")
    return value.split(";")[0]
