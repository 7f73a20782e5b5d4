"""Fixtures of the security tests: the end-to-end project against the served emulator.

The same fixtures as ``tests/e2e`` (a clean process environment, a temporary repository as the
working directory); the served emulator, emptied for every test, is ``tests/conftest.py``'s.
"""

from __future__ import annotations

from tests.e2e.conftest import clean_environ, project  # noqa: F401 (pytest finds them by name)
