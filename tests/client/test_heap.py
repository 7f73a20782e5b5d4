"""When the command line lets Python's cycle collector run (reconciler.heap).

The collector's state belongs to the whole process, so the commands run in a child process
here; each probe records what the collector was doing at one point of a real command.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from reconciler import heap

ROOT = Path(__file__).resolve().parents[2]

# Runs ``reconciler ARGS`` through its console entry point, recording the collector's state
# when the manifests start loading, when the remote read starts, and when a server would start.
PROBE = """
import gc, json, sys
import reconciler.cli
import reconciler.manifests.load as load
import reconciler.ops.observe as observe
import reconciler.emulator.serve as serve

seen = {}
def collector():
    return {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
            "thresholds": list(gc.get_threshold())}

real_load = load.load_manifests
def load_manifests(*args, **kwargs):
    seen.setdefault("load", collector())
    return real_load(*args, **kwargs)
load.load_manifests = load_manifests
observe.load_manifests = load_manifests

real_read = observe.read_inventory
async def read_inventory(*args, **kwargs):
    seen.setdefault("read", collector())
    return await real_read(*args, **kwargs)
observe.read_inventory = read_inventory

class Server:
    def run(self, sockets):
        seen["serve"] = collector()
serve.build_server = lambda *args, **kwargs: Server()

try:
    reconciler.cli.main(sys.argv[1:])
finally:
    sys.stderr.write("PROBE " + json.dumps(seen) + "\\n")
"""


def _run(tmp_path: Path, *args: str) -> dict[str, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGELAB_", "RECONCILER_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "--now", "2026-12-05T12:00:00Z", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr
    probe: dict[str, dict[str, object]] = json.loads(lines[-1].removeprefix("PROBE "))
    return probe


def _project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    return tmp_path


def test_a_plan_loads_without_collection_and_reads_with_the_loaded_heap_frozen(
    tmp_path: Path,
) -> None:
    seen = _run(_project(tmp_path), "plan")
    assert seen["load"]["enabled"] is False
    assert seen["load"]["frozen"] == 0
    # By the read, what the plan works from is out of the collector's sight, and the collector
    # runs again over what comes after.
    assert seen["read"]["enabled"] is True
    frozen = seen["read"]["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 10_000
    assert seen["read"]["thresholds"] == [10_000, 10, 10]


def test_a_command_without_a_read_stays_without_collection(tmp_path: Path) -> None:
    seen = _run(_project(tmp_path), "validate")
    assert seen["load"] == {"enabled": False, "frozen": 0, "thresholds": seen["load"]["thresholds"]}
    assert "read" not in seen


def test_the_served_emulator_collects_its_garbage(tmp_path: Path) -> None:
    """A server runs until stopped: the collector must be on while it serves."""
    seen = _run(tmp_path, "emulator", "serve", "--port", "0")
    assert seen["serve"]["enabled"] is True
    assert seen["serve"]["thresholds"] == [10_000, 10, 10]


def test_the_python_api_keeps_the_host_programs_collector() -> None:
    """Without the command line's ``defer``, ``settle`` changes nothing: no freeze, no new
    thresholds, the collector left as the program set it."""
    before = (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold())
    heap.settle()
    assert (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold()) == before
