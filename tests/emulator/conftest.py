"""Fixtures for the emulator conformance tests, over the family of ``tests/conftest.py``.

``api`` talks to a session-wide ``Emulator`` whose wall clock, monotonic clock and sleep are one
``FakeClock`` (``clock``: its sleeps record the fault delays without moving its monotonic time,
which the rate-limit tests step themselves); the ``emulator`` fixture resets it and sets the
time to ``START`` for every test.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from reconciler.emulator import Emulator
from tests.emulator.helpers import START
from tests.kit.clock import FakeClock


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock(START, advance=False)


@pytest.fixture(scope="session")
def shared_emulator(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock.wall, sleep=clock.sleep, monotonic=clock.monotonic)


@pytest.fixture
def emulator_start() -> datetime:
    return START


@pytest.fixture
def emulator(emulator: Emulator, clock: FakeClock) -> Emulator:
    """The session emulator, emptied, faults off, at ``START``, no sleeps recorded."""
    clock.sleeps.clear()
    clock.now += 1000.0  # far from any previous bucket state
    return emulator
