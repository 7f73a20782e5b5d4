"""Probe: ``export`` and names that clash with what the repository already says about them:
a manifest's previous name, an ignored task's name, a file already written, a device name."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Project
from tests.kit.bodies import body


@pytest.mark.parametrize("name", ["CON", "aux", "Nul", "prn", "COM1", "lpt9"])
def test_export_never_names_a_file_after_a_windows_device(project: Project, name: str) -> None:
    """Promise: the files are safe on every file system (a repository a team checks out).

    A task named ``CON`` (letters: a valid name) was written to ``schedules/con.yaml``;
    Windows reserves the device names with any extension, so git cannot check the commit out
    there ("invalid path"). Such a name now gets the id appended, as a lossy name does.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    sid = project.out_of_band_create(body(name))

    result = project.run("export", "--adopt")

    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in project.schedules.iterdir() if p.name != "mine.yaml")
    assert written == [f"{name.lower()}-{sid[:8]}.yaml"], written
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
