"""Probe: the hidden ``--now`` option is also read from ``RECONCILER_NOW``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.e2e.helpers import Project


def test_a_stray_reconciler_now_variable_never_switches_off_the_fire_guard(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: option values from the environment cannot defeat a safety rule.

    Every option gets a ``RECONCILER_<FLAG>`` variable, the hidden testing option ``--now``
    included. ``soon`` fires in 2 minutes (server time) and an update is refused by the
    5-minute fire guard. With ``RECONCILER_NOW`` a month earlier left in a CI job's
    environment, the same ``apply --auto-approve`` believes the firing is a month away and
    PUTs the task while it is about to fire.
    """
    soon = {"single": {"time": "2026-12-01 00:02:00", "zone_type": 1}}
    project.write("mine")
    project.write("soon", trigger=soon)
    assert project.apply().exit_code == 0
    project.write("soon", alert="changed", trigger=soon)
    assert project.apply().exit_code == 1  # the guard, with the real clock
    project.mark()

    monkeypatch.setenv("RECONCILER_NOW", "2026-11-01T00:00:00+00:00")
    head = ["--rate-limit", "10000", "--endpoint", str(project.url)]
    CliRunner().invoke(cli, [*head, "apply", "--auto-approve"])

    assert project.write_summary() == [], "the update was sent inside the fire guard"
