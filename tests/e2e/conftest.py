"""Fixtures for the end-to-end tests: a clean process environment, a served emulator, a project.

One ``RecordingEmulator`` is served over real HTTP on 127.0.0.1 for the whole session (starting
uvicorn per test would dominate the run time); ``emulator`` empties it for every test. ``project``
is a temporary directory (the working directory of the test) whose commands talk to that
emulator through ``--endpoint``, with the demo credentials the served emulator speaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.testing import serve_emulator
from tests.e2e.helpers import Project, RecordingEmulator

CREDENTIAL_VARS = ("ENGAGELAB_APP_KEY", "ENGAGELAB_MASTER_SECRET", "CI", "NO_COLOR")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials, not CI, and no RECONCILER_* settings leaking in from the outer shell."""
    import os

    for name in list(os.environ):
        if name.startswith("RECONCILER_") or name in CREDENTIAL_VARS:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shared_emulator() -> RecordingEmulator:
    return RecordingEmulator()


@pytest.fixture(scope="session")
def served_url(shared_emulator: RecordingEmulator) -> Iterator[str]:
    with serve_emulator(shared_emulator) as url:
        yield url


@pytest.fixture
def emulator(shared_emulator: RecordingEmulator) -> RecordingEmulator:
    """The session's emulator, empty, without faults, its clock at ``START``."""
    shared_emulator.fresh()
    return shared_emulator


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: RecordingEmulator, served_url: str
) -> Project:
    """A fresh repository in the working directory, talking to the served emulator."""
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, emulator, served_url)
