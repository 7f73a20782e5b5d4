"""The emulator's wire validation of batch pushes (docs/api.md section 6): the envelope, each
request's fields, and the uniqueness of targets and cids within one call.

A batch fails as a whole (a global error, no partial results): 21015 for the envelope, 21016
for a request's fields, 21003 for a target or cid given twice. The content of a request is
checked by the same rules as a schedule's push (``validation``), with the batch's codes.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import wire
from reconciler.emulator.decoding import Fail
from reconciler.emulator.validation import (
    check_message,
    check_notification,
    check_options,
    only_keys,
)
from reconciler.emulator.wire import WireError

BATCH_ITEM_KEYS = {"target", "platform", "notification", "message", "options", "custom_args"}
BATCH_PLATFORMS = ("android", "ios", "all")  # docs/api.md section 6
MAX_BATCH = 500


def _batch_error(code: int) -> Fail:
    def make(message: str) -> WireError:
        return WireError(400, code, message)

    return make


def batch_envelope_error(message: str) -> WireError:
    """400 / 21015: the batch body as a whole is unusable (section 6)."""
    return WireError(400, wire.BATCH_REQUEST_INVALID, message)


def validate_batch(body: Any) -> list[dict[str, Any]]:
    """The ``requests`` of a batch push, or a global error (no partial results, section 6).

    21015: the envelope is wrong (not an object, ``requests`` missing, empty or over 500);
    21016: a request's fields fail their checks; 21003: a target or a cid appears twice.
    """
    envelope = batch_envelope_error
    check = _batch_error(wire.BATCH_CHECK_FAILED)
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise envelope('the body must be {"requests": [...]}')
    requests: list[dict[str, Any]] = body["requests"]
    if not 1 <= len(requests) <= MAX_BATCH:
        raise envelope(f"requests: 1..{MAX_BATCH} entries allowed, got {len(requests)}")
    seen: set[str] = set()
    cids: set[str] = set()
    for i, item in enumerate(requests):
        where = f"requests[{i}]"
        if not isinstance(item, dict):
            raise check(f"{where} must be an object")
        only_keys(item, BATCH_ITEM_KEYS, where, check)
        target = item.get("target")
        if not isinstance(target, str) or not target:
            raise check(f"{where}.target is required (a non-empty string)")
        if target in seen:
            raise WireError(
                400, wire.BATCH_VALUE_INVALID, f"{where}.target {target!r} appears twice"
            )
        seen.add(target)
        if item.get("platform") not in BATCH_PLATFORMS:
            raise check(f"{where}.platform must be android, ios or all")
        has_n, has_m = "notification" in item, "message" in item
        if has_n == has_m:
            raise check(f"{where}: exactly one of notification and message is required")
        if has_n:
            check_notification(item["notification"], f"{where}.notification", check)
        else:
            check_message(item["message"], f"{where}.message", check)
        if "options" in item:
            check_options(item["options"], f"{where}.options", check)
            cid = item["options"].get("cid")
            # "All target or cid values must be unique within a batch."
            if cid is not None and cid in cids:
                raise WireError(
                    400, wire.BATCH_VALUE_INVALID, f"{where}.options.cid {cid!r} appears twice"
                )
            if cid is not None:
                cids.add(cid)
        if "custom_args" in item and not isinstance(item["custom_args"], dict):
            # Typed "object" by the batch page (schedules also take text; see section 5).
            raise check(f"{where}.custom_args must be an object")
    return requests
