"""What apply does with 404 / 28105 "no push target for the scheduled time".

28105 comes with HTTP 404 but is a rejection of the request (the push has no target at that
time), not a missing task. Apply reports it as that action's failure with the code and the
vendor's message, carries out the other actions, changes nothing in the state for it (a create
is not recorded, an update does not forget the task as "gone"), exits 1, and the next apply
tries again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Faults
from reconciler.testing import serve_emulator
from tests.e2e.helpers import Project
from tests.kit.emulator import RecordingEmulator

NO_TARGET = "code 28105: The push task is invalid. There is no push target for the scheduled time"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A repository whose commands talk to a freshly served emulator."""
    for name in list(os.environ):
        if name.startswith(("RECONCILER_", "ENGAGELAB_")) or name in ("CI", "NO_COLOR"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    emulator = RecordingEmulator()
    emulator.fresh()
    with serve_emulator(emulator) as url:
        yield Project(tmp_path, emulator, url)


def test_a_create_answered_28105_fails_alone_and_is_retried_later(project: Project) -> None:
    """Both creates are answered 28105 on the first run: exit 1, each failure names the code
    and the vendor's message, nothing is recorded; without the fault the next apply creates
    both."""
    project.write("promo_a")
    project.write("promo_b")
    project.emulator.faults = Faults(no_target_rate=1.0)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert "2 action(s) failed" in result.output
    assert f"create 'promo_a': POST /v4/schedules: HTTP 404, {NO_TARGET}" in result.output
    assert "Traceback" not in result.output
    assert project.state()["entries"] == {}
    assert project.state()["pending"] == {}
    assert project.remote_ids() == {}

    project.emulator.faults = Faults()
    again = project.apply()
    assert again.exit_code == 0, again.output
    assert set(project.state_ids()) == {"promo_a", "promo_b"}


def test_an_update_answered_28105_keeps_the_task(project: Project) -> None:
    """An update answered 28105 is a failure, not "gone": the task and its state entry stay,
    and the next apply (without the fault) updates it in place."""
    project.write("promo", alert="v1")
    assert project.apply().exit_code == 0
    sid = project.state_ids()["promo"]
    project.write("promo", alert="v2")
    project.emulator.faults = Faults(no_target_rate=1.0)
    result = project.apply()
    assert result.exit_code == 1, result.output
    assert f"update 'promo': PUT /v4/schedules/{sid}: HTTP 404, {NO_TARGET}" in result.output
    assert project.state_ids() == {"promo": sid}
    assert project.remote()["promo"][0]["push"]["body"]["notification"]["alert"] == "v1"

    project.emulator.faults = Faults()
    project.mark()
    again = project.apply()
    assert again.exit_code == 0, again.output
    assert project.write_summary() == [("PUT", f"/v4/schedules/{sid}")]
    assert project.state_ids() == {"promo": sid}
