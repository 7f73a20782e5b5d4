"""The calendar's HTML page in a real browser (headless Chromium): it renders, and every firing
is a visible badge in its day.

Marked ``browser``: the default test run leaves it out (a fresh machine has no Chromium);
``.ci/run`` installs Chromium from Debian's packages and runs ``pytest -m browser``.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.planning.firings import firings, render_html
from tests.kit import bodies

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START = datetime(2027, 1, 1, tzinfo=UTC)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is needed for the browser tests: apt-get install chromium"
    return found


def _body(name: str, trigger: dict[str, object]) -> dict[str, object]:
    return bodies.body(name, trigger=trigger, alert="hi", sender=None)


def _page(tmp_path: Path) -> tuple[Path, int]:
    weekly = _body(
        "Weekly_digest",
        {
            "periodical": {
                "start": "2027-01-04 00:00:00",
                "end": "2027-03-01 00:00:00",
                "time": "09:00:00",
                "time_unit": "week",
                "point": ["MON", "THU"],
                "zone_type": 2,
            }
        },
    )
    once = _body("Spring_sale", {"single": {"time": "2027-01-15 10:00:00", "zone_type": 1}})
    end = START + timedelta(days=59)
    schedules = [("Weekly_digest", weekly, ""), ("Spring_sale", once, "")]
    items = firings(schedules, start=START, end=end, tz=UTC)
    page = tmp_path / "calendar.html"
    page.write_text(render_html(items, UTC, START, end, env="production"), encoding="utf-8")
    return page, len(items)


def test_the_calendar_page_renders_every_firing_in_chromium(tmp_path: Path) -> None:
    """Chromium loads the page; its DOM holds one badge per firing, in two month grids."""
    page, count = _page(tmp_path)
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count('class="push') == count
    assert dom.count("<table>") == 2
    assert "Spring_sale" in dom
    shot = tmp_path / "calendar.png"
    subprocess.run(
        [
            _chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1280,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a drawn grid, not a blank page
