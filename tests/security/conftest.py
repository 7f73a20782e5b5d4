"""Fixtures of the security tests: the end-to-end project against the served emulator.

The same fixtures as ``tests/e2e`` (a clean process environment, one served emulator emptied
for every test, a temporary repository as the working directory).
"""

from __future__ import annotations

from tests.e2e.conftest import (  # noqa: F401 (pytest finds fixtures by name)
    clean_environ,
    emulator,
    project,
    served_url,
    shared_emulator,
)
