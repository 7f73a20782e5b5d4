"""Read an HTTP answer of the EngageLab API: its JSON, or the error it stands for.

``AnswerReader`` turns a non-2xx answer into the ``reconciler.errors`` tree (status, vendor
code, vendor message; docs/api.md sections 4 and 6) and a 2xx body into JSON, and quotes what it
cannot parse (an HTML gateway page, plain text) in a short snippet. Everything it copies out of
an answer is scrubbed of the AppKey, the Master Secret and their Basic auth token, in every
encoding a server could echo them in (``Scrubber``), before it is shortened.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from reconciler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    RateLimitError,
    ReconcilerError,
    RequestRejectedError,
    ServerError,
)
from reconciler.jsontext import holds_lone_surrogate
from reconciler.redact import Scrubber
from reconciler.remote.responses import MESSAGE, harmless, malformed

logger = logging.getLogger("reconciler.remote.client")

SNIPPET = 200  # characters of an unparseable answer quoted in a message
# How far past what a message shows an answer is searched for credentials before it is cut.
# Every spelling the scrubber knows of a credential of a few dozen characters (encoded,
# escaped twice, one character a line behind a CI log's timestamp) is far shorter, so a form
# that starts in the shown part ends inside the searched one. The whole answer (up to the
# client's 8 MiB) was searched before: a text built to pass the scrubber's pre-test costs it
# seconds a MiB (docs/threat-model.md), and this much a fifth of a second at most.
QUOTE_MARGIN = 16 * 1024
# The word "rate" with "limit" or "exceed(ed)": "rate limit exceeded", "rate exceeded",
# "API-Rate-Limit überschritten"; not "separate" or "generate" in a validation message.
# "rate limit exceeded", "API-Rate-Limit überschritten", "Rate exceeded", "request exceeded the
# rate", "too many requests": the words next to each other. Anywhere in the message was too
# loose: "big_push_duration exceeds the limit for the current send rate" is an invalid
# parameter, and taken for a refusal it was retried five times (a create among them).
_RATE_REFUSAL = re.compile(
    r"\brate[\s_-]*limit|\brate[\s_-]+exceed|\bexceed\w*\s+(?:the\s+)?(?:request\s+)?rate\b"
    r"|\btoo\s+many\s+requests\b",
    re.I,
)
MASK = "***"


class AnswerReader:
    """Decodes answers and maps error answers for one client (its host and its secrets)."""

    def __init__(self, *, host: str, secrets: Sequence[str]) -> None:
        self.host = host
        self.scrub = Scrubber(secrets, mask=MASK)

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """Mask the secrets in any error raised inside: its message quotes the server's data."""
        try:
            yield
        except ReconcilerError as exc:
            self.scrub_error(exc)
            raise

    def scrub_error(self, exc: ReconcilerError) -> None:
        exc.message = self.scrub(exc.message)
        exc.args = (exc.message, *exc.args[1:])
        if exc.hint is not None:
            exc.hint = self.scrub(exc.hint)

    def json(self, response: httpx.Response, where: str) -> Any:
        """The JSON body of a success answer; MalformedResponseError when it is not JSON."""
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError) as exc:  # also too deep, or an over-long number
            raise malformed(
                where,
                f"HTTP {response.status_code} body is not JSON "
                f"({content_type(response)}): {self.snippet(response)}",
            ) from exc
        if holds_lone_surrogate(response.content, data):
            raise malformed(
                where,
                f"HTTP {response.status_code} body holds a lone UTF-16 surrogate (a \\u escape "
                "of half a character), which no text can hold",
            )
        return data

    def error(self, response: httpx.Response, method: str, path: str) -> ApiError:
        """The error-tree exception for a non-2xx answer."""
        status = response.status_code
        code, message, enveloped = self._error_body(response)
        cls = error_class(status, code, message, enveloped=enveloped)
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
        elif status == 404 and cls is not NotFoundError:
            hint = (
                "this 404 is not the EngageLab API's own not-found answer (code 28104), so it "
                "says nothing about the task; check --endpoint and any proxy in between"
            )
        if logger.isEnabledFor(logging.DEBUG):  # a quote costs a search for credentials
            logger.debug("%s %s error body: %s", method, path, self.snippet(response))
        # The vendor's message reaches the terminal and CI logs in every error of every
        # command: an escape sequence or a line break in it is printed harmless.
        return cls(harmless(message), status=status, code=code, method=method, path=path, hint=hint)

    def _error_body(self, response: httpx.Response) -> tuple[int | None, str, bool]:
        """Vendor code and message of an error answer (a description when it has none), and
        whether they came in the vendor's ``{"error": {...}}`` envelope."""
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # not JSON, too deep, or an over-long number
            return (
                None,
                f"the answer is not JSON ({content_type(response)}): {self.snippet(response)}",
                False,
            )
        err = data.get("error") if isinstance(data, dict) else None
        enveloped = isinstance(err, dict)
        if not isinstance(err, dict) and isinstance(data, dict) and "code" in data:
            err = data  # some gateways put code/message at the top level
        if not isinstance(err, dict):
            return None, f"unexpected error answer: {self.snippet(response)}", False
        code = err.get("code")
        raw = err.get("message")
        message = self._shown(raw, MESSAGE) if isinstance(raw, str) and raw else "(no message)"
        if isinstance(code, bool) or not isinstance(code, int):
            code = None
        return code, message, enveloped

    def snippet(self, response: httpx.Response) -> str:
        """A short, single-line, scrubbed quote of a body (an HTML page by its title).

        The body is scrubbed before anything of it is cut or collapsed, as far as QUOTE_MARGIN
        past what can be shown: a cut through a secret would leave a piece the scrubber no
        longer recognises. Collapsing blanks brings later text forward: a body cut there whose
        searched part is mostly blank is not quoted (a form spelled with long runs of blanks
        between its characters could reach past the cut and show in part).
        """
        text = response.content.decode("utf-8", errors="replace")
        head = _head(text, SNIPPET)
        cut = head is not text
        if cut and len(" ".join(head.split())) < SNIPPET + QUOTE_MARGIN // 4:
            return f"(a {len(response.content)}-byte body, mostly blank; not quoted)"
        text = self.scrub(head)
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title:
            text = f"HTML page {title.group(1).strip()!r}"
        # Again after collapsing: a secret spelled with a run of whitespace is whole only now.
        text = self.scrub(" ".join(text.split()))
        if cut and self.scrub.may_hold(text[:SNIPPET]):
            return f"(a {len(response.content)}-byte body; not quoted: {_UNSURE})"
        # The controls that are no whitespace (an ESC, a BEL) are spelled \xNN.
        text = harmless(text)
        if not text:
            return "(empty body)"
        if len(text) > SNIPPET:
            text = text[:SNIPPET] + "…"
        return text

    def _shown(self, text: str, keep: int) -> str:
        """``text`` scrubbed and cut to ``keep`` characters (an ellipsis where it was cut)."""
        head = _head(text, keep)
        shown = self.scrub(head)
        if head is not text and self.scrub.may_hold(shown[:keep]):
            return f"(a {len(text)}-character message; not shown: {_UNSURE})"
        return shown if len(shown) <= keep else shown[:keep] + "…"


# Why a long answer cut for its search is not quoted when what would show may start a
# credential's spelling: one spelled long enough (padding, characters far apart) runs past the
# cut, is never whole in what was searched, and would show in part.
_UNSURE = "what would show may hold part of the credentials"


def _head(text: str, keep: int) -> str:
    """The part of ``text`` searched for credentials when ``keep`` characters of it are shown:
    all of it, or (the same object) as far as QUOTE_MARGIN past them."""
    return text if len(text) <= keep + QUOTE_MARGIN else text[: keep + QUOTE_MARGIN]


# The vendor's "schedule does not exist (wrong id, or already sent)": 28104 in its code table,
# 28404 in its delete example (docs/api.md section 3).
NOT_FOUND_CODES = frozenset({28104, 28404})


def error_class(
    status: int, code: int | None, message: str, *, enveloped: bool = True
) -> type[ApiError]:
    """Which error an answer is, by HTTP status and vendor code (docs/api.md sections 4 and 6).

    Only the vendor's own not-found answer (HTTP 404 with 28104 or 28404 in its
    ``{"error": ...}`` envelope) is a ``NotFoundError``: callers conclude from it that a task is
    gone (and may recreate it). Any other 404 (an HTML page of a proxy, a wrong path prefix, a
    gateway's own JSON) says nothing about the task and is a rejection like any other 4xx
    (docs/api.md section 3, docs/threat-model.md).
    """
    if status == 401 or code in (28101, 21004, 21008):
        return AuthError
    if code == 28105:
        # 404 in the code table but means "no push target at that time": a rejection of the
        # request, not a missing task (docs/api.md section 4).
        return RequestRejectedError
    if status == 404 and code in NOT_FOUND_CODES and enveloped:
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
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None. Sent more than
    once, the longest wait is the one honoured (each may come from another hop)."""
    values = response.headers.get_list("Retry-After")
    waits = [w for value in values for w in _retry_afters(value)]
    return max(waits, default=None)


def _retry_afters(value: str) -> list[float]:
    """The waits one header holds: a number, a date (which has a comma of its own), or
    numbers joined with commas by a proxy that merged two headers into one ("7, 30")."""
    whole = _retry_after(value)
    if whole is not None or "," not in value:
        return [] if whole is None else [whole]
    return [w for w in map(_seconds, value.split(",")) if w is not None]


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _retry_after(value: str) -> float | None:
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):  # year 99999999999: OverflowError
        return None


def content_type(response: httpx.Response) -> str:
    """The answer's media type, for a message: a header the server writes, made harmless to
    print (h11 takes ESC and BEL in a header's value: a CSI sequence clears a terminal)."""
    value: str = response.headers.get("Content-Type", "no content type")
    return harmless(value.split(";")[0])
