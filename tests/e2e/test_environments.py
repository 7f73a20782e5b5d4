"""Settings that come from reconciler.yaml and the time zone reach the plan and the apply."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.ops import observe as engine
from tests.e2e.helpers import Project, embedded_with
from tests.kit.bodies import single
from tests.kit.emulator import RecordingEmulator


@pytest.fixture
def shanghai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose app (the embedded emulator, observed in-process) runs in Asia/Shanghai."""
    emulator = RecordingEmulator(timezone="Asia/Shanghai")
    emulator.fresh()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "resolve_target", embedded_with(emulator))
    return Project(tmp_path, emulator, None)


def test_limits_from_reconciler_yaml_apply(project: Project) -> None:
    """`max_deletes` and `fire_guard_minutes` of the environment are used without flags, and a
    flag still overrides them."""
    (project.root / "reconciler.yaml").write_text(
        "environments:\n  default:\n    max_deletes: 1\n    fire_guard_minutes: 120\n",
        encoding="utf-8",
    )
    for name in ("a", "b", "c"):
        project.write(name, trigger=single("2027-03-01 10:00:00"))
    assert project.apply().exit_code == 0
    project.remove("a")
    project.remove("b")
    project.mark()
    refused = project.apply()
    assert refused.exit_code == 1, refused.output
    assert "exceed --max-deletes 1" in refused.output
    assert project.writes() == []

    project.emulator.set_time(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))  # one hour before
    guarded = project.apply("--max-deletes", "2")
    assert guarded.exit_code == 1, guarded.output
    assert "within --fire-guard 120" in guarded.output
    assert project.writes() == []
    assert project.apply("--max-deletes", "2", "--fire-guard", "30").exit_code == 0
    assert len(project.writes()) == 2


def test_one_shot_fired_in_the_app_time_zone_is_expired_not_recreated(shanghai: Project) -> None:
    """zone_type 1 times are read in the environment's time zone: a one-shot at 10:00 in
    Shanghai has fired at 02:05 UTC, so it is forgotten, never created a second time."""
    shanghai.write("flash", trigger=single("2027-03-01 10:00:00", zone_type=1))
    zone = ["--timezone", "Asia/Shanghai"]
    assert shanghai.run(*zone, "apply", "--auto-approve").exit_code == 0
    shanghai.emulator.set_time(datetime(2027, 3, 1, 2, 5, tzinfo=UTC))
    assert shanghai.emulator.schedules() == []  # the server fired it
    shanghai.mark()

    result = shanghai.run(*zone, "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert shanghai.writes() == []
    assert shanghai.state()["entries"] == {}


def test_fire_guard_uses_the_app_time_zone(shanghai: Project) -> None:
    """At 01:57 UTC a schedule firing at 10:00 Shanghai time is 3 minutes away: an edit needs
    --force."""
    shanghai.write("flash", trigger=single("2027-03-01 10:00:00"), alert="v1")
    zone = ["--timezone", "Asia/Shanghai"]
    assert shanghai.run(*zone, "apply", "--auto-approve").exit_code == 0
    shanghai.emulator.set_time(datetime(2027, 3, 1, 1, 57, tzinfo=UTC))
    shanghai.write("flash", trigger=single("2027-03-01 10:00:00"), alert="v2")
    shanghai.mark()
    result = shanghai.run(*zone, "apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "'flash' fires at" in result.output
    assert shanghai.writes() == []
