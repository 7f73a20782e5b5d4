"""Fixtures for the probe tests: the end-to-end tests' clean environment and project driver."""

from __future__ import annotations

from tests.e2e.conftest import clean_environ, project

__all__ = ["clean_environ", "project"]
