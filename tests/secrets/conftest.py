"""The canary credentials and the pieces every secrets test shares.

The canary AppKey and Master Secret are distinctive strings that must never show up anywhere a
user or a CI log could see them: stdout, stderr, a log record, a plan file, a drift report, the
state file (and its backup and lock), an exception message. ``leaks(text)`` lists the canary
forms found in ``text``: the AppKey, the secret, and their HTTP Basic token (base64 of
``key:secret``, what actually travels in the Authorization header).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.badinput.helpers import NOW
from tests.kit.clock import FakeClock

CANARY_KEY = "CanaryKey7Q2x9Z4w8K1mP3d"  # 24 characters, like a real AppKey (docs/api.md 1)
CANARY_SECRET = "canary-master-secret-Vb7Xq29LmZ"
TOKEN = base64.b64encode(f"{CANARY_KEY}:{CANARY_SECRET}".encode()).decode()
CANARIES = {"AppKey": CANARY_KEY, "Master Secret": CANARY_SECRET, "Basic token": TOKEN}
CANARY_ENV = {"ENGAGELAB_APP_KEY": CANARY_KEY, "ENGAGELAB_MASTER_SECRET": CANARY_SECRET}

OTHER_KEY = "SomeOtherAppKey000000001"
OTHER_SECRET = "some-other-master-secret"


def leaks(text: str) -> list[str]:
    """Which canary forms ``text`` contains (empty: none)."""
    return [what for what, value in CANARIES.items() if value in text]


@pytest.fixture(scope="module")
def canary_emulator() -> Iterator[tuple[Emulator, str]]:
    """A served emulator that accepts exactly the canary credentials."""
    emulator = Emulator(app_key=CANARY_KEY, master_secret=CANARY_SECRET, clock=FakeClock(NOW).wall)
    with serve_emulator(emulator) as url:
        yield emulator, url


@pytest.fixture(scope="module")
def other_emulator() -> Iterator[tuple[Emulator, str]]:
    """A served emulator of another app: the canary credentials fail to log in (401)."""
    emulator = Emulator(app_key=OTHER_KEY, master_secret=OTHER_SECRET, clock=FakeClock(NOW).wall)
    with serve_emulator(emulator) as url:
        yield emulator, url


class Recorder(logging.Handler):
    """Keeps every log record emitted while attached, formatted as ``--debug`` prints them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.exc_info:
            text += "\n" + self.formatter.formatException(record.exc_info)  # type: ignore[union-attr]
        self.lines.append(text)


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    """Every log record of every logger, at DEBUG, for the whole module."""
    handler = Recorder()
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def files_under(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> its text, undecodable bytes replaced)."""
    return {
        str(p.relative_to(root)): p.read_bytes().decode("utf-8", errors="replace")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
