"""The hostile-server world, built once per module; its size follows the campaign switch.

Default run: 60 tasks (two list pages). ``RECONCILER_CAMPAIGN=full``: 260 tasks (six pages).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.campaign import FULL

from .world import World, build_world

TASKS = 260 if FULL else 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A project in sync with the hostile server's emulator (``world.build_world``)."""
    with build_world(tmp_path_factory.mktemp("hostile"), TASKS) as built:
        yield built
