"""Fault campaign: a flaky server never makes apply duplicate or lose a schedule.

Each seed is one trial (``trials.fault_trial``): 20 % of requests answered 5xx, 5 % of writes
committed and then answered late (after the client gave up) or not at all, latency with jitter
and a request-rate limit. apply is re-run until it exits 0, within ``MAX_FAULT_RUNS`` runs, and
the app must then equal the manifests exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import campaign
from tests.reliability.trials import MAX_FAULT_RUNS, fault_trial


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("fault"))
def test_apply_through_faults_converges_without_duplicates_or_losses(
    seed: int, tmp_path: Path
) -> None:
    """Re-running apply through 5xx, lost answers and 429s converges to exactly the manifests."""
    runs = fault_trial(seed, tmp_path)
    assert 1 <= runs <= MAX_FAULT_RUNS
