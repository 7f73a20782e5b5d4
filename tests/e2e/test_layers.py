"""Shared defaults and an environment overlay through plan and apply against the emulator."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import Project

DEFAULTS = """\
enabled: true
push:
  from: push
  to: all
  body:
    platform: all
    notification:
      alert: from the defaults
    options:
      time_to_live: 600
"""
PROMO = """\
push:
  body:
    notification:
      alert: promo
"""
OVERLAY = """\
"*":
  push:
    to: {tag: [qa]}
promo:
  shift: "+1d"
"""


def layered(project: Project) -> None:
    """schedules/ with a root defaults file, a sub-directory with a base, and a staging
    environment (the project's state file) whose overlay patches every schedule."""
    (project.schedules / "_defaults.yaml").write_text(DEFAULTS, encoding="utf-8")
    (project.schedules / "news.yaml").write_text(
        'name: news\ntrigger:\n  single:\n    time: "2027-03-01 10:00:00"\n    zone_type: 1\n',
        encoding="utf-8",
    )
    sub = project.schedules / "campaigns"
    sub.mkdir()
    (sub / "_promo.yaml").write_text(PROMO, encoding="utf-8")
    (sub / "promo.yaml").write_text(
        "extends: _promo.yaml\nname: promo\n"
        'trigger:\n  single:\n    time: "2027-04-01 09:30:00"\n    zone_type: 1\n',
        encoding="utf-8",
    )
    overlay = project.root / "overlays" / "staging"
    overlay.mkdir(parents=True)
    (overlay / "patches.yaml").write_text(OVERLAY, encoding="utf-8")
    project.config = project.root / "reconciler.yaml"
    project.config.write_text(
        "environments:\n  staging:\n    manifests: schedules\n"
        "    state: .reconciler/state.json\n    overlay: overlays/staging\n",
        encoding="utf-8",
    )


def test_apply_creates_the_merged_bodies_and_a_second_plan_is_empty(project: Project) -> None:
    """apply sends each schedule's defaults + base + manifest + overlay body (audience from the
    overlay, time shifted), and a second plan finds nothing to do."""
    layered(project)
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    remote = {name: tasks[0] for name, tasks in project.remote().items()}
    assert set(remote) == {"news", "promo"}
    news, promo = remote["news"], remote["promo"]
    assert news["push"]["to"] == {"tag": ["qa"]}
    assert news["push"]["body"]["notification"]["alert"] == "from the defaults"
    assert news["push"]["body"]["options"]["time_to_live"] == 600
    assert news["trigger"]["single"]["time"] == "2027-03-01 10:00:00"
    assert promo["push"]["to"] == {"tag": ["qa"]}
    assert promo["push"]["body"]["notification"]["alert"] == "promo"
    assert promo["trigger"]["single"]["time"] == "2027-04-02 09:30:00"
    project.mark()
    again = project.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert project.writes() == []


def test_changing_a_default_updates_every_schedule_under_it(project: Project) -> None:
    """Editing the defaults file plans an update of each schedule that inherits the value (and
    only those), and apply brings the remote side to the new body."""
    layered(project)
    assert project.apply().exit_code == 0
    text = DEFAULTS.replace("time_to_live: 600", "time_to_live: 900")
    (project.schedules / "_defaults.yaml").write_text(text, encoding="utf-8")
    project.mark()
    planned = project.run("plan")
    assert planned.exit_code == 0, planned.output
    assert "0 to create, 2 to update" in planned.output
    assert project.apply().exit_code == 0
    for tasks in project.remote().values():
        assert tasks[0]["push"]["body"]["options"]["time_to_live"] == 900


def test_a_broken_default_stops_the_plan_at_its_file(project: Project) -> None:
    """A bad value in a defaults file fails plan with that file:line:col and no API write."""
    layered(project)
    bad = DEFAULTS.replace("platform: all", "platform: windows")
    (project.schedules / "_defaults.yaml").write_text(bad, encoding="utf-8")
    project.mark()
    refused = project.run("plan")
    assert refused.exit_code == 1
    assert f"{Path('schedules') / '_defaults.yaml'}:6:15" in refused.output
    assert project.writes() == []


def test_a_schedules_shift_null_cancels_the_star_shift_through_apply(project: Project) -> None:
    """An overlay shifting every schedule ('*') and one schedule's `shift: null`: apply sends
    the others shifted and that one at its manifest's time."""
    layered(project)
    overlay = project.root / "overlays" / "staging" / "patches.yaml"
    overlay.write_text(
        '"*":\n  shift: "+1d"\n  push:\n    to: {tag: [qa]}\npromo:\n  shift: null\n',
        encoding="utf-8",
    )
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    remote = {name: tasks[0] for name, tasks in project.remote().items()}
    assert remote["news"]["trigger"]["single"]["time"] == "2027-03-02 10:00:00"
    assert remote["promo"]["trigger"]["single"]["time"] == "2027-04-01 09:30:00"
