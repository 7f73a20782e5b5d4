"""What an error quotes of a server's answer: searched for credentials only near what it shows.

A hostile or broken server can answer with up to the client's 8 MiB cap, built to make the
credential search slow (seconds a MiB, docs/threat-model.md). An error shows 200 characters of
an unparseable body and 1000 of the vendor's message, so only those and QUOTE_MARGIN past them
are searched; these tests pin that bound (by what the scrubber is given, not by timing) and that
nothing it cuts lets a credential through.
"""

from __future__ import annotations

import html
import logging

import httpx
import pytest

from reconciler.errors import MalformedResponseError
from reconciler.limits import REMOTE_NAME_MAX_CHARS, REMOTE_TEXT_MAX_CHARS
from reconciler.remote.answers import MASK, MESSAGE, QUOTE_MARGIN, SNIPPET, AnswerReader
from reconciler.remote.responses import expect_name, parse_batch, parse_detail

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

    def may_hold(self, text: str) -> bool:
        return self._scrub.may_hold(text)


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


def _references(secret: str, padding: int) -> str:
    """``secret`` as HTML character references, the last one padded with leading zeros."""
    head = "".join(f"&#{ord(c)};" for c in secret[:-1])
    return head + "&#" + "0" * padding + f"{ord(secret[-1])};"


def _last_far(form: str, gap: str) -> str:
    """``form`` with a run of ``gap`` (which the scrubber passes over) before its last
    character, longer than the part searched."""
    return form[:-1] + gap * (QUOTE_MARGIN + 2000) + form[-1]


# Spellings the scrubber knows that can be made longer than the part searched: each starts in
# what an error would show and ends past the cut, so it is never whole where it is searched.
_LONG_FORMS = {
    "references, the last padded": _references(SECRET, QUOTE_MARGIN + 2000),
    "hex, NULs before the last": _last_far(SECRET.encode().hex(), "\x00"),
    "hex, zero-width spaces before the last": _last_far(SECRET.encode().hex(), "\u200b"),
    "hex, blanks before the last": _last_far(SECRET.encode().hex(), " "),
}


@pytest.mark.parametrize("form", list(_LONG_FORMS.values()), ids=list(_LONG_FORMS))
def test_a_credential_spelled_past_the_search_is_not_quoted_in_part(form: str) -> None:
    """A body, a non-JSON success body and a vendor message starting with such a form: what
    would be shown may start a credential's spelling (the search's pre-test says so), so the
    answer is described, not quoted (a body of mostly blanks as such), or the references, read
    in a look of their own, are masked up to the padded one. Quoted, all but one of its
    characters showed."""
    reader, _ = _reader()
    shown = [
        reader.snippet(httpx.Response(502, content=f"denied {form} end".encode())),
        reader.error(
            httpx.Response(400, json={"error": {"code": 28102, "message": f"denied {form}"}}),
            "GET",
            "/x",
        ).message,
    ]
    with pytest.raises(MalformedResponseError) as caught:
        reader.json(httpx.Response(200, content=f"denied {form} end".encode()), "GET /x")
    shown.append(caught.value.message)
    hexed = SECRET.encode().hex()
    for text in shown:
        assert "not quoted" in text or "not shown" in text or MASK in text, text
        assert hexed[:8] not in text.replace("\x00", "").replace("\u200b", "").replace(" ", "")
        read = html.unescape(text)
        assert not any(SECRET[n : n + 8] in read for n in range(len(SECRET) - 7)), text


def test_masking_an_earlier_form_brings_no_cut_one_into_the_quote() -> None:
    """A first copy of the credential with long blank runs between its characters fills most of
    the searched part and is masked to three characters, which brings what lay at the cut into
    the shown part: a copy in hex cut in two there would show its first half. It is described,
    not quoted (quoted, the hex digits before the cut showed)."""
    reader, _ = _reader()
    hexed = SECRET.encode().hex()
    lead = "denied " + (" " * 560).join(SECRET)  # longer than what is shown, once masked
    message = lead + "y" * (MESSAGE + QUOTE_MARGIN - 40 - len(lead)) + hexed + " and more"
    error = reader.error(
        httpx.Response(400, json={"error": {"code": 28102, "message": message}}), "GET", "/x"
    )
    assert hexed[:16] not in error.message
    assert "not shown" in error.message


def test_a_name_far_longer_than_the_api_allows_is_refused_before_its_search() -> None:
    """A list row whose name is a MiB: a malformed answer, said by its length, without the
    search for credentials (seconds a MiB on a text built for it)."""
    with pytest.raises(MalformedResponseError) as caught:
        expect_name({"name": "n" * REMOTE_NAME_MAX_CHARS + "n"}, "GET /x")
    assert f"a {REMOTE_NAME_MAX_CHARS + 1}-character text" in caught.value.message
    longest = "n" * REMOTE_NAME_MAX_CHARS
    assert expect_name({"name": longest}, "GET /x") == longest


def test_a_huge_batch_target_is_named_by_its_length_in_an_error() -> None:
    """A batch answer keyed by a huge text with a malformed result: the error names the key by
    its length (its whole text would be searched for credentials, then printed)."""
    key = "k" * 100_000
    with pytest.raises(MalformedResponseError) as caught:
        parse_batch({"results": {key: "not an object"}}, "POST /x", [key])
    assert key not in caught.value.message
    assert "a 100000-character text" in caught.value.message


def test_a_huge_message_in_a_batch_answer_is_described_not_kept() -> None:
    """A batch answer's per-target error message and its rate-limit note reach test-send's
    report and the delivery history: one longer than any vendor's is described, not kept
    (printed, it would be searched for credentials whole, and stored in the state)."""
    big = "m" * (MESSAGE + 1)
    answer = parse_batch(
        {
            "results": {"t1": {"success": False, "error": {"code": 23008, "message": big}}},
            "rate_limit_info": {"rate_limit_occurred": True, "message": big},
        },
        "POST /x",
        ["t1"],
    )
    assert answer.results["t1"].error_message == f"(a {MESSAGE + 1}-character message; not shown)"
    assert answer.rate_limit_message == f"(a {MESSAGE + 1}-character message; not shown)"
    short = parse_batch(
        {"results": {"t1": {"success": False, "error": {"code": 1, "message": "no\tdevice"}}}},
        "POST /x",
        ["t1"],
    )
    assert short.results["t1"].error_message == "no device"


def test_a_detail_with_a_text_longer_than_the_api_stores_is_malformed() -> None:
    """A text (or a key) in a schedule from the server far longer than a push's content can be
    is a malformed answer, said by its path and length, never quoted; the longest allowed
    passes, and an answer whose size shows it holds none is not walked."""
    longest = "t" * REMOTE_TEXT_MAX_CHARS

    def detail(**push: object) -> list[dict[str, object]]:
        return [{"schedule_id": "s1", "name": "promo", "push": push}]

    assert parse_detail(detail(alert=longest), "GET /x", "s1")["push"] == {"alert": longest}
    for data, said in (
        (detail(notification={"alert": longest + "t"}), "push.notification.alert: a 16001-"),
        (detail(audience=[["x", longest + "t"]]), "push.audience[0][1]: a 16001-"),
        (detail(extras={longest + "k": 1}), "a key under push.extras: a 16001-"),
    ):
        with pytest.raises(MalformedResponseError) as caught:
            parse_detail(data, "GET /x", "s1")
        assert said in caught.value.message
        assert "ttttt" not in caught.value.message


def test_results_for_targets_not_sent_are_left_out() -> None:
    """A batch answer keyed by targets the client never sent (a server that is not
    EngageLab's, a proxy mixing answers): they are not read, kept or counted, so they cannot
    fail the answer, fill memory, or pass as the client's own refusals (23008 slows the whole
    client by the refused share of its targets)."""
    refused = {"success": False, "error": {"code": 23008, "message": "rate limit"}}
    answer = parse_batch(
        {
            "results": {
                "t1": {"success": True, "msg_id": "m1"},
                **{f"other{i}": refused for i in range(1000)},
                "bad": "not an object",
            }
        },
        "POST /x",
        ["t1", "t2"],
    )
    assert list(answer.results) == ["t1"]
    assert answer.rate_limited_targets == []
    assert answer.unanswered == ("t2",)
