"""Defects the campaigns found, each kept as a test of the exact situation that exposed it.

The crash windows are rebuilt by hand (the remote write done, the state written as the killed
process left it), so each test hits its window every time instead of by timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pytest

from reconciler import canonical
from reconciler import state as st
from reconciler.testing import serve_emulator
from tests.reliability.trials import UNLIMITED
from tests.reliability.world import NOW, Body, Project, invoke, new_emulator, verify


def _single(name: str, alert: str, zone_type: int) -> Body:
    return {
        "name": name,
        "enabled": True,
        "trigger": {"single": {"time": "2027-03-01 10:00:00", "zone_type": zone_type}},
        "push": {"to": "all", "body": {"platform": "all", "notification": {"alert": alert}}},
    }


class World:
    """A served emulator and a project with one applied manifest, ``digest``."""

    def __init__(self, tmp: Path, url: str, em: object) -> None:
        self.project = Project.create(tmp / "project")
        self.url = url
        self.em = em
        self.rng = Random(0)

    def write(self, *bodies: Body) -> dict[str, Body]:
        manifests = {b["name"]: b for b in bodies}
        self.project.write(manifests, self.rng)
        return manifests

    def apply(self) -> str:
        result = invoke(self.project, self.url, ["apply", "--auto-approve"], UNLIMITED)
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    em = new_emulator()
    with serve_emulator(em) as url:
        yield World(tmp_path, url, em)


def _crash_mid_replace(world: World, *, old_deleted_debt: bool) -> tuple[str, str]:
    """Apply ``digest`` in zone 1, then leave the state as a replace into zone 2 killed after
    its POST (``old_deleted_debt=False``: journal "replace") or after recording the new task
    (True: entry -> new task, journal "delete" of the old one). Returns (old id, new id)."""
    world.write(_single("digest", "v1", 1))
    world.apply()
    store = world.project.store()
    state = store.load()
    old = state.entries["digest"].schedule_id
    new_body = _single("digest", "v2", 2)
    new = world.em.add_schedule(new_body)  # type: ignore[attr-defined]
    fp = canonical.fingerprint(new_body)
    if old_deleted_debt:
        state = st.record_create(state, "digest", new, fp, False, NOW)
        state = st.begin_pending(state, "delete", "digest", fp, NOW, old)
    else:
        state = st.begin_pending(state, "replace", "digest", fp, NOW, old)
    store.save(state)
    return old, new


@pytest.mark.parametrize("debt", [False, True], ids=["journal-replace", "journal-delete"])
def test_manifest_edited_after_a_crash_mid_replace_is_applied_by_the_re_run(
    world: World, debt: bool
) -> None:
    """A new commit after a crash mid-replace: one re-run heals the replace and applies the edit."""
    _crash_mid_replace(world, old_deleted_debt=debt)
    manifests = world.write(_single("digest", "v3", 2))
    world.apply()
    verdict = verify(world.em, world.project, manifests, {})  # type: ignore[arg-type]
    assert verdict.ok, verdict.describe()
    tasks = [t for t in world.em.schedules() if t["name"] == "digest"]  # type: ignore[attr-defined]
    assert json.dumps(tasks).count('"v3"') == 1
