"""Helpers of the policy tests: manifest text with known lines, loading, checking."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.config.policies import checks
from reconciler.config.policies.parsing import parse_policies
from reconciler.config.policies.rules import Policies
from reconciler.config.policies.subjects import Subject, Violation, subjects_of
from reconciler.manifests.load import load_manifests

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
TIME_LINE = 5  # the line of the trigger's time (or backup_time) in every manifest below


def single_text(name: str, at: str, *, zone_type: int = 1, to: str = "all") -> str:
    return f"""\
name: {name}
enabled: true
trigger:
  single:
    time: "{at}"
    zone_type: {zone_type}
push:
  to: {to}
  body:
    platform: all
    notification:
      alert: hello
"""


def periodical_text(
    name: str,
    *,
    at: str = "09:00:00",
    start: str = "2027-01-01 00:00:00",
    end: str = "2027-12-31 00:00:00",
    unit: str = "day",
    point: str = "[]",
    frequency: int = 1,
    zone_type: int = 1,
    to: str = "all",
) -> str:
    return f"""\
name: {name}
enabled: true
trigger:
  periodical:
    time: "{at}"
    start: "{start}"
    end: "{end}"
    time_unit: {unit}
    point: {point}
    frequency: {frequency}
    zone_type: {zone_type}
push:
  to: {to}
  body:
    platform: all
    notification:
      alert: hello
"""


def load(directory: Path, files: dict[str, str]) -> list[Subject]:
    """Write ``files`` (name -> text) under ``directory`` and load them as policy subjects."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    result = load_manifests([directory], now=NOW, tz=BERLIN)
    assert not result.errors, [str(p) for p in result.errors]
    return subjects_of(result.manifests)


def rules(**spec: Any) -> Policies:
    parsed = parse_policies(spec, 1)
    assert isinstance(parsed, Policies), parsed
    return parsed


def check(subjects: list[Subject], spec: Policies, **kwargs: Any) -> list[Violation]:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("tz", BERLIN)
    return checks.check(subjects, spec, **kwargs)
