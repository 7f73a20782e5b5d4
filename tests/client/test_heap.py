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
import atexit, gc, json, os, signal, sys, threading, time
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

real_exit = os._exit
def exit_now(code):
    seen["os._exit"] = {"code": code}
    sys.stderr.write("PROBE " + json.dumps(seen) + "\\n")
    sys.stderr.flush()
    real_exit(code)
os._exit = exit_now

if "--trace" in sys.argv:  # as coverage and debuggers do
    sys.argv.remove("--trace")
    sys.settrace(lambda *args: None)
if "--thread" in sys.argv:  # a command that leaves a (non-daemon) thread finishing its work
    sys.argv.remove("--thread")
    def late_write():
        time.sleep(0.3)
        with open("written-late", "w") as f:
            f.write("done")
    threading.Thread(target=late_write).start()

if "--interrupt-at-exit" in sys.argv:  # Ctrl-C while the end waits for a thread
    sys.argv.remove("--interrupt-at-exit")
    import reconciler.heap as heap
    real_leave = heap.leave
    def leave(code):
        def finishing():
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
        threading.Thread(target=finishing).start()
        real_leave(code)
    heap.leave = leave
if "--no-private-shutdown" in sys.argv:  # a Python whose threading has no _shutdown
    sys.argv.remove("--no-private-shutdown")
    del threading._shutdown
if "--unwritable-at-exit" in sys.argv:  # output that cannot be written after the command
    sys.argv.remove("--unwritable-at-exit")
    def late_line():
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, 1)  # standard output now fails on the next write
        sys.stdout = open(1, "w", closefd=False)  # buffered, whatever PYTHONUNBUFFERED says
        sys.stdout.write("late line\\n")  # left for the last flush
    atexit.register(late_line)

# Registered before the command runs: exit handlers run last-in first-out, so this one runs
# after the command's own handlers.
atexit.register(lambda: sys.stderr.write("PROBE " + json.dumps(seen) + "\\n"))
reconciler.cli.main(sys.argv[1:])
"""


def _command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGELAB_", "RECONCILER_"))}
    env["RECONCILER_EMULATOR"] = "1"  # the embedded emulator on purpose (also under CI=true)
    return subprocess.run(
        [sys.executable, "-c", PROBE, "--now", "2026-12-05T12:00:00Z", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _probe(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    lines = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr
    probe: dict[str, dict[str, object]] = json.loads(lines[-1].removeprefix("PROBE "))
    return probe


def _run(tmp_path: Path, *args: str) -> dict[str, dict[str, object]]:
    return _probe(_command(tmp_path, *args))


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
    thresholds, the collector left as the program set it, nothing held."""
    before = (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold())
    held = object()
    heap.settle(held)
    heap.keep(held)
    assert (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold()) == before
    assert not any(o is held for o in gc.get_referrers(held) if isinstance(o, list))


def test_a_command_ends_without_freeing_its_heap_after_an_orderly_exit(tmp_path: Path) -> None:
    """The process ends with os._exit, with the exit code, the whole output, the exit handlers
    run (the probe prints from one) and the threads joined."""
    project = _project(tmp_path)
    done = _command(project, "plan", "--thread")
    seen = _probe(done)
    assert seen["os._exit"] == {"code": 0}
    assert done.returncode == 0
    assert done.stdout.endswith("Plan: 5 to create, 0 to update, 0 to replace, 0 to delete.\n")
    assert (project / "written-late").read_text() == "done"
    # A plan with changes and --detailed-exitcode: the code is carried through.
    again = _command(project, "plan", "--detailed-exitcode")
    assert _probe(again)["os._exit"] == {"code": 2}
    assert again.returncode == 2


def test_a_failing_command_ends_the_same_way_with_its_code(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "bad.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    done = _command(tmp_path, "plan")
    assert _probe(done)["os._exit"] == {"code": 1}
    assert done.returncode == 1
    assert "schedules/bad.yaml:2:1: error: invalid YAML" in done.stderr


def test_under_a_tracer_the_exit_is_the_ordinary_one(tmp_path: Path) -> None:
    """Coverage and profilers write their results at the interpreter's exit."""
    done = _command(_project(tmp_path), "validate", "--trace")
    assert "os._exit" not in _probe(done)
    assert done.returncode == 0


def test_ctrl_c_while_the_end_waits_for_a_thread_is_an_interruption(tmp_path: Path) -> None:
    """A Ctrl-C while the end waits for a thread (a state save): the thread finishes, then
    "interrupted" and 130, no traceback."""
    done = _command(_project(tmp_path), "validate", "--interrupt-at-exit")
    assert _probe(done)["os._exit"] == {"code": 130}
    assert done.returncode == 130
    assert "interrupted" in done.stderr
    assert "Traceback" not in done.stderr


def test_output_that_cannot_be_written_at_the_end_is_no_success(tmp_path: Path) -> None:
    """A line an exit handler writes after the command, to a standard output that has become
    a full device: the last flush fails, and the exit code says so (120, as the interpreter's
    own exit does)."""
    done = _command(_project(tmp_path), "validate", "--unwritable-at-exit")
    assert _probe(done)["os._exit"] == {"code": 120}
    assert done.returncode == 120


def test_a_python_without_the_private_shutdown_exits_the_ordinary_way(tmp_path: Path) -> None:
    """``threading._shutdown`` is not an API: without it the end is Python's own exit (the
    exit code and the output the same), not an AttributeError."""
    done = _command(_project(tmp_path), "validate", "--no-private-shutdown")
    assert "os._exit" not in _probe(done)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert "valid" in done.stdout
