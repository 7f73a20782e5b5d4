"""Fixtures for test-send and history: a served emulator and a working directory of manifests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator, Faults
from reconciler.testing import serve_emulator
from tests.batch.helpers import FIXTURES, NOW


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, str]]:
    """One emulator over HTTP on loopback per module; its clock stands still at ``NOW``."""
    emulator = Emulator(clock=lambda: NOW)
    with serve_emulator(emulator) as url:
        yield emulator, url


@pytest.fixture
def emulator(served: tuple[Emulator, str]) -> Emulator:
    """The served emulator, emptied, without faults, its clock back at ``NOW``."""
    em = served[0]
    em.faults = Faults()
    em.reset()
    em.set_time(NOW)
    return em


@pytest.fixture
def url(served: tuple[Emulator, str], emulator: Emulator) -> str:
    return served[1]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the fixture manifests in schedules/ and no credentials."""
    for var in ("ENGAGELAB_APP_KEY", "ENGAGELAB_MASTER_SECRET", "CI"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("RECONCILER_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    for manifest in FIXTURES.glob("*.yaml"):
        shutil.copyfile(manifest, tmp_path / "schedules" / manifest.name)
    return tmp_path
