"""The plan's "what fires in the next 7 days that this change affects", through the CLI against
the served emulator: a table in the Markdown comment, a list in JSON, one line in the text."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.e2e.helpers import Project
from tests.kit.bodies import periodical, single
from tests.kit.emulator import START

BERLIN = "environments:\n  default:\n    timezone: Europe/Berlin\n"


def _daily(time: str) -> dict[str, object]:
    return periodical(
        start="2026-12-01 00:00:00", end="2027-06-01 00:00:00", time=time, time_unit="day",
        point=(),
    )  # fmt: skip


def _changed_project(project: Project) -> None:
    """Applied: a daily 09:00, a weekly Monday 10:00, a one-shot in two days and one in March.
    Then, in the manifests: the daily moves to 09:30, the weekly gets a new text, the near
    one-shot is deleted, a zone_type 2 one-shot is added, and the March one gets a new text."""
    (project.root / "reconciler.yaml").write_text(BERLIN, encoding="utf-8")
    project.write("daily", trigger=_daily("09:00:00"))
    project.write(
        "weekly",
        trigger=periodical(start="2026-12-01 00:00:00", end="2027-06-01 00:00:00", time="10:00:00"),
    )
    project.write("soon", trigger=single("2026-12-03 12:00:00"))
    project.write("far", trigger=single("2027-03-01 10:00:00"))
    applied = project.apply()
    assert applied.exit_code == 0, applied.output
    project.write("daily", trigger=_daily("09:30:00"))
    project.write(
        "weekly",
        alert="New text",
        trigger=periodical(start="2026-12-01 00:00:00", end="2027-06-01 00:00:00", time="10:00:00"),
    )
    project.remove("soon")
    project.write("fresh", trigger=single("2026-12-02 08:00:00", zone_type=2))
    project.write("far", alert="New text", trigger=single("2027-03-01 10:00:00"))


def test_markdown_plan_shows_the_firings_of_the_next_7_days_the_change_affects(
    project: Project,
) -> None:
    """Every firing in the week from the plan's clock that the plan adds (+ new), takes away
    (− no longer), moves (with its old time) or sends with new content, in the environment's
    zone, a zone_type 2 one as the span of its local time; a change beyond the week (the March
    one-shot) has no row; the table comes before the schedules' details, so a comment cut to
    GitHub's size keeps it."""
    _changed_project(project)
    result = project.run("plan", "--format", "markdown")
    assert result.exit_code == 0, result.output
    md = result.stdout
    head = "**What fires in the next 7 days that this plan changes (from 2026-12-01 01:00):**"
    assert head in md
    table = md[md.index(head) :].split("\n\n")[1].splitlines()
    assert table[0] == "| when (Europe/Berlin) | schedule | change |"
    rows = table[2:]
    assert rows[0] == "| 2026-12-01 09:30 | `daily` | moved (was 2026-12-01 09:00) |"
    assert "| 2026-12-01 19:00 .. 2026-12-02 21:00 (device time zones) | `fresh` | + new |" in rows
    assert "| 2026-12-03 12:00 | `soon` | − no longer |" in rows
    assert "| 2026-12-07 10:00 | `weekly` | ~ new content |" in rows
    assert sum("`daily` | moved" in r for r in rows) == 7
    assert not any("`far`" in r for r in rows)
    assert len(rows) == 10
    assert md.index(head) < md.index("<details>")
    assert "lists them all)." not in md  # ten rows: no "and N more" line


def test_json_and_text_plans_carry_the_same_firings(project: Project) -> None:
    """JSON lists every row as ``firings_next_7_days`` (UTC instants, local rendering, the old
    firing of a move); the text plan says it in one line."""
    _changed_project(project)
    as_json = project.run("plan", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)["firings_next_7_days"]
    assert len(rows) == 10
    assert {
        "schedule": "soon",
        "change": "removed",
        "start": "2026-12-03T11:00:00+00:00",
        "end": None,
        "local": "2026-12-03 12:00",
        "before": None,
    } in rows
    moved = next(r for r in rows if r["change"] == "moved")
    assert moved["start"] == "2026-12-01T08:30:00+00:00"
    assert moved["before"]["start"] == "2026-12-01T08:00:00+00:00"
    fresh = next(r for r in rows if r["schedule"] == "fresh")
    assert (fresh["start"], fresh["end"]) == (
        "2026-12-01T18:00:00+00:00",
        "2026-12-02T20:00:00+00:00",
    )
    text = project.run("plan")
    assert (
        "Next 7 days: 10 firing(s) change: 1 new, 1 no longer, 7 moved, 1 with new content."
        in text.output
    )


def test_the_window_starts_at_the_commands_clock(project: Project) -> None:
    """With ``--now`` five days later the week starts there: the deleted one-shot of the 3rd
    and the daily's first days are no longer in it."""
    _changed_project(project)
    later = project.run("plan", "--format", "json", now=START + timedelta(days=5))
    assert later.exit_code == 0, later.output
    rows = json.loads(later.stdout)["firings_next_7_days"]
    assert not any(r["schedule"] == "soon" for r in rows)
    assert min(r["start"] for r in rows) == "2026-12-06T08:30:00+00:00"


def test_the_table_is_bounded_and_left_out_when_nothing_fires_in_the_week(
    project: Project,
) -> None:
    """Four new daily schedules fire 28 times in the week: 20 rows, then "and 8 more". A plan
    whose changes fire only later has no table, no JSON rows and no text line."""
    (project.root / "reconciler.yaml").write_text(BERLIN, encoding="utf-8")
    for n in range(4):
        project.write(f"d{n}", trigger=_daily(f"1{n}:00:00"))
    md = project.run("plan", "--format", "markdown").stdout
    table = [line for line in md.splitlines() if line.startswith("| 2026-12-")]
    assert len(table) == 20
    assert "… and 8 more (`reconciler " in md  # the suggestion repeats --endpoint
    assert "plan --format json` lists them all)." in md

    for n in range(4):
        project.remove(f"d{n}")
    project.write("far", trigger=single("2027-03-01 10:00:00"))
    md = project.run("plan", "--format", "markdown").stdout
    assert "What fires in the next 7 days" not in md
    assert json.loads(project.run("plan", "--format", "json").stdout)["firings_next_7_days"] == []
    assert "Next 7 days" not in project.run("plan").output


def test_a_create_that_sends_at_once_says_so(project: Project) -> None:
    """An intelligent push with `backup_time: "now"` is sent as it is created. Its create line
    said "fires next at <now>", as any create's: a copy of one sent before (a rename without
    previous_names, a lost state file) read as an ordinary create. It says it sends at once;
    a dated one still says when it fires."""
    from tests.kit.bodies import intelligent

    project.write("launch", trigger=intelligent("now"))
    project.write("later", trigger=intelligent())
    result = project.run("plan")
    assert result.exit_code == 0, result.output
    blocks = {
        block.split()[0]: block for block in result.output.split("+ create ")[1:]
    }  # each create's lines, by name
    assert 'sends AT ONCE when created (backup_time: "now")' in blocks["launch"]
    assert "fires next" not in blocks["launch"]
    assert "fires next at 2027-02-01 08:00:00" in blocks["later"]
