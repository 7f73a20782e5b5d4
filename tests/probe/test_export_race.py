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

    Found by this probe when ``apply`` read the manifests before taking the state lock:
    ``export --adopt`` in another process, finishing in that window, wrote
    ``schedules/theirs.yaml`` and recorded ``theirs`` in the state; ``apply`` then planned that
    state against the manifests it had read before, so ``theirs`` was managed without a
    manifest and deleted. Now ``apply`` reads the manifests under the lock: an ``export
    --adopt`` started while it reads them is held off by the lock (here with ``--lock-timeout
    0``: refused at once, nothing written), and the task stays someone else's.
    """
    for n in range(4):
        project.write(f"ours_{n}")
    assert project.apply().exit_code == 0
    theirs = project.out_of_band_create(body("theirs", alert="made by another team"))
    project.mark()

    real = engine.load_desired
    calls = []
    refused: list[tuple[int, str]] = []

    def load_then_export(*args: Any, **kwargs: Any) -> Any:
        loaded = real(*args, **kwargs)
        calls.append(1)
        if len(calls) > 1:
            return loaded
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGELAB_")}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler",
                *project.args("export", "--adopt", "--lock-timeout", "0"),
            ],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        refused.append((done.returncode, done.stdout + done.stderr))
        return loaded

    monkeypatch.setattr(engine, "load_desired", load_then_export)
    project.apply()

    ((code, said),) = refused
    assert code != 0, said
    assert "lock" in said
    assert not (project.schedules / "theirs.yaml").exists()
    assert ("DELETE", f"/v4/schedules/{theirs}") not in project.write_summary()
