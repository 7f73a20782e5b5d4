"""``reconciler calendar``: the manifests' firings in a window, in every format, no API call."""

from __future__ import annotations

import json

from tests.e2e.helpers import Project
from tests.kit.bodies import periodical, single


def test_calendar_lists_the_firings_of_enabled_manifests(project: Project) -> None:
    """Weekly points in the window, the one-shot once, a disabled manifest never; no request."""
    project.write(
        "weekly",
        trigger=periodical(
            start="2027-01-04 00:00:00",
            end="2027-12-27 00:00:00",
            point=("MON", "THU"),
            time="09:00:00",
        ),
    )
    project.write("once", trigger=single("2027-01-05 10:00:00"))
    project.write("off", trigger=single("2027-01-06 10:00:00"), enabled=False)
    result = project.run(
        "calendar", "--from", "2027-01-04", "--to", "2027-01-11", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    got = [(f["local"], f["name"]) for f in data["firings"]]
    assert got == [
        ("2027-01-04 09:00", "weekly"),
        ("2027-01-05 10:00", "once"),
        ("2027-01-07 09:00", "weekly"),
    ]
    assert project.emulator.request_log == []


def test_calendar_uses_the_environment_time_zone(project: Project) -> None:
    """zone_type 1 times are read and shown in --timezone."""
    project.write("once", trigger=single("2027-01-05 10:00:00"))
    result = project.run(
        "--timezone", "Asia/Shanghai", "calendar", "--from", "2027-01-01", "--to", "2027-01-31"
    )
    assert result.exit_code == 0, result.output
    assert "2027-01-05 10:00  once" in result.output
    assert "(Asia/Shanghai)" in result.output


def test_calendar_writes_ics_and_html_files(project: Project) -> None:
    """--out writes the file; ics has one event per firing, html a month grid."""
    project.write(
        "weekly",
        trigger=periodical(start="2027-01-04 00:00:00", end="2027-12-27 00:00:00", point=("MON",)),
    )
    ics = project.run(
        "calendar",
        "--from",
        "2027-01-01",
        "--to",
        "2027-02-01",
        "--format",
        "ics",
        "--out",
        "pushes.ics",
    )
    assert ics.exit_code == 0, ics.output
    text = (project.root / "pushes.ics").read_bytes().decode()
    assert text.count("BEGIN:VEVENT") == 4  # Mondays 4, 11, 18, 25 January 2027
    page = project.run(
        "calendar",
        "--from",
        "2027-01-01",
        "--to",
        "2027-02-01",
        "--format",
        "html",
        "--out",
        "pushes.html",
    )
    assert page.exit_code == 0, page.output
    assert (project.root / "pushes.html").read_text("utf-8").count('class="push"') == 4


def test_calendar_refuses_a_bad_window(project: Project) -> None:
    """A date that is not one, or --to before --from: exit 1 with the fix."""
    project.write("once")
    bad = project.run("calendar", "--from", "soon")
    assert bad.exit_code == 1
    assert "--from 'soon' is not a date" in bad.output
    backwards = project.run("calendar", "--from", "2027-02-01", "--to", "2027-01-01")
    assert backwards.exit_code == 1
    assert "--to must be later than --from" in backwards.output
