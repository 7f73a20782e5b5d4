"""Command-line guard rails of apply and import: each refusal exits 1, says why, writes nothing."""

from __future__ import annotations

from reconciler.emulator import Faults
from tests.e2e.helpers import Project
from tests.kit.bodies import body


def test_apply_outside_a_terminal_needs_auto_approve(project: Project) -> None:
    """Without a terminal to ask on, apply refuses unless --auto-approve (or a plan file)."""
    project.write("a")
    result = project.run("apply")
    assert result.exit_code == 1, result.output
    assert "--auto-approve" in result.output
    assert project.writes() == []
    assert not project.state_path.exists()


def test_import_refuses_a_task_named_differently(project: Project) -> None:
    """`import NAME=ID` with a task of another name is refused; the state is not written."""
    sid = project.out_of_band_create(body("theirs"))
    project.write("ours")
    result = project.run("import", f"ours={sid}")
    assert result.exit_code == 1, result.output
    assert "is named 'theirs', not 'ours'" in result.output
    assert not project.state_path.exists()


def test_import_refuses_an_unknown_task(project: Project) -> None:
    """`import NAME=ID` with an id the app does not have is refused."""
    project.write("ours")
    result = project.run("import", "ours=00000000-0000-4000-8000-000000000000")
    assert result.exit_code == 1, result.output
    assert "no active remote task" in result.output
    assert not project.state_path.exists()


def test_import_refuses_a_name_already_managed(project: Project) -> None:
    """A managed name cannot be re-linked by import (that would orphan its task)."""
    project.write("ours")
    assert project.apply().exit_code == 0
    before = project.state()
    other = project.out_of_band_create(body("ours", alert="a second one"))
    result = project.run("import", f"ours={other}")
    assert result.exit_code == 1, result.output
    assert "already managed" in result.output
    assert project.state() == before


def test_import_refuses_a_name_without_manifest(project: Project) -> None:
    """Import links a manifest to a task: without the manifest there is nothing to link."""
    sid = project.out_of_band_create(body("orphan"))
    project.write("ours")
    result = project.run("import", f"orphan={sid}")
    assert result.exit_code == 1, result.output
    assert "no manifest named 'orphan'" in result.output


def test_import_all_matching_skips_ambiguous_names(project: Project) -> None:
    """Two unmanaged tasks with a manifest's name: --all-matching adopts neither and says so."""
    project.out_of_band_create(body("twice"))
    project.out_of_band_create(body("twice"))
    project.write("twice")
    result = project.run("import", "--all-matching")
    assert result.exit_code == 0, result.output
    assert "skipped 'twice': 2 remote tasks" in result.output
    assert not project.state_path.exists() or project.state()["entries"] == {}


def test_import_all_matching_refuses_an_incomplete_read(project: Project) -> None:
    """import --all-matching adopts nothing when the list does not add up (churn): a task the
    list missed could be a second one of the same name."""
    project.out_of_band_create(body("ours"))
    for i in range(60):  # more than one page (50), so churn moves the list between pages
        project.emulator.add_schedule(body(f"foreign_{i:02d}"))
    project.write("ours")
    project.emulator.faults = Faults(churn_per_page=1, seed=7)
    result = project.run("import", "--all-matching")
    assert result.exit_code == 1, result.output
    assert "could not be read completely" in result.output
    assert "nothing was imported" in result.output
    assert not project.state_path.exists()
