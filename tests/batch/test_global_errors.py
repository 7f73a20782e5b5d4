"""Test sends against each global batch error of the batch page, injected by the emulator.

The page: a global error aborts the call at once, without partial results; 21009 (internal
error) must not be retried; 23008 (rate limit) may be retried. So a test send stops at the
first global error (later batches unsent, one call made), except a whole-call 23008, which the
client retries with backoff because nothing of that call was sent.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.config.connection import ClientSettings, Credentials
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, Faults, create_app
from reconciler.errors import RateLimitError, RequestRejectedError
from reconciler.remote.client import EngageLabClient
from reconciler.testsend.build import build_batches, prepare
from reconciler.testsend.send import SendReport, send_batches
from tests.batch.helpers import NOW, batch_calls
from tests.kit.clock import FakeClock

PUSH = {"to": "all", "body": {"platform": "android", "notification": {"alert": "Hi"}}}
STOPPING = [21038, 21043, 23009, 21009]
MEANING = {
    21038: "no push permission",
    21043: "payment due",
    23009: "allow-list",
    21009: "not to be retried",
}


def batches_for(count: int) -> list[list[dict[str, Any]]]:
    return build_batches(prepare(PUSH, name="n"), [f"r{i:04d}" for i in range(count)])


def send(emulator: Emulator, count: int, clock: FakeClock | None = None) -> SendReport:
    """A test send of ``count`` targets through the real client, in-process, without waits."""
    settings = ClientSettings(
        base_url="http://emulator.test",
        credentials=Credentials(app_key=DEMO_APP_KEY, master_secret=DEMO_MASTER_SECRET),
        rate_limit=1e6,
    )
    wait = (clock or FakeClock()).sleep
    client = EngageLabClient(
        settings, transport=httpx.ASGITransport(app=create_app(emulator)), sleep=wait
    )

    async def run() -> SendReport:
        async with client:
            return await send_batches(client, "regid", batches_for(count), sleep=wait)

    return asyncio.run(run())


@pytest.mark.parametrize("code", STOPPING)
def test_a_global_error_stops_after_one_call(code: int) -> None:
    """21038, 21043, 23009 and 21009 on batch 1 of 3: one call, no retry, nothing sent, every
    target reported unsent, one error naming the code and its meaning."""
    emulator = Emulator(clock=lambda: NOW, faults=Faults(batch_error=code))
    report = send(emulator, 1200)
    assert isinstance(report.stopped, RequestRejectedError)
    assert report.stopped.code == code
    assert MEANING[code] in report.stopped.message
    assert "batch 1 of 3" in report.stopped.message
    assert "nothing was sent" in report.stopped.message
    assert report.calls == 1
    assert len(batch_calls(emulator)) == 1
    assert emulator.pushes() == []
    assert {o.status for o in report.outcomes} == {"not_sent"}


def test_21009_is_not_retried_even_when_a_retry_would_succeed() -> None:
    """Seeded so that the first call gets 21009 and the next would pass: still one call only."""
    faults = Faults(batch_error=21009, batch_error_rate=0.5, seed=1)
    emulator = Emulator(clock=lambda: NOW, faults=faults)
    report = send(emulator, 3)
    assert report.stopped is not None
    assert report.stopped.hint is not None
    assert "do not repeat the send blindly" in report.stopped.hint
    assert len(batch_calls(emulator)) == 1
    assert emulator.pushes() == []


def test_a_whole_call_23008_is_retried_and_each_target_sent_once() -> None:
    """23008 for the whole call (HTTP 400) on some calls: the client retries them with backoff
    and every target is delivered exactly once."""
    faults = Faults(batch_error=23008, batch_error_rate=0.5, seed=1)
    emulator = Emulator(clock=lambda: NOW, faults=faults)
    clock = FakeClock()
    report = send(emulator, 1200, clock)
    assert report.all_delivered
    pushed = sorted(p["target"] for p in emulator.pushes())
    assert pushed == sorted(f"r{i:04d}" for i in range(1200))
    assert len(batch_calls(emulator)) > 3  # some calls were refused and repeated
    assert clock.sleeps  # with waits between them


def test_a_23008_that_never_lifts_stops_unsent() -> None:
    """23008 on every call: the client's retries run out, the run stops as rate limited,
    with the page's meaning, and nothing was sent."""
    emulator = Emulator(clock=lambda: NOW, faults=Faults(batch_error=23008))
    report = send(emulator, 3)
    assert isinstance(report.stopped, RateLimitError)
    assert "push quota" in report.stopped.message
    assert len(batch_calls(emulator)) > 1
    assert emulator.pushes() == []
    assert {o.status for o in report.outcomes} == {"not_sent"}


@pytest.mark.parametrize("code", STOPPING)
def test_send_command_reports_a_global_error_over_http(
    repo: Path, url: str, emulator: Emulator, code: int
) -> None:
    """`reconciler test-send` against the served emulator: exit 1, one message with the code,
    no traceback, one batch call, nothing sent."""
    emulator.faults = Faults(batch_error=code)
    result = CliRunner().invoke(
        cli,
        ["--endpoint", url, "--now", NOW.isoformat(), "test-send", "short_note", "--regid", "r1"],
    )
    assert result.exit_code == 1, result.output
    assert f"code {code}" in result.stderr
    assert MEANING[code] in result.stderr
    assert "Traceback" not in result.output
    assert batch_calls(emulator) == ["/v4/batch/push/regid"]
    assert emulator.pushes() == []


def test_send_command_json_report_is_not_printed_for_a_stop(
    repo: Path, url: str, emulator: Emulator
) -> None:
    """With nothing delivered, a stopped send prints no report, only the error (exit 1)."""
    emulator.faults = Faults(batch_error=21009)
    result = CliRunner().invoke(
        cli,
        [
            "--endpoint",
            url,
            "--now",
            NOW.isoformat(),
            "test-send",
            "short_note",
            "--regid",
            "r1",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stderr)
