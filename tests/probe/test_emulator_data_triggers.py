"""Probe: an edited task trigger in the embedded emulator's data file
(``.reconciler/emulator.json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator import Emulator
from tests.kit.bodies import body

NOW = datetime(2027, 1, 9, tzinfo=UTC)
TRIGGERS: dict[str, Any] = {
    "time-not-text": {"single": {"time": 12, "zone_type": 1}},
    "impossible-date": {"single": {"time": "2027-13-45 10:00:00", "zone_type": 1}},
    "periodical-to-9999": {
        "periodical": {
            "start": "2027-01-09 10:00:00",
            "end": "9999-12-31 23:59:59",
            "time": "10:00:00",
            "time_unit": "week",
            "point": ["MON"],
            "frequency": 99999999,
            "zone_type": 1,
        },
    },
}


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_an_unreadable_trigger_in_the_emulator_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Promise: never a traceback; a bad file gets a clear message naming it, exit 1.

    The data file's shape is checked, and a task whose trigger cannot be read is reported as
    "not an emulator data file"; but a time that is not text stopped at an ``assert`` in the
    emulator's clock (``AssertionError``), and a periodical running to 9999 overflowed
    (``OverflowError``): a traceback from every command without credentials.
    """
    (tmp_path / "schedules").mkdir()
    data = tmp_path / ".reconciler" / "emulator.json"
    data.parent.mkdir()
    emulator = Emulator(data_path=data, clock=lambda: NOW)
    emulator.add_schedule(
        body("a", trigger={"single": {"time": "2027-03-01 10:00:00", "zone_type": 1}})
    )
    emulator.save()
    content = json.loads(data.read_text(encoding="utf-8"))
    content["tasks"][0]["body"]["trigger"] = TRIGGERS[kind]
    data.write_text(json.dumps(content), encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["--now", NOW.isoformat(), "plan"])

    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, AssertionError | OverflowError), result.exception
    assert "emulator.json" in result.output
