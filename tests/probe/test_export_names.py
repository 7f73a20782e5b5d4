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


def test_export_adopt_leaves_a_name_an_ignored_task_shares(project: Project) -> None:
    """Promise: after ``export --adopt`` the plan is a no-op; a task the ignore rules declare
    someone else's stays out of the plans.

    Two live tasks are named ``promo``: another team's, ignored by id in reconciler.yaml, and
    one nobody manages. Only unmanaged tasks were counted for "tasks share this name", so the
    second was exported and adopted (exit 0); the manifest ``promo`` then un-ignored the other
    team's task (a task named like a manifest is never ignored) and every plan exited 2 with
    "a schedule is live more than once". ``import --all-matching`` skips such a name.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    ignored = project.out_of_band_create(body("promo", alert="another team's"))
    loose = project.out_of_band_create(body("promo", alert="nobody's"))
    (project.root / "reconciler.yaml").write_text(
        f"environments:\n  default:\n    ignore:\n      ids: ['{ignored}']\n", encoding="utf-8"
    )

    result = project.run("export", "--adopt")

    assert f"skipped {loose}" in result.output, result.output
    assert not (project.schedules / "promo.yaml").exists()
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_export_adopt_never_writes_a_name_a_manifest_was_renamed_from(project: Project) -> None:
    """Promise: the files an export writes validate, and the next plan is a no-op.

    ``new_name`` keeps ``lifecycle.previous_names: [old]`` after its rename was applied (the
    plan only warns). A task ``old`` made by hand is unmanaged, so ``export --adopt`` wrote
    ``schedules/old.yaml`` and adopted it, exit 0; from then on every ``validate``, ``plan``
    and ``apply`` stopped on "lists 'old', the name of the manifest at schedules/old.yaml".
    """
    project.write("mine")
    renamed = body("new_name")
    renamed["lifecycle"] = {"previous_names": ["old"]}
    project.write_body(renamed)
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("old", alert="made by hand"))

    result = project.run("export", "--adopt")

    assert "previous_names" in result.output, result.output
    assert not (project.schedules / "old.yaml").exists()
    assert theirs not in project.state_ids().values()
    assert project.run("validate").exit_code == 0
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_exporting_twice_to_a_directory_writes_each_schedule_once(project: Project) -> None:
    """Promise: never duplicate a schedule.

    ``export --dir review`` run twice (to look at the files again) wrote ``review/theirs.yaml``
    and then ``review/theirs-<id>.yaml`` beside it: two manifests of one schedule, and moved
    into the manifest directory, a repository every command refuses. The second run now skips
    a task whose file is there (``--overwrite`` refreshes it) and writes nothing new.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    sid = project.out_of_band_create(body("theirs"))
    assert project.run("export", "--dir", "review").exit_code == 0
    first = (project.root / "review" / "theirs.yaml").read_text(encoding="utf-8")

    again = project.run("export", "--dir", "review")

    assert again.exit_code == 0, again.output
    assert f"skipped {sid}" in again.output, again.output
    assert "--overwrite" in again.output, again.output
    assert sorted(p.name for p in (project.root / "review").iterdir()) == ["theirs.yaml"]
    refreshed = project.run("export", "--dir", "review", "--overwrite")
    assert refreshed.exit_code == 0, refreshed.output
    assert sorted(p.name for p in (project.root / "review").iterdir()) == ["theirs.yaml"]
    assert (project.root / "review" / "theirs.yaml").read_text(encoding="utf-8") == first


def test_overwrite_refreshes_the_file_that_holds_the_schedule(project: Project) -> None:
    """Promise: never duplicate a schedule.

    An earlier export renamed by hand to ``review/theirs.yml``: ``export --overwrite`` wrote a
    new ``review/theirs.yaml`` beside it (the stem was free), two manifests of one schedule.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    project.out_of_band_create(body("theirs"))
    assert project.run("export", "--dir", "review").exit_code == 0
    review = project.root / "review"
    (review / "theirs.yaml").rename(review / "theirs.yml")

    result = project.run("export", "--dir", "review", "--overwrite")

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in review.iterdir()) == ["theirs.yml"]


def test_the_next_step_after_an_export_into_the_manifest_directory_adopts(
    project: Project,
) -> None:
    """Promise: bad input gets a clear error saying what to do (here: the tool's own advice).

    ``export`` without ``--adopt`` into the manifest directory said "Next: `reconciler export
    --adopt`"; run as advised, it skipped every task (a manifest has its name now: a conflict)
    and exited 0 having adopted nothing. The advice is now ``import``, which adopts them.
    """
    project.write("mine")
    assert project.apply().exit_code == 0
    sid = project.out_of_band_create(body("theirs"))

    result = project.run("export")

    assert result.exit_code == 0, result.output
    assert "export --adopt" not in result.output, result.output
    assert "import --all-matching" in result.output, result.output
    assert project.run("import", "--all-matching").exit_code == 0
    assert project.state_ids()["theirs"] == sid
    assert project.run("plan", "--detailed-exitcode").exit_code == 0


def test_exported_manifests_get_the_mode_new_files_get(project: Project) -> None:
    """Written through a temporary file (mkstemp: mode 0600), exported manifests were readable
    by their owner alone, unlike every other file of the repository. They get the mode the
    umask gives a new file."""
    import os
    import stat

    project.out_of_band_create(body("promo"))
    before = os.umask(0o022)
    try:
        result = project.run("export")
    finally:
        os.umask(before)
    assert result.exit_code == 0, result.output
    mode = stat.S_IMODE((project.schedules / "promo.yaml").stat().st_mode)
    assert mode == 0o644, oct(mode)
