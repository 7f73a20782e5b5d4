"""``history NAME`` answers for a one-shot that fired and was forgotten from the state."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.e2e.helpers import Project
from tests.kit.bodies import single


def test_history_of_a_fired_and_forgotten_one_shot(project: Project) -> None:
    """After a one-shot fired and apply forgot it, ``history NAME`` shows its execution (with a
    note saying it is no longer managed) instead of "no schedule named ..."."""
    project.write("launch", trigger=single("2027-03-01 10:00:00"))
    assert project.apply().exit_code == 0
    sid = project.state_ids()["launch"]
    project.emulator.set_time(datetime(2027, 3, 1, 11, 0, tzinfo=UTC))
    assert project.apply().exit_code == 0
    assert "launch" not in project.state()["entries"]
    forgotten = project.state()["forgotten"]["launch"]
    assert [f["schedule_id"] for f in forgotten] == [sid]

    result = project.run("history", "launch")
    assert result.exit_code == 0, result.output
    assert f"note: 'launch' is no longer managed: its task {sid} was forgotten" in result.output
    assert "trigger time passed" in result.output
    assert "1 execution(s)" in result.stdout
    assert "2027-03-01" in result.stdout
