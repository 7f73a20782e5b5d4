"""Fixtures for the end-to-end tests: a clean process environment and a project.

``project`` is a temporary directory (the working directory of the test) whose commands talk to
the session's served emulator (``emulator`` and ``served_url``, from ``tests/conftest.py``)
through ``--endpoint``, with the demo credentials the served emulator speaks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import Project
from tests.kit.emulator import RecordingEmulator

CREDENTIAL_VARS = ("ENGAGELAB_APP_KEY", "ENGAGELAB_MASTER_SECRET", "CI", "NO_COLOR")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials, not CI, and no RECONCILER_* settings leaking in from the outer shell."""
    import os

    for name in list(os.environ):
        if name.startswith("RECONCILER_") or name in CREDENTIAL_VARS:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: RecordingEmulator, served_url: str
) -> Project:
    """A fresh repository in the working directory, talking to the served emulator."""
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, emulator, served_url)
