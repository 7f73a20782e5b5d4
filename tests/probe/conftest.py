"""Fixtures for the probe tests: the end-to-end tests' served emulator and project driver."""

from __future__ import annotations

from tests.e2e.conftest import clean_environ, emulator, project, served_url, shared_emulator

__all__ = ["clean_environ", "emulator", "project", "served_url", "shared_emulator"]
