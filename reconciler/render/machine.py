"""Plans and drift reports for machines: one JSON document each, ``{"format_version": ...,
"type": "plan" | "drift", ...}``, keys sorted, for scripts and CI steps to read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.planning import firing_changes
from reconciler.planning.actions import DriftItem
from reconciler.planning.artifact import Plan
from reconciler.printable import shown_json
from reconciler.render.describe import drift_counts, firing_rows, plan_zone


def _dump(data: Any) -> str:
    # The same JSON with what a reader of a CI log could miss written as escapes.
    return shown_json(json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)) + "\n"


def render_json(plan: Plan) -> str:
    """The plan for machines: ``{"format_version": 1, "type": "plan", "summary": ..., ...}``."""
    data = plan.model_dump(mode="json")
    if not data["policy_exceptions"]:
        del data["policy_exceptions"]  # shown only when there are some, as before the field
    data.update(
        format_version=JSON_OUTPUT_VERSION,
        type="plan",
        summary=plan.counts(),
        has_changes=plan.has_changes,
        safe=plan.is_safe,
        firings_next_7_days=firing_changes.as_json(firing_rows(plan), plan_zone(plan.timezone)),
    )
    return _dump(data)


def render_drift_json(plan: Plan, extra: Sequence[DriftItem] = ()) -> str:
    """Drift for machines: ``{"format_version": 1, "type": "drift", "items": [...], ...}``."""
    items = [*plan.drift_items(), *extra]
    return _dump(
        {
            "format_version": JSON_OUTPUT_VERSION,
            "type": "drift",
            "checked_at": plan.planned_at,
            "timezone": plan.timezone,
            "has_drift": bool(items),
            "summary": drift_counts(items),
            "items": [i.model_dump(mode="json") for i in items],
            "warnings": plan.warnings,
            "inputs": plan.inputs.model_dump(mode="json"),
        }
    )
