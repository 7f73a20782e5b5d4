"""What an error quotes of a server's answer: searched for credentials only near what it shows.

A hostile or broken server can answer with up to the client's 8 MiB cap, built to make the
credential search slow (seconds a MiB, docs/threat-model.md). An error shows 200 characters of
an unparseable body and 1000 of the vendor's message, so only those and QUOTE_MARGIN past them
are searched; these tests pin that bound (by what the scrubber is given, not by timing) and that
nothing it cuts lets a credential through.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from reconciler.remote.answers import MESSAGE, QUOTE_MARGIN, SNIPPET, AnswerReader

KEY = "quote-test-app-key-0123456789"
SECRET = "quote-test-master-secret-abcdef"
BIG = 8 * 1024 * 1024


class _Spy:
    """The reader's scrubber, recording the length of every text it is given."""

    def __init__(self, reader: AnswerReader) -> None:
        self.lengths: list[int] = []
        self._scrub = reader.scrub
        reader.scrub = self  # type: ignore[assignment]

    def __call__(self, text: str) -> str:
        self.lengths.append(len(text))
        return self._scrub(text)

    def finds(self, text: str) -> bool:
        return self._scrub.finds(text)


def _reader() -> tuple[AnswerReader, _Spy]:
    reader = AnswerReader(host="api.example", secrets=(KEY, SECRET))
    return reader, _Spy(reader)


def _separated(secret: str) -> str:
    return "-".join(secret)


def test_a_huge_unparseable_body_is_searched_only_near_its_quote() -> None:
    """An 8 MiB body of separated runs with a credential every few KiB: the scrubber sees at
    most the quote and QUOTE_MARGIN; the quote holds no credential in any spelling."""
    reader, spy = _reader()
    chunk = "d-e-m-o x\\n" * 300 + _separated(SECRET) + "\n"
    body = (chunk * (BIG // len(chunk))).encode()
    shown = reader.snippet(httpx.Response(502, content=body))
    assert spy.lengths
    assert max(spy.lengths) <= SNIPPET + QUOTE_MARGIN
    assert len(shown) <= SNIPPET + 1
    assert SECRET not in shown
    assert _separated(SECRET)[:20] not in shown


def test_a_huge_vendor_message_is_cut_after_its_search() -> None:
    """An error whose vendor message is 8 MiB: the message is searched only as far as
    QUOTE_MARGIN past the 1000 characters shown, then cut with an ellipsis; a credential
    inside the shown part is masked."""
    reader, spy = _reader()
    message = "refused: " + SECRET + " " + "x" * BIG
    error = reader.error(
        httpx.Response(400, json={"error": {"code": 28102, "message": message}}), "POST", "/v4"
    )
    assert max(spy.lengths) <= MESSAGE + QUOTE_MARGIN + 500  # the message, then the error's
    assert SECRET not in error.message
    assert "***" in error.message
    assert "x" * (MESSAGE + 1) not in error.message
    assert "…" in error.message


@pytest.mark.parametrize("offset", [SNIPPET - 40, SNIPPET - 5, SNIPPET + QUOTE_MARGIN - 60])
def test_a_credential_across_the_quotes_end_is_masked_not_cut(offset: int) -> None:
    """A credential that starts just before the end of the shown part, or near the end of
    the searched part, in a body far longer than both: masked, never shown in part."""
    reader, _ = _reader()
    body = ("y" * offset + SECRET + " tail" * (BIG // 5)).encode()
    shown = reader.snippet(httpx.Response(502, content=body))
    assert SECRET[:12] not in shown
    assert SECRET[-12:] not in shown


def test_a_long_body_whose_searched_part_is_mostly_blank_is_not_quoted() -> None:
    """Collapsing blanks would bring text from past the search's end into the quote: a form
    spelled with long runs of blanks between its characters could then show in part. Such a
    body is described, not quoted."""
    reader, _ = _reader()
    spread = (" " * 4000).join(SECRET.encode().hex())  # hex, a blank run between characters
    body = ("x " + spread + " end").encode()
    shown = reader.snippet(httpx.Response(502, content=body))
    assert shown == f"(a {len(body)}-byte body, mostly blank; not quoted)"


def test_short_bodies_and_messages_are_searched_whole_as_before() -> None:
    """Within the bound nothing changes: the whole text is searched and shown as it was."""
    reader, spy = _reader()
    body = f"bad gateway {SECRET} " + "z" * (SNIPPET + QUOTE_MARGIN - 60)
    shown = reader.snippet(httpx.Response(502, content=body.encode()))
    assert shown.startswith("bad gateway *** zzz")
    assert spy.lengths[0] == len(body)
    error = reader.error(
        httpx.Response(400, json={"error": {"code": 28102, "message": f"no {KEY}"}}), "GET", "/x"
    )
    assert "no ***" in error.message
    assert "…" not in error.message


def test_the_debug_quote_of_an_error_body_is_made_only_when_debugging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An error answer's body is quoted in the debug log only when it is on: a quote costs a
    search for credentials, which a hostile body makes slow."""
    answer = httpx.Response(500, json={"error": {"code": 28203, "message": "timeout"}})
    reader, spy = _reader()
    with caplog.at_level(logging.INFO, logger="reconciler"):
        reader.error(answer, "GET", "/x")
    quiet = len(spy.lengths)
    reader, spy = _reader()
    with caplog.at_level(logging.DEBUG, logger="reconciler"):
        reader.error(answer, "GET", "/x")
    assert len(spy.lengths) > quiet
    assert "error body" in caplog.text
