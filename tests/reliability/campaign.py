"""Campaign sizes and figures: how many seeds each campaign runs, and what it counted.

The default test run keeps every campaign small (a few seconds each). The full size, the one the
figures in docs/reliability.md come from, is selected with an environment variable::

    RECONCILER_CAMPAIGN=full .venv/bin/pytest tests/reliability -q

``RECONCILER_CAMPAIGN_SEED=N`` shifts every campaign to seeds N, N+1, ... so new ground can be
explored without editing the tests; a failing seed is printed in the test id (``[seed-17]``) and
is kept as a named test in ``test_regressions.py`` once the defect it found is fixed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FULL = os.environ.get("RECONCILER_CAMPAIGN", "").strip().lower() == "full"
BASE_SEED = int(os.environ.get("RECONCILER_CAMPAIGN_SEED", "0") or "0")

# campaign -> (default size, full size); full sizes meet issue 6 (>= 50 crash trials, >= 20
# fault seeds).
SIZES: dict[str, tuple[int, int]] = {
    "crash": (3, 60),
    "fault": (2, 24),
    "churn": (2, 20),
    # The crash campaign's variants (tests/reliability/variants.py). replace-safety cycles
    # through its safety rules by seed: the default size meets each rule once.
    "shared-state": (3, 30),
    "separate-states": (3, 30),
    "race": (2, 24),
    "journal-edit": (2, 30),
    "replace-safety": (7, 42),
}


def size(campaign: str) -> int:
    default, full = SIZES[campaign]
    return full if FULL else default


def seeds(campaign: str) -> list[object]:
    """``pytest.param`` seeds for one campaign, with ids ``seed-N``."""
    return [pytest.param(BASE_SEED + i, id=f"seed-{BASE_SEED + i}") for i in range(size(campaign))]


@dataclass
class Figures:
    """What one campaign did and found, summed over its trials."""

    trials: int = 0
    runs: int = 0  # reconciler processes / invocations started
    kills: int = 0  # runs ended by SIGKILL before they finished
    writes: int = 0  # /v4 POST, PUT and DELETE requests the emulator answered
    requests: int = 0  # every /v4 request the emulator answered
    faults: Counter[str] = field(default_factory=Counter)  # injected fault kind -> count
    actions: Counter[str] = field(default_factory=Counter)  # planned action kind -> count
    duplicates: int = 0
    losses: int = 0
    foreign_writes: int = 0  # PUT/DELETE requests on tasks the reconciler does not manage
    leaks: int = 0  # credential forms found in any output or file the runs left
    hangs: int = 0  # runs that neither finished nor reached their kill point in time
    tracebacks: int = 0  # Python tracebacks in any run's output
    max_runs_to_converge: int = 0
    hygiene_counted: bool = False  # the four counts above were taken (hygiene.check ran)

    def as_dict(self) -> dict[str, object]:
        counted = self.hygiene_counted
        return {
            "trials": self.trials,
            "runs": self.runs,
            "kills": self.kills,
            "writes": self.writes,
            "requests": self.requests,
            "faults_injected": sum(self.faults.values()),
            "faults": dict(sorted(self.faults.items())),
            "actions": dict(sorted(self.actions.items())),
            "duplicates": self.duplicates,
            "losses": self.losses,
            "foreign_writes": self.foreign_writes if counted else "not counted",
            "leaks": self.leaks if counted else "not counted",
            "hangs": self.hangs if counted else "not counted",
            "tracebacks": self.tracebacks if counted else "not counted",
            "max_runs_to_converge": self.max_runs_to_converge,
        }


FIGURES: dict[str, Figures] = {}


def figures(campaign: str) -> Figures:
    return FIGURES.setdefault(campaign, Figures())


def summary_lines() -> list[str]:
    """One line per campaign that ran (for the terminal summary)."""
    lines = []
    for name in sorted(FIGURES):
        data = FIGURES[name].as_dict()
        faults = data.pop("faults")
        actions = data.pop("actions")
        text = ", ".join(f"{k}={v}" for k, v in data.items())
        lines.append(f"{name}: {text}; faults {faults}; actions {actions}")
    return lines


def write_report(path: Path) -> None:
    """The figures as JSON (``RECONCILER_CAMPAIGN_REPORT=FILE``), e.g. for docs/reliability.md."""
    data = {
        "size": "full" if FULL else "default",
        "base_seed": BASE_SEED,
        "campaigns": {k: v.as_dict() for k, v in sorted(FIGURES.items())},
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
