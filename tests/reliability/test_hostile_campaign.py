"""Hostile-server campaign: the lies of ``tests/hostile`` by seed, at other tasks and commands.

Each seed is one trial: a lie (``tests.hostile.lies``), the task it is aimed at and the command
run against it (plan, apply or drift) are drawn from ``random.Random(seed)``. Every trial must
leave the guarantees of ``tests.hostile.world.check`` intact: no write reaches the lying
server, no traceback, bounded time, no credential in the output, and a clear error where the
answers cannot be trusted. Default size: 4 trials on 60 tasks; ``RECONCILER_CAMPAIGN=full``:
40 trials on 260 tasks (six list pages, so page-level lies hit later pages too).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.lies import lies
from tests.hostile.world import COMMANDS, World, build_world, check, run_against
from tests.reliability import campaign
from tests.secrets.conftest import CANARY_KEY, CANARY_SECRET

TRIALS, TASKS = (40, 260) if campaign.FULL else (4, 60)
SEEDS = [
    pytest.param(campaign.BASE_SEED + i, id=f"seed-{campaign.BASE_SEED + i}") for i in range(TRIALS)
]


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A project in sync with the hostile server (built once for the campaign)."""
    root: Path = tmp_path_factory.mktemp("hostile-campaign")
    with build_world(root, TASKS) as world:
        yield world


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a_lying_server_never_gets_a_write_or_a_secret(hostile_world: World, seed: int) -> None:
    """A random lie at a random task against a random command: no write, no traceback, no
    hang, no secret; a clear error when the answers cannot be trusted."""
    rng = random.Random(seed)
    choices = lies(CANARY_KEY, CANARY_SECRET)
    lie = choices[rng.randrange(len(choices))]
    command = rng.choice(sorted(COMMANDS))
    run = run_against(hostile_world, lie, command, target=rng.randrange(TASKS))
    figures = campaign.figures("hostile")
    figures.trials += 1
    figures.runs += 1
    figures.requests += run.requests
    figures.writes += len(run.writes)
    figures.faults[lie.name] += 1
    figures.actions[command] += 1
    check(run)
