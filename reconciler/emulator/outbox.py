"""What the emulated app sends: batch-push results (docs/api.md 6), msg-id records (section 3)
and the unmanaged tasks of the churn fault.

Pure functions over the store and the fault dice; ``Emulator`` calls them under its lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reconciler.emulator import wire
from reconciler.emulator.faults import FaultDice
from reconciler.emulator.store import Store


def send_batch(
    store: Store, dice: FaultDice, by: str, requests: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """Results of a validated batch: one msg_id per target within the QPS budget, 23008 beyond."""
    results: dict[str, dict[str, Any]] = {}
    limited = False
    for item in requests:
        target = item["target"]
        if not dice.allow_target():
            limited = True
            results[target] = {
                "target": target,
                "success": False,
                "error": {"code": wire.BATCH_RATE_LIMITED, "message": "API rate limit exceeded"},
            }
            continue
        msg_id = store.take_msg_id()
        results[target] = {"target": target, "success": True, "msg_id": msg_id}
        store.record_push(
            {
                "by": by,
                "target": target,
                "msg_id": msg_id,
                "platform": item["platform"],
                "request": item,
                "ts": int(now.timestamp() * 1000),
            }
        )
    body: dict[str, Any] = {"results": results}
    if limited:
        body["rate_limit_info"] = {
            "message": "some requests were rate limited during batch processing",
            "rate_limit_occurred": True,
        }
    return body


def msg_record(store: Store, dice: FaultDice, moment: datetime) -> dict[str, Any]:
    """One msg-ids entry for a firing at ``moment``; a failed firing carries code 1011."""
    ts = int(moment.timestamp() * 1000)
    if dice.fire_fails():
        error = {"code": 1011, "message": "Cannot find sending target"}
        return {"msg_id": "0", "error": error, "needRetry": False, "ts": ts}
    msg_id = str(store.take_msg_id())
    return {"msg_id": msg_id, "error": {"code": 0, "message": ""}, "needRetry": False, "ts": ts}


def churn_body(number: int, now: datetime) -> dict[str, Any]:
    """An unmanaged task the churn fault creates: daily for 30 days from ``now``."""
    start = now.replace(tzinfo=None, microsecond=0)
    return {
        "name": f"churn_{number:05d}",
        "enabled": True,
        "trigger": {
            "periodical": {
                "start": start.strftime(wire.DATETIME_FORMAT),
                "end": (start + timedelta(days=30)).strftime(wire.DATETIME_FORMAT),
                "time": "12:00:00",
                "time_unit": "day",
                "point": [],
                "zone_type": 1,
            }
        },
        "push": {"to": "all", "body": {"platform": "all", "notification": {"alert": "churn"}}},
    }
