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
