"""Reliability campaigns: print what they did, and optionally write it as JSON.

Size: ``RECONCILER_CAMPAIGN=full`` (see ``campaign.py``); figures as JSON:
``RECONCILER_CAMPAIGN_REPORT=FILE``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability import campaign


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = campaign.summary_lines()
    if not lines:
        return
    size = "full" if campaign.FULL else "default"
    terminalreporter.section(f"reliability campaigns ({size} size)")
    for line in lines:
        terminalreporter.write_line(line)
    report = os.environ.get("RECONCILER_CAMPAIGN_REPORT")
    if report:
        campaign.write_report(Path(report))
        terminalreporter.write_line(f"figures written to {report}")
