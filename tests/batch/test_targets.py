"""Targets of a test send: the targets file, deduplication, checks and batches of 500."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import UsageError
from reconciler.testsend.build import (
    MAX_BATCH,
    MAX_BATCH_BYTES,
    build_batches,
    check_targets,
    dedupe,
    parse_targets,
    plan_send,
    prepare,
)

PUSH = {"to": "all", "body": {"platform": "android", "notification": {"alert": "Hi"}}}


def test_targets_file_skips_comments_and_blank_lines() -> None:
    """One target per line; #-lines, blank lines and trailing `` # labels`` are ignored."""
    text = "# test phones\n\nr1\n  r2  \nr3  # Anna's phone\n#r4\n"
    assert parse_targets(text, "t.txt") == [("r1", 3), ("r2", 4), ("r3", 5)]


def test_dedupe_keeps_first_occurrence_order_and_counts_repeats() -> None:
    """Repeated targets are sent once, in the order first given."""
    assert dedupe(["b", "a", "b", "c", "a"]) == (["b", "a", "c"], 2)


def test_targets_with_whitespace_are_refused_with_where() -> None:
    """A line with two ids is an error naming the file line, not two targets or one odd one."""
    assert check_targets("regid", [("r1 r2", "t.txt:3")]) == [
        "t.txt:3: 'r1 r2' contains whitespace"
    ]


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("a\x00b", r"'a\x00b'"),
        ("c\x1b]0;owned-title\x07", r"'c\x1b]0;owned-title\x07'"),
        ("a\tb", r"'a\tb'"),
        ("a\x1cb", r"'a\x1cb'"),
        ("a\x7fb", r"'a\x7fb'"),
        ("a\x9bb", r"'a\x9bb'"),
        ("a\u2028b", r"'a\u2028b'"),
    ],
    ids=["nul", "osc", "tab", "file-separator", "del", "c1-csi", "line-separator"],
)
def test_targets_with_control_characters_are_refused_and_shown_escaped(
    target: str, shown: str
) -> None:
    """No id or alias holds a control character; sent, one came back in the report and reached
    the terminal raw (an OSC sets its title). Refused, the message spells it escaped."""
    for by in ("regid", "alias"):
        assert check_targets(by, [(target, "t.txt:2")]) == [
            f"t.txt:2: {shown} contains a control character"
        ]


def test_a_target_that_is_not_utf8_is_refused() -> None:
    """A command-line argument in another encoding (its bytes kept as lone surrogates) cannot
    go into a request body: refused with its place, not a UnicodeEncodeError."""
    assert check_targets("alias", [("ab\udcff", "--alias")]) == [
        r"--alias: 'ab\udcff' is not UTF-8 text"
    ]


def test_a_targets_file_line_ends_only_at_a_newline() -> None:
    """A form feed or a file separator inside a line does not cut it into two targets (as
    ``str.splitlines`` would): the line is one target, refused with its own line number."""
    text = "r1\nr2\x1cr3\nr4\x0cr5\nr6\n"
    found = parse_targets(text, "t.txt")
    assert found == [("r1", 1), ("r2\x1cr3", 2), ("r4\x0cr5", 3), ("r6", 4)]
    assert len(check_targets("regid", [(t, f"t.txt:{n}") for t, n in found])) == 2


def test_alias_over_40_bytes_is_refused() -> None:
    """Aliases are at most 40 bytes (docs/api.md 5); registration ids have no such limit here."""
    long = "a" * 41
    assert len(check_targets("alias", [(long, "--alias")])) == 1
    assert check_targets("regid", [(long, "--regid")]) == []


def test_1200_targets_make_batches_of_500_500_200_in_order() -> None:
    """Batches hold at most 500 requests (docs/api.md 6) and keep the targets' order."""
    targets = [f"r{i}" for i in range(1200)]
    batches = build_batches(prepare(PUSH, name="n"), targets)
    assert [len(b) for b in batches] == [MAX_BATCH, MAX_BATCH, 200]
    assert [r["target"] for b in batches for r in b] == targets


def test_large_content_is_cut_into_smaller_batches_by_body_size() -> None:
    """Requests of ~4 KB go fewer than 500 to a call so a body stays under MAX_BATCH_BYTES."""
    big = {"to": "all", "body": {"platform": "all", "notification": {"alert": "x" * 3900}}}
    batches = build_batches(prepare(big, name="n"), [f"r{i}" for i in range(100)])
    sizes = [len(json.dumps({"requests": b}, separators=(",", ":"))) for b in batches]
    assert len(batches) > 1
    assert max(sizes) <= MAX_BATCH_BYTES
    assert sum(len(b) for b in batches) == 100
    assert MAX_BATCH_BYTES - sizes[0] < 4000  # each batch is filled before a new one starts


def test_byte_budget_is_exact_at_the_boundary() -> None:
    """A batch whose body is exactly the budget stays whole; one byte less splits it."""
    content = prepare(PUSH, name="n")
    targets = ["r1", "r2"]
    exact = len(
        json.dumps({"requests": [content.request(t) for t in targets]}, separators=(",", ":"))
    )
    assert len(build_batches(content, targets, max_bytes=exact)) == 1
    assert len(build_batches(content, targets, max_bytes=exact - 1)) == 2


def test_plan_send_dedupes_before_batching() -> None:
    """501 given targets with one repeat fit in one batch of 500, each target once."""
    given = [(f"r{i}", "f") for i in range(500)] + [("r7", "f")]
    plan = plan_send("n", PUSH, "regid", given)
    assert plan.duplicates == 1
    assert [len(b) for b in plan.batches] == [500]
    assert plan.path == "/v4/batch/push/regid"


def test_plan_send_without_targets_is_a_usage_error() -> None:
    """An empty targets file is an error, not a silent success."""
    with pytest.raises(UsageError, match="no targets"):
        plan_send("n", PUSH, "regid", [])
