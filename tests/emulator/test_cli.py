"""``reconciler emulator serve``: starts, serves, stops cleanly with its data saved."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.emulator import Emulator
from tests.emulator.helpers import AUTH, single

ROOT = Path(__file__).resolve().parents[2]


def test_serve_answers_and_saves_on_ctrl_c(tmp_path: Path) -> None:
    """The served emulator takes a create over HTTP; Ctrl-C exits 0 with the task on disk. Its
    output is its own lines: no uvicorn access or start-up lines (those come with --debug)."""
    data = tmp_path / "em.json"
    with _serve(
        "--now", "2027-01-04T09:00:00+00:00", "emulator", "serve", "--port", "0",
        "--data", str(data), env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        url = banner.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), banner
        with httpx.Client(base_url=url, auth=AUTH, timeout=10) as client:
            response = client.post("/v4/schedules", json=single("served"))
        assert response.status_code == 200, response.text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert "INFO:" not in out + err
    assert "POST /v4/schedules" not in out + err
    saved = Emulator(data_path=data).schedules()
    assert [s["name"] for s in saved] == ["served"]


def test_app_key_must_have_24_characters_and_is_not_echoed() -> None:
    """A short --app-key is a usage error (exit 1) whose message does not repeat the key."""
    result = CliRunner().invoke(cli, ["emulator", "serve", "--app-key", "tooshort-key-xyz"])
    assert result.exit_code == 1
    assert "24 characters" in result.output
    assert "tooshort-key-xyz" not in result.output


def test_unknown_time_zone_is_a_usage_error() -> None:
    """--timezone must be an IANA name."""
    result = CliRunner().invoke(cli, ["emulator", "serve", "--timezone", "Mars/Olympus"])
    assert result.exit_code == 1
    assert "Mars/Olympus" in result.output


def test_corrupt_data_file_is_reported(tmp_path: Path) -> None:
    """A data file that cannot be loaded stops the command with a hint to fix or delete it."""
    data = tmp_path / "em.json"
    data.write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(cli, ["emulator", "serve", "--data", str(data)])
    assert result.exit_code == 1
    assert "cannot load the emulator data" in result.output


def test_port_in_use_is_reported() -> None:
    """Binding a port that another socket listens on fails with a hint, not a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["emulator", "serve", "--port", str(port)])
    assert result.exit_code == 1
    assert "cannot listen" in result.output


def test_serve_takes_the_new_fault_switches_and_dates_by_its_clock() -> None:
    """--rate-limit-shape, --no-target-rate and --batch-error reach the faults; answers carry
    one Date header, the emulated --now, not the machine's time."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--now", "2027-01-04T09:00:00+00:00",
         "emulator", "serve", "--port", "0", "--rate-limit-shape", "28100",
         "--no-target-rate", "1", "--batch-error", "21009", "--batch-error-rate", "0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        with httpx.Client(base_url=url, auth=AUTH, timeout=10) as client:
            faults = client.get("/_emulator/faults")
            created = client.post("/v4/schedules", json=single("x"))
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wanted = {
        "rate_limit_shape": "28100",
        "no_target_rate": 1.0,
        "batch_error": 21009,
        "batch_error_rate": 0.5,
    }
    assert {k: faults.json()[k] for k in wanted} == wanted
    assert created.status_code == 404
    assert faults.headers.get_list("date") == ["Mon, 04 Jan 2027 09:00:00 GMT"]


def test_a_client_gone_before_its_body_is_no_server_error(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A PUT whose client disconnects before the body arrives (a killed `apply`): the emulator
    answers nobody and logs no traceback; its data is unchanged."""
    from reconciler.emulator.app import create_app

    app = create_app(emulator)
    token = base64.b64encode(":".join(AUTH).encode()).decode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/v4/schedules/abc",
        "raw_path": b"/v4/schedules/abc",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Basic {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    messages = iter(
        [
            {"type": "http.request", "body": b'{"name":', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with caplog.at_level(logging.DEBUG, logger="reconciler"):
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Traceback" not in caplog.text
    assert emulator.schedules() == []


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/PID/status tells when it is ready")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_server_starts_stops_it(sig: signal.Signals) -> None:
    """Ctrl-C or SIGTERM as soon as the command can take it, while the server is still being
    set up: it stops (exit 0, "emulator stopped") instead of serving on with the signal lost
    (a CI job cancelled right after starting it)."""
    from tests.e2e.test_interactive import _wait_until_it_catches_sigterm

    with _serve("emulator", "serve", "--port", "0") as proc:
        _wait_until_it_catches_sigterm(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    assert "Traceback" not in err


@contextmanager
def _serve(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """``python -m reconciler ARGS`` with its output captured as text, killed if still running
    when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
