"""Churn campaign: tasks created and deleted while the inventory is paged fool nothing.

Each seed is one trial (``trials.churn_trial``) with more than 50 tasks (several pages) and
churn-deletable tasks spread among the managed ones, so deletions shift managed tasks across
page boundaries: no managed task is ever reported missing or deleted, apply writes nothing when
nothing changed, and a read that never adds up blocks deletes instead of guessing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import campaign
from tests.reliability.trials import churn_trial


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("churn"))
def test_inventory_churn_never_loses_a_managed_task_and_blocks_deletes(
    seed: int, tmp_path: Path
) -> None:
    """Under list churn: no managed task missing, no write without changes, deletes blocked."""
    churn_trial(seed, tmp_path)
