"""Secrets canary: every command, on success and on a failed login, with and without ``--debug``,
shows the canary AppKey / Master Secret / Basic token nowhere.

Each pass runs the real CLI against a served emulator with ``--endpoint`` and the canary in
``ENGAGELAB_APP_KEY`` / ``ENGAGELAB_MASTER_SECRET``. The in-process passes record every log record
of every logger at DEBUG while each command runs (what ``--debug`` would print); the ``--debug``
passes run ``python -m reconciler --debug`` as subprocesses, so the real logging set-up writes to
a real stderr. Afterwards every file the commands left in the project (plan files, drift reports,
the state file with its backup and lock) is searched too.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.emulator import Emulator
from reconciler.testing import serve_emulator
from tests.badinput.conftest import FULL
from tests.badinput.helpers import (
    NOW,
    VALID_MANIFEST,
    Outcome,
    describe,
    invoke,
    run_module,
    write_project,
)
from tests.badinput.server import Answer, Route, ScriptedServer, serve_asgi
from tests.kit import bodies
from tests.kit.clock import FakeClock

from .conftest import (
    CANARY_ENV,
    CANARY_KEY,
    CANARY_SECRET,
    OTHER_KEY,
    OTHER_SECRET,
    TOKEN,
    Recorder,
    files_under,
    leaks,
)

IMPORTED = VALID_MANIFEST.replace("weekly_digest", "imported_task").replace("Hello", "Imported")
IMPORTED_BODY = bodies.body("imported_task", alert="Imported")
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"

# (id, arguments, expected exit code); "{id}" is the imported task's schedule id. In order: the
# later commands need what the earlier ones made (state, plan file, remote tasks).
SUCCESS: list[tuple[str, tuple[str, ...], int]] = [
    ("validate", ("validate",), 0),
    ("schema", ("schema",), 0),
    ("import", ("import", "imported_task={id}"), 0),
    ("plan-out", ("plan", "--out", "saved.plan"), 0),
    ("plan-json", ("plan", "--format", "json"), 0),
    ("plan-markdown", ("plan", "--format", "markdown", "--detailed-exitcode"), 2),
    ("apply-saved-plan", ("apply", "saved.plan"), 0),
    ("apply-auto-approve", ("apply", "--auto-approve"), 0),
    ("drift-report-markdown", ("drift", "--report", "drift.md"), 0),
    ("drift-report-json", ("drift", "--format", "json", "--report", "drift.json"), 0),
    ("state-list", ("state", "list"), 0),
    ("state-list-json", ("state", "list", "--format", "json"), 0),
    ("state-show", ("state", "show", "weekly_digest"), 0),
    ("history", ("history", "weekly_digest"), 0),
    ("history-id-json", ("history", "--id", "{id}", "--format", "json"), 0),
    ("test-send-dry-run", ("test-send", "weekly_digest", "--regid", "device-1", "--dry-run"), 0),
    ("test-send", ("test-send", "weekly_digest", "--regid", "device-1", "--regid", "device-2"), 0),
    ("test-send-json", ("test-send", "weekly_digest", "--alias", "tester", "--format", "json"), 0),
    ("state-rm", ("state", "rm", "imported_task"), 0),
]
# Against an app the canary does not open: every command that calls the API fails (401).
FAILED_LOGIN: list[tuple[str, tuple[str, ...], int]] = [
    ("validate", ("validate",), 0),
    ("schema", ("schema",), 0),
    ("plan", ("plan",), 1),
    ("plan-out", ("plan", "--out", "saved.plan"), 1),
    ("apply", ("apply", "--auto-approve"), 1),
    ("drift", ("drift", "--report", "drift.md"), 1),
    ("import", ("import", "--all-matching"), 1),
    ("import-id", ("import", f"imported_task={UNKNOWN_ID}"), 1),
    ("state-list", ("state", "list"), 0),
    ("history", ("history", "--id", UNKNOWN_ID), 1),
    ("test-send-dry-run", ("test-send", "weekly_digest", "--regid", "device-1", "--dry-run"), 0),
    ("test-send", ("test-send", "weekly_digest", "--regid", "device-1"), 1),
]
# The --debug subprocess passes run these by default (each is a process start-up; the in-process
# passes above already record every log line of every command at DEBUG); all of them in the full
# campaign (RECONCILER_CAMPAIGN=full).
DEBUG_SUCCESS = {
    "validate",
    "import",
    "plan-out",
    "apply-saved-plan",
    "drift-report-markdown",
    "state-list",
    "history",
    "test-send",
}
DEBUG_FAILED = {"plan", "apply", "history", "test-send"}


def _debug_subset(
    commands: list[tuple[str, tuple[str, ...], int]], names: set[str]
) -> list[tuple[str, tuple[str, ...], int]]:
    return commands if FULL else [c for c in commands if c[0] in names]


CALLS_API = {"plan", "plan-out", "apply", "drift", "import", "import-id", "history", "test-send"}

# What --debug prints for a request: one line, our client's, with the full URL (httpx's own
# line would repeat it).
OUR_TRAFFIC = re.compile(
    r"debug: reconciler\.remote\.client: "
    r"GET http://127\.0\.0\.1:\d+/v4/schedules\?page=1 -> (\d{3}) in "
)
HTTPX_TRAFFIC = re.compile(r"HTTP Request: ")


@dataclass
class Run:
    """One command of a pass: how it ended and the log lines it produced."""

    args: tuple[str, ...]
    expected: int
    outcome: Outcome
    logs: list[str] = field(default_factory=list)

    def everything(self) -> str:
        return "\n".join([self.outcome.stdout, self.outcome.stderr, *self.logs])


@dataclass
class Pass:
    """A whole pass: the project it ran in, its emulator and each command's run."""

    root: Path
    emulator: Emulator
    runs: dict[str, Run]


@contextmanager
def _app(app_key: str, secret: str) -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(app_key=app_key, master_secret=secret, clock=FakeClock(NOW).wall)
    with serve_emulator(emulator) as url:
        yield emulator, url


def _project(root: Path) -> None:
    write_project(root, {"weekly_digest.yaml": VALID_MANIFEST, "imported_task.yaml": IMPORTED})


def _in_process_pass(
    root: Path,
    app: tuple[Emulator, str],
    commands: Sequence[tuple[str, tuple[str, ...], int]],
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> Pass:
    emulator, url = app
    _project(root)
    imported_id = emulator.add_schedule(IMPORTED_BODY)
    runs: dict[str, Run] = {}
    with monkeypatch.context() as m:
        m.chdir(root)
        for name, args, expected in commands:
            args = tuple(a.replace("{id}", imported_id) for a in args)
            start = len(recorder.lines)
            outcome = invoke(["--endpoint", url, *args], env=CANARY_ENV)
            runs[name] = Run(args, expected, outcome, recorder.lines[start:])
    return Pass(root, emulator, runs)


def _subprocess_pass(
    root: Path, app: tuple[Emulator, str], commands: Sequence[tuple[str, tuple[str, ...], int]]
) -> Pass:
    """``python -m reconciler --debug``, in the order of ``commands``; runs of read-only
    commands between two writing ones (import, apply, state rm) go in parallel."""
    emulator, url = app
    _project(root)
    imported_id = emulator.add_schedule(IMPORTED_BODY)

    def one(args: tuple[str, ...]) -> Outcome:
        args = tuple(a.replace("{id}", imported_id) for a in args)
        return run_module(["--debug", "--endpoint", url, *args], cwd=root, env=CANARY_ENV)

    groups: list[list[tuple[str, tuple[str, ...], int]]] = [[]]
    for command in commands:
        if command[0].startswith(("import", "apply", "state-rm")):
            groups += [[command], []]
        else:
            groups[-1].append(command)
    runs: dict[str, Run] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for group in groups:
            outcomes = list(pool.map(one, [args for _, args, _ in group]))
            for (name, args, code), outcome in zip(group, outcomes, strict=True):
                runs[name] = Run(args, code, outcome)
    return Pass(root, emulator, runs)


@pytest.fixture(scope="module")
def module_patch() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def success(
    tmp_path_factory: pytest.TempPathFactory, recorder: Recorder, module_patch: pytest.MonkeyPatch
) -> Iterator[Pass]:
    with _app(CANARY_KEY, CANARY_SECRET) as app:
        yield _in_process_pass(
            tmp_path_factory.mktemp("success"), app, SUCCESS, recorder, module_patch
        )


@pytest.fixture(scope="module")
def failed_login(
    tmp_path_factory: pytest.TempPathFactory, recorder: Recorder, module_patch: pytest.MonkeyPatch
) -> Iterator[Pass]:
    with _app(OTHER_KEY, OTHER_SECRET) as app:
        yield _in_process_pass(
            tmp_path_factory.mktemp("failed"), app, FAILED_LOGIN, recorder, module_patch
        )


@pytest.fixture(scope="module")
def debug_success(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pass]:
    with _app(CANARY_KEY, CANARY_SECRET) as app:
        commands = _debug_subset(SUCCESS, DEBUG_SUCCESS)
        yield _subprocess_pass(tmp_path_factory.mktemp("debug-success"), app, commands)


@pytest.fixture(scope="module")
def debug_failed_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pass]:
    with _app(OTHER_KEY, OTHER_SECRET) as app:
        commands = _debug_subset(FAILED_LOGIN, DEBUG_FAILED)
        yield _subprocess_pass(tmp_path_factory.mktemp("debug-failed"), app, commands)


def _check_run(run: Run) -> None:
    assert run.outcome.escaped is None, describe(run.outcome)
    assert "Traceback" not in run.outcome.text, describe(run.outcome)
    assert run.outcome.exit_code == run.expected, describe(run.outcome)
    assert leaks(run.everything()) == [], f"{run.args} leaked\n{describe(run.outcome)}"


# -- the leak check itself ----------------------------------------------------------------------


def test_the_leak_check_finds_each_canary_form() -> None:
    """The check can fail: each canary form (key, secret, Basic token) is found in text."""
    assert leaks(f"x{CANARY_KEY}y") == ["AppKey"]
    assert leaks(f"x{CANARY_SECRET}y") == ["Master Secret"]
    assert leaks(f"Authorization: Basic {TOKEN}") == ["Basic token"]
    assert leaks("nothing here") == []


# -- in-process passes -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [c[0] for c in SUCCESS])
def test_command_on_success_shows_no_canary(success: Pass, name: str) -> None:
    """The command works with the canary credentials; its output and log lines hold none."""
    _check_run(success.runs[name])


def test_success_pass_really_used_the_canary(success: Pass) -> None:
    """The emulator only accepts the canary, and it answered 2xx: the canary was sent; the log
    recorder saw the HTTP traffic, so the log lines checked above were real ones."""
    statuses = {r.status for r in success.emulator.request_log}
    assert statuses, "no request reached the emulator"
    assert all(200 <= s < 300 for s in statuses), statuses
    assert sorted(t["name"] for t in success.emulator.schedules()) == [
        "imported_task",
        "weekly_digest",
    ]
    logs = "\n".join(line for run in success.runs.values() for line in run.logs)
    assert OUR_TRAFFIC.search(logs), "the recorder captured no request log line"


def test_files_left_by_the_success_pass_hold_no_canary(success: Pass) -> None:
    """Plan file, drift reports, state file, its backup and lock: none holds the canary."""
    files = files_under(success.root)
    for expected in (
        "saved.plan",
        "drift.md",
        "drift.json",
        ".reconciler/state.json",
        ".reconciler/state.json.backup",
        ".reconciler/state.json.lock",
    ):
        assert expected in files, sorted(files)
    found = {name: leaks(text) for name, text in files.items() if leaks(text)}
    assert found == {}


@pytest.mark.parametrize("name", [c[0] for c in FAILED_LOGIN])
def test_command_on_failed_login_shows_no_canary(failed_login: Pass, name: str) -> None:
    """Against another app (401) each command fails clearly, naming the variables to check,
    and neither its message nor its log lines hold the canary."""
    run = failed_login.runs[name]
    _check_run(run)
    if name in CALLS_API:
        assert run.outcome.stderr.startswith("error:") or "\nerror:" in run.outcome.stderr
        assert "AppKey" in run.outcome.stderr or "APP_KEY" in run.outcome.stderr, describe(
            run.outcome
        )


def test_failed_login_pass_was_refused_by_the_server(failed_login: Pass) -> None:
    """The other app's emulator answered 401 (so the failure paths above really ran)."""
    assert {r.status for r in failed_login.emulator.request_log} == {401}


def test_files_left_by_a_failed_login_hold_no_canary(failed_login: Pass) -> None:
    """Whatever a failed login leaves behind (a bound state file, a lock) holds no canary."""
    found = {n: leaks(t) for n, t in files_under(failed_login.root).items() if leaks(t)}
    assert found == {}


# -- --debug passes (subprocesses) --------------------------------------------------------------


@pytest.mark.parametrize("name", [c[0] for c in _debug_subset(SUCCESS, DEBUG_SUCCESS)])
def test_debug_command_on_success_shows_no_canary(debug_success: Pass, name: str) -> None:
    """``--debug`` output (stdout and stderr of the real process) holds no canary."""
    _check_run(debug_success.runs[name])


@pytest.mark.parametrize("name", ["plan-out", "apply-saved-plan", "drift-report-markdown"])
def test_debug_shows_the_http_traffic(debug_success: Pass, name: str) -> None:
    """``--debug`` shows each request's method, URL and status once (our client's line)."""
    stderr = debug_success.runs[name].outcome.stderr
    match = OUR_TRAFFIC.search(stderr)
    assert match, stderr[-2000:]
    assert match.group(1) == "200"
    assert not HTTPX_TRAFFIC.search(stderr), stderr[-2000:]


def test_files_left_by_the_debug_pass_hold_no_canary(debug_success: Pass) -> None:
    """Files written by the ``--debug`` pass hold no canary either."""
    files = files_under(debug_success.root)
    assert ".reconciler/state.json" in files
    found = {name: leaks(text) for name, text in files.items() if leaks(text)}
    assert found == {}


@pytest.mark.parametrize("name", [c[0] for c in _debug_subset(FAILED_LOGIN, DEBUG_FAILED)])
def test_debug_command_on_failed_login_shows_no_canary(debug_failed_login: Pass, name: str) -> None:
    """``--debug`` on a failed login: the 401 traffic is shown, the canary is not."""
    run = debug_failed_login.runs[name]
    _check_run(run)
    if name in ("plan", "apply", "drift"):
        match = OUR_TRAFFIC.search(run.outcome.stderr)
        assert match, run.outcome.stderr[-2000:]
        assert match.group(1) == "401"


# -- emulator serve ------------------------------------------------------------------------------


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            return proc.stdout.readline()
        if proc.poll() is not None:
            break
    return ""


def test_emulator_serve_with_canary_credentials_shows_no_canary(tmp_path: Path) -> None:
    """``reconciler --debug emulator serve`` with the canary as its credentials (from the
    environment) prints none of it, serves a plan made with it, and refuses other credentials
    without echoing either pair."""
    env = dict(
        CANARY_ENV,
        RECONCILER_EMULATOR_APP_KEY=CANARY_KEY,
        RECONCILER_EMULATOR_MASTER_SECRET=CANARY_SECRET,
        PYTHONUNBUFFERED="1",
    )
    full_env = {**os.environ, **env}
    full_env.pop("CI", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--debug", "emulator", "serve", "--port", "0"],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = _read_line(proc, timeout=20)
        match = re.search(r"listening on (http://\S+)", first)
        assert match, first
        url = match.group(1)
        _project(tmp_path)
        ok = run_module(["--debug", "--endpoint", url, "plan"], cwd=tmp_path, env=CANARY_ENV)
        refused = run_module(
            ["--debug", "--endpoint", url, "plan"],
            cwd=tmp_path,
            env={"ENGAGELAB_APP_KEY": OTHER_KEY, "ENGAGELAB_MASTER_SECRET": OTHER_SECRET},
        )
    finally:
        proc.send_signal(2)  # SIGINT: uvicorn's graceful stop
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert ok.exit_code == 0, describe(ok)
    assert refused.exit_code == 1, describe(refused)
    for text in (first, out, err, ok.text, refused.text):
        assert leaks(text) == [], text[-2000:]
    assert OTHER_SECRET not in refused.text
    assert proc.returncode == 0, err[-2000:]


# -- malformed credentials ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "secret_text"),
    [
        (
            {"ENGAGELAB_APP_KEY": CANARY_KEY[:-1], "ENGAGELAB_MASTER_SECRET": CANARY_SECRET},
            CANARY_KEY[:-1],
        ),
        (
            {"ENGAGELAB_APP_KEY": CANARY_KEY + "Z", "ENGAGELAB_MASTER_SECRET": CANARY_SECRET},
            CANARY_KEY,
        ),
        ({"ENGAGELAB_MASTER_SECRET": CANARY_SECRET}, CANARY_SECRET),
        ({"ENGAGELAB_APP_KEY": CANARY_KEY}, CANARY_KEY),
    ],
    ids=["key-too-short", "key-too-long", "key-missing", "secret-missing"],
)
def test_malformed_credentials_are_refused_without_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], secret_text: str
) -> None:
    """A wrong-length AppKey or half-set credentials: exit 1 naming the variable, no value."""
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    outcome = invoke(["--endpoint", "http://127.0.0.1:9", "plan"], env=env)
    assert outcome.escaped is None, describe(outcome)
    assert outcome.exit_code == 1, describe(outcome)
    assert "ENGAGELAB_" in outcome.stderr
    assert secret_text not in outcome.text
    assert leaks(outcome.text) == []


@pytest.mark.parametrize("scheme", ["http", "ftp"])
def test_credentials_in_the_config_endpoint_are_refused_without_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """``endpoint: http://KEY:SECRET@host`` in reconciler.yaml (valid scheme or not): refused
    naming the file and line, the URL not repeated."""
    _project(tmp_path)
    endpoint = f"{scheme}://{CANARY_KEY}:{CANARY_SECRET}@127.0.0.1:9"
    config = f"environments:\n  staging:\n    endpoint: {endpoint}\n"
    (tmp_path / "reconciler.yaml").write_text(config, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    outcome = invoke(["--env", "staging", "plan"], env=CANARY_ENV)
    assert outcome.exit_code == 1, describe(outcome)
    assert "reconciler.yaml:3" in outcome.stderr or "user name or password" in outcome.stderr
    assert leaks(outcome.text) == [], outcome.text


def test_credentials_in_the_endpoint_url_are_refused_without_echo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--endpoint http://KEY:SECRET@host``: refused before any call, the URL not repeated."""
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    endpoint = f"http://{CANARY_KEY}:{CANARY_SECRET}@127.0.0.1:9"
    outcome = invoke(["--endpoint", endpoint, "plan"], env=CANARY_ENV)
    assert outcome.exit_code == 1, describe(outcome)
    assert "user name or password" in outcome.stderr
    assert leaks(outcome.text) == []


# -- a server that echoes the credentials ---------------------------------------------------------


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[ScriptedServer, str]]:
    app = ScriptedServer()
    with serve_asgi(app) as url:
        yield app, url


def _echoing(status: int) -> Route:
    """Answers every request with ``status``, quoting the credentials back in the body."""

    def route(method: str, path: str, query: str) -> Answer:
        if status == 200:
            return Answer.json({"total_count": 0, "total_pages": 0, "page": 1, "schedules": []})
        text = f"denied for {CANARY_KEY} / {CANARY_SECRET} (Authorization: Basic {TOKEN})"
        return Answer.json({"error": {"code": 28101, "message": text}}, status)

    return route


@pytest.mark.parametrize("status", [200, 401, 400], ids=["ok", "unauthorized", "rejected"])
def test_debug_output_hides_credentials_a_server_echoes(
    tmp_path: Path, echo_server: tuple[ScriptedServer, str], status: int
) -> None:
    """A server (or proxy) echoing the Authorization header in a response header and quoting
    the credentials in its error body: ``--debug`` output still holds no canary, and the
    traffic is still shown."""
    app, url = echo_server
    app.reset(_echoing(status), echo_authorization=True)
    _project(tmp_path)
    outcome = run_module(["--debug", "--endpoint", url, "plan"], cwd=tmp_path, env=CANARY_ENV)
    assert app.seen, "the plan never reached the echoing server"
    assert app.seen[0].authorization == f"Basic {TOKEN}"
    assert "Traceback" not in outcome.text, describe(outcome)
    assert outcome.exit_code == (0 if status == 200 else 1), describe(outcome)
    assert OUR_TRAFFIC.search(outcome.stderr), outcome.stderr[-2000:]
    assert leaks(outcome.text) == [], outcome.stderr[-3000:]
