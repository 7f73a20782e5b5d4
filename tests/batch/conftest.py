"""Fixtures for test-send and history: the served emulator at ``NOW``, a directory of manifests."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from tests.batch.helpers import FIXTURES, NOW


@pytest.fixture
def emulator_start() -> datetime:
    """The fixture manifests are valid at ``NOW``: the emulator of each test starts there."""
    return NOW


@pytest.fixture
def url(served_url: str, emulator: Emulator) -> str:
    """The served emulator's URL (``emulator``: emptied for the test)."""
    return served_url


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
