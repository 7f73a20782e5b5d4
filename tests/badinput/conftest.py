"""Fixtures and campaign size for the bad-input campaign.

Size: the default run tries a few hundred bad inputs in seconds; ``RECONCILER_CAMPAIGN=full``
(the switch the crash, fault and churn campaigns use too) raises every hypothesis test's
``max_examples`` so the campaign tries well over 500::

    RECONCILER_CAMPAIGN=full .venv/bin/pytest tests/badinput -q

The default run is derandomized (the same examples every time, so CI is reproducible); the
full run explores new examples on every run. A failing example hypothesis finds is kept as a
hand-written case in the ``test_*_cases.py`` module of its input kind once fixed.

The number of bad inputs tried is printed in the terminal summary ("bad-input campaign: ...").
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from reconciler.emulator import Emulator

from .helpers import NOW, write_project
from .server import ScriptedServer, serve_asgi
from .tally import TALLY

FULL = os.environ.get("RECONCILER_CAMPAIGN", "").strip().lower() == "full"


def examples(default: int, full: int) -> Any:
    """Hypothesis settings for one generated bad-input family (default vs full campaign)."""
    return settings(
        max_examples=full if FULL else default,
        deadline=None,
        derandomize=not FULL,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            # Fixtures (the served emulator, the repository) are reset by each example itself.
            HealthCheck.function_scoped_fixture,
        ],
    )


def commands_for(
    case: str, always: Sequence[tuple[str, ...]], others: Sequence[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The commands one hand-written case runs: ``always`` and, by turns, one of ``others``
    (every one of them in the full campaign). The commands of a family share the code that
    reads the bad input, and each in-process run still costs a few milliseconds to tens."""
    if FULL or not others:
        return [*always, *others]
    return [*always, others[sum(case.encode()) % len(others)]]


def subprocess_cases(cases: list[Any]) -> list[Any]:
    """The cases also run as ``python -m reconciler`` subprocesses: one by default (each costs
    a process start-up), all of them in the full campaign."""
    return cases if FULL else cases[:1]


@pytest.fixture
def emulator_start() -> datetime:
    return NOW


@pytest.fixture
def served(emulator: Emulator, served_url: str) -> tuple[Emulator, str]:
    """The served emulator (demo credentials), empty and with an empty request log, at NOW."""
    return emulator, served_url


@pytest.fixture(scope="session")
def _scripted() -> Iterator[tuple[ScriptedServer, str]]:
    app = ScriptedServer()
    with serve_asgi(app) as url:
        yield app, url


@pytest.fixture
def scripted(_scripted: tuple[ScriptedServer, str]) -> tuple[ScriptedServer, str]:
    """The scripted server, answering like a healthy app until a test scripts otherwise."""
    app, url = _scripted
    app.reset()
    return app, url


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one valid manifest, as the current directory."""
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        total = sum(TALLY.values())
        parts = ", ".join(f"{kind} {n}" for kind, n in sorted(TALLY.items()))
        size = "full" if FULL else "default"
        terminalreporter.write_line(
            f"bad-input campaign ({size}): {total} bad inputs ({parts}); each ended in exit 1 "
            "with a message, no traceback, no write call"
        )
