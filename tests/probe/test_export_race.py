"""Probe: ``export --adopt`` in another process while ``apply`` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from reconciler.ops import observe as engine
from tests.e2e.helpers import Project
from tests.kit.bodies import body


def test_apply_never_deletes_a_task_adopted_while_it_waited_for_the_lock(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: never deletes a task it does not own (nor one whose manifest exists).

    ``apply`` reads the manifests first and only then takes the state lock. ``export --adopt``
    in another process, finishing in that window, writes ``schedules/theirs.yaml`` and records
    ``theirs`` in the state. ``apply`` then loads that state against the manifests it read
    before: ``theirs`` is managed but has no manifest, so it is deleted (with --auto-approve,
    below the mass-delete ratio), although its manifest is on disk and it was someone else's
    task a moment earlier.
    """
    for n in range(4):
        project.write(f"ours_{n}")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("theirs", alert="made by another team"))
    project.mark()

    real = engine.load_desired
    calls = []

    def load_then_export(*args: Any, **kwargs: Any) -> Any:
        loaded = real(*args, **kwargs)
        calls.append(1)
        if len(calls) > 1:  # only the first read has the window before the lock
            return loaded
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGELAB_")}
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *project.args("export", "--adopt")],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return loaded

    monkeypatch.setattr(engine, "load_desired", load_then_export)
    project.apply()

    assert (project.schedules / "theirs.yaml").exists()
    assert ("DELETE", f"/v4/schedules/{theirs}") not in project.write_summary()
