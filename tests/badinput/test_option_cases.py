"""Bad command-line options and arguments: exit 1, a message naming the option, no API call.

Values click checks itself (ranges, choices) are reported after the usage line, in the same
``error: ...`` style as the reconciler's own checks. Either way: exit 1 (never click's 2, which
would read as "changes" to a CI job), no traceback, no request to the served emulator.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .helpers import assert_no_traceback, describe, endpoint_args, invoke
from .tally import tally

# (arguments after the global --endpoint, text the message must contain)
CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "now-not-a-date": (("--now", "yesterday", "plan"), "--now"),
    "now-without-zone": (("--now", "2027-01-01T00:00:00", "plan"), "time zone offset"),
    "timezone-unknown": (("--timezone", "Mars/Olympus_Mons", "plan"), "Mars/Olympus_Mons"),
    "endpoint-not-url": (("--endpoint", "notaurl", "plan"), "notaurl"),
    "endpoint-without-host": (("--endpoint", "http://", "plan"), "http://"),
    "endpoint-with-query": (("--endpoint", "http://h?x=1", "plan"), "query"),
    # These four escaped as ValueError, OverflowError and httpx.InvalidURL tracebacks, or (port
    # 0) quietly connected to port 80.
    "endpoint-ipv6-unclosed": (
        ("--endpoint", "http://[::1", "plan"),
        "--endpoint 'http://[::1' is not a valid http(s) URL",
    ),
    "endpoint-port-out-of-range": (
        ("--endpoint", "http://127.0.0.1:99999", "plan"),
        "--endpoint 'http://127.0.0.1:99999' is not a valid http(s) URL",
    ),
    "endpoint-port-not-a-number": (
        ("--endpoint", "http://127.0.0.1:abc", "plan"),
        "--endpoint 'http://127.0.0.1:abc' is not a valid http(s) URL",
    ),
    "endpoint-port-zero": (
        ("--endpoint", "http://127.0.0.1:0", "plan"),
        "--endpoint 'http://127.0.0.1:0' is not a valid http(s) URL",
    ),
    "rate-limit-zero": (("--rate-limit", "0", "plan"), "--rate-limit"),
    "concurrency-zero": (("--concurrency", "0", "plan"), "--concurrency"),
    "timeout-negative": (("--timeout", "-1", "plan"), "--timeout"),
    "data-center-unknown": (("--data-center", "moon", "plan"), "--data-center"),
    "env-unknown": (("--env", "../escape", "plan"), "../escape"),
    "format-unknown": (("plan", "--format", "yaml"), "--format"),
    "max-deletes-negative": (("plan", "--max-deletes", "-1"), "--max-deletes"),
    "lock-timeout-negative": (
        ("apply", "--auto-approve", "--lock-timeout", "-1"),
        "--lock-timeout",
    ),
    "apply-without-approval": (("apply",), "--auto-approve"),
    "import-not-a-pair": (("import", "weekly_digest"), "NAME=SCHEDULE_ID"),
    "import-empty-name": (("import", "=abc"), "NAME=SCHEDULE_ID"),
    "import-pairs-and-all": (("import", "--all-matching", "a=b"), "--all-matching"),
    "import-unknown-manifest": (("import", "nope=abc"), "nope"),
    "history-nothing": (("history",), "--id"),
    "history-unknown-name": (("history", "nope"), "nope"),
    "history-id-with-slash": (("history", "--id", "a/../b"), "a/../b"),
    "test-send-no-targets": (("test-send", "weekly_digest"), "targets"),
    "test-send-two-kinds": (
        ("test-send", "weekly_digest", "--regid", "a", "--alias", "b"),
        "--alias",
    ),
    "test-send-unknown-manifest": (("test-send", "nope", "--regid", "a"), "nope"),
    "test-send-missing-file": (
        ("test-send", "weekly_digest", "--targets-file", "nowhere.txt"),
        "nowhere.txt",
    ),
    "state-show-no-name": (("state", "show"), "NAME"),
    "state-rm-unknown": (("state", "rm", "nope"), "nope"),
    "unknown-command": (("deploy",), "deploy"),
    "validate-format-unknown": (("validate", "--format", "xml"), "--format"),
    "emulator-app-key-short": (("emulator", "serve", "--app-key", "short"), "--app-key"),
    "emulator-port-out-of-range": (("emulator", "serve", "--port", "99999"), "--port"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_option_is_a_message(project: Path, served: tuple[Emulator, str], case: str) -> None:
    """The bad option or argument ends in exit 1 with a message naming it, and no call."""
    emulator, url = served
    args, named = CASES[case]
    outcome = invoke([*endpoint_args(url), *args])
    assert_no_traceback(outcome)
    assert outcome.exit_code == 1, describe(outcome)
    errors = [
        n for n, line in enumerate(outcome.stderr.splitlines()) if line.lower().startswith("error:")
    ]
    assert errors, describe(outcome)
    message = "\n".join(outcome.stderr.splitlines()[errors[0] :])
    assert named in message, describe(outcome)
    assert emulator.request_log == []
    tally("option")
