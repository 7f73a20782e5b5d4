"""Crash campaign: apply killed with SIGKILL at seeded points always heals on the next run.

Each seed is one trial (``trials.crash_trial``): a mixed plan of creates, updates, deletes,
replaces and recreates, unmanaged tasks around it, apply as a child process killed once or twice
at a seeded point, then one more apply that must exit 0 and leave the app equal to the manifests,
with no duplicate, no loss, a clean state file and the unmanaged tasks untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import campaign
from tests.reliability.trials import crash_trial


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("crash"))
def test_apply_killed_at_a_seeded_point_converges_on_the_next_run(
    seed: int, tmp_path: Path
) -> None:
    """After SIGKILLs mid-apply, one more apply converges: no duplicate, no loss, state clean."""
    crash_trial(seed, tmp_path)
