"""The crash campaign's variants (``variants.py``): shared and linked state, racing checkouts,
manifests edited while creates are journalled, and interrupted replaces under each safety rule.

Each seed is one trial; every trial counts duplicates, foreign writes, credential leaks, hangs
and tracebacks, and fails on any of them. Sizes: ``campaign.SIZES`` (``RECONCILER_CAMPAIGN``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import campaign
from tests.reliability.variants import (
    journal_edit_trial,
    race_trial,
    replace_safety_trial,
    separate_states_trial,
    shared_state_trial,
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("shared-state"))
def test_two_checkouts_sharing_one_state_file_never_duplicate(seed: int, tmp_path: Path) -> None:
    """Two checkouts whose state is one file (through links or one path) apply at once, one
    sometimes killed: no duplicate, the links survive, and both then plan no change."""
    shared_state_trial(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("separate-states"))
def test_two_checkouts_with_their_own_states_leave_one_task_per_name(
    seed: int, tmp_path: Path
) -> None:
    """Two checkouts with a state file each apply the same new manifests at once: one task per
    name is left, both states hold it, and neither plans a change afterwards."""
    separate_states_trial(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("race"))
def test_checkouts_at_two_commits_racing_never_duplicate(seed: int, tmp_path: Path) -> None:
    """An older and a newer commit applied at once on a shared state: no duplicate, no task the
    state does not know, and the newer commit converges."""
    race_trial(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("journal-edit"))
def test_manifests_edited_while_creates_are_journalled_converge(seed: int, tmp_path: Path) -> None:
    """Apply killed among its POSTs, the journalled manifests edited, removed, disabled,
    replaced or renamed: the re-run converges on the edit with no second task."""
    journal_edit_trial(seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", campaign.seeds("replace-safety"))
def test_an_interrupted_replace_is_finished_under_every_safety_rule(
    seed: int, tmp_path: Path
) -> None:
    """A replace killed half-way, then a plan one safety rule refuses (by seed): the refusal
    still deletes the replaced task and sends nothing else; lifted, the change converges."""
    replace_safety_trial(seed, tmp_path)
