"""Probe: ``export --adopt`` and the state's name -> id mapping."""

from __future__ import annotations

from tests.e2e.helpers import Project
from tests.kit.bodies import body


def test_export_adopt_never_overwrites_a_managed_names_entry(project: Project) -> None:
    """Promise: the name -> id mapping is never lost.

    ``Foo`` is managed (state Foo -> id1, its task live); its manifest was removed (a delete the
    next apply will do). Someone then creates another task named ``Foo`` by hand. ``export
    --adopt`` writes a manifest for that unmanaged task and records ``Foo`` -> id2 over the
    existing entry: id1, still live and still firing, is no longer managed by anything (the plan
    shows it as unmanaged), so the delete the user asked for never happens and the tool has
    lost track of a task it created.
    """
    project.write("Foo")
    project.write("Keep")
    assert project.apply().exit_code == 0
    first = project.state_ids()["Foo"]
    project.remove("Foo")
    second = project.out_of_band_create(body("Foo", alert="made by hand"))

    project.run("export", "--adopt")

    managed = set(project.state_ids().values())
    assert first in managed, (
        f"the managed task {first} lost its state entry; state is now {project.state_ids()}"
        f" (the hand-made task is {second})"
    )


def test_export_overwrite_never_replaces_another_schedules_manifest(project: Project) -> None:
    """Promise: never loses a schedule (its manifest is what keeps it alive).

    ``schedules/sale.yaml`` holds the managed schedules ``Sale`` and ``Sale_2``. A remote task
    named ``sale`` (another name: names are case-sensitive) is exported with ``--overwrite``:
    its file stem is ``sale`` too, so the hand-written file is replaced and both managed
    schedules lose their manifests. The next apply deletes their live tasks.
    ``--overwrite`` is for refreshing a file exported from the same task, not for replacing
    a file that defines other schedules.
    """
    for name in ("Keep_1", "Keep_2", "Keep_3", "Keep_4", "Keep_5", "Keep_6", "Keep_7"):
        project.write(name)
    two = [body("Sale"), body("Sale_2")]
    (project.schedules / "sale.yaml").write_text(
        "\n---\n".join(_yaml(b) for b in two), encoding="utf-8"
    )
    assert project.apply().exit_code == 0
    ids = project.state_ids()
    project.out_of_band_create(body("sale", alert="someone else's"))

    project.run("export", "--overwrite")
    project.mark()
    project.apply()

    deleted = [path for method, path in project.write_summary() if method == "DELETE"]
    assert deleted == [], f"deleted {deleted}; Sale={ids['Sale']}, Sale_2={ids['Sale_2']}"


def test_export_overwrite_never_replaces_the_configuration(project: Project) -> None:
    """Promise: on bad input, a clear message and nothing lost.

    ``export --dir . --overwrite`` with a remote task named ``reconciler`` writes
    ``reconciler.yaml`` over the environments file (state path, ignore rules, credential
    variables): exit 0, and every later command fails on a config that is now a manifest.
    """
    config = (
        "environments:\n  default:\n    manifests: schedules\n    state: .reconciler/state.json\n"
    )
    (project.root / "reconciler.yaml").write_text(config, encoding="utf-8")
    project.write("mine")
    assert project.apply().exit_code == 0
    project.out_of_band_create(body("reconciler"))

    project.run("export", "--dir", ".", "--overwrite")

    assert (project.root / "reconciler.yaml").read_text(encoding="utf-8") == config


def _yaml(data: object) -> str:
    import io

    from ruamel.yaml import YAML

    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue()


def test_export_adopt_outside_the_manifest_directory_never_leads_to_a_delete(
    project: Project,
) -> None:
    """Promise: never deletes a task it did not create (nor one someone else owns).

    ``export --adopt --dir review`` writes the manifests outside the manifest directory
    (to look at them first) and still records the tasks in the state. The next ``apply``
    sees managed names without manifests and deletes those tasks: someone else's live
    schedules, taken over and deleted by two routine commands. Adopting must refuse a
    directory the environment does not read (or not adopt).
    """
    for n in range(5):
        project.write(f"ours_{n}")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("theirs", alert="another team's"))

    project.run("export", "--adopt", "--dir", "review")
    project.mark()
    project.apply()

    assert ("DELETE", f"/v4/schedules/{theirs}") not in project.write_summary()
