"""The push policy rules an environment can set, as data: each rule's settings and level.

The rules and their keys are documented in docs/policies.md; ``parsing`` reads them from
``reconciler.yaml``, ``checks`` finds the manifests that break them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

RULES = ("quiet_hours", "frequency_cap", "blackout_dates", "min_lead_time", "required_fields")
LEVELS = ("error", "warning")
MAX_DAYS = 400  # a periodical trigger spans at most a year (docs/api.md section 2.2)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    level: str = "error"

    def contains(self, at: time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class FrequencyCap:
    max_per_day: int
    level: str = "error"


@dataclass(frozen=True)
class Blackout:
    dates: frozenset[date]
    level: str = "error"


@dataclass(frozen=True)
class LeadTime:
    minimum: timedelta
    level: str = "error"


@dataclass(frozen=True)
class RequiredFields:
    fields: tuple[str, ...]
    level: str = "error"


@dataclass(frozen=True)
class Policies:
    """The rules of one environment; ``None`` for a rule it does not set."""

    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None
    blackout_dates: Blackout | None = None
    min_lead_time: LeadTime | None = None
    required_fields: RequiredFields | None = None

    @property
    def names(self) -> list[str]:
        return [name for name in RULES if getattr(self, name) is not None]

    def __bool__(self) -> bool:
        return bool(self.names)


NO_POLICIES = Policies()
