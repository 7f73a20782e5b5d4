"""What the server holds, as the planner sees it: the result of one inventory read (pure data).

``inventory.py`` fills these by reading the API; the planner, the safety rules and the journal's
healing only read them, so they live here, apart from the HTTP client: the planning core does
no I/O (docs/python-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler.planning import canonical

__all__ = ["Inventory", "RemoteSchedule"]


@dataclass(frozen=True)
class RemoteSchedule:
    """One active task on the server, with its full detail body.

    ``body`` is the detail object without ``schedule_id``: ``{name, enabled, trigger, push}``
    exactly as the server returned it (not canonicalised; ``diff.py`` does that).
    """

    schedule_id: str
    name: str
    enabled: bool
    body: dict[str, Any]

    @cached_property
    def fingerprint(self) -> str:
        """``canonical.fingerprint(body)``, computed once (the plan needs it twice)."""
        return canonical.fingerprint(self.body)


@dataclass(frozen=True)
class Inventory:
    """What the server holds, and whether we may trust that it is all of it.

    ``complete`` is False when the list did not add up (count mismatch, failed page, churn that
    did not settle): the planner then allows no delete and no recreate.
    ``gone`` holds ids the caller asked about (from the state file) that a detail GET
    confirmed as 404.
    ``listed`` holds the ids of the list pass the read rests on, and ``confirmed`` whether that
    pass was confirmed (a second pass listed the same ids, or one answer held the whole list):
    only then does the absence of a task from it prove that no such task exists
    (``ops.observe.confirm_absences``).
    """

    schedules: dict[str, RemoteSchedule]  # by schedule_id
    complete: bool = True
    problems: tuple[str, ...] = ()
    gone: frozenset[str] = field(default_factory=frozenset)
    total_count: int = 0
    listed: frozenset[str] = field(default_factory=frozenset)
    confirmed: bool = False

    def by_name(self) -> dict[str, list[RemoteSchedule]]:
        out: dict[str, list[RemoteSchedule]] = {}
        for s in self.schedules.values():
            out.setdefault(s.name, []).append(s)
        return out
