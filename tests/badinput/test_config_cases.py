"""Malformed ``reconciler.yaml``: every command that reads it fails naming the file, no call.

The config file picks the app, the state file and the limits, so nothing may start on a config
that cannot be read: each case is checked with ``plan``, ``apply`` and, by turns, one more
config-reading command (all of them with ``RECONCILER_CAMPAIGN=full``) against a served emulator:
exit 1, an ``error:`` message naming ``reconciler.yaml``, no request to the API.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator import Emulator

from .conftest import commands_for, subprocess_cases
from .helpers import TASK_ID, assert_clean_failure, endpoint_args, invoke, run_module
from .tally import tally

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("plan",),
    ("apply", "--auto-approve"),
    ("drift",),
    ("import", f"weekly_digest={TASK_ID}"),
    ("state", "list"),
    ("state", "rm", "weekly_digest"),
    ("history", "weekly_digest"),
    ("test-send", "weekly_digest", "--regid", "device-1", "--dry-run"),
)

GOOD = "environments:\n  staging:\n    timezone: Europe/Berlin\n    max_deletes: 3\n"

CASES: dict[str, bytes] = {
    "unclosed-flow": b"environments: {staging: {timezone: UTC}\n",
    "unclosed-quote": b'environments:\n  staging:\n    timezone: "UTC\n',
    "tab-indent": b"environments:\n\tstaging: {}\n",
    "duplicate-environment": b"environments:\n  staging: {}\n  staging: {}\n",
    "duplicate-setting": GOOD.encode() + b"    max_deletes: 4\n",
    "root-list": b"- staging\n- production\n",
    "root-scalar": b"staging\n",
    "environments-list": b"environments: [staging, production]\n",
    "environments-empty": b"environments: {}\n",
    "environment-scalar": b"environments:\n  staging: yes\n",
    "unknown-top-key": b"environment:\n  staging: {}\n",
    "unknown-setting": GOOD.encode() + b"    max_delete: 4\n",
    "bad-timezone": b"environments:\n  staging:\n    timezone: Mars/Olympus_Mons\n",
    "timezone-number": b"environments:\n  staging:\n    timezone: 5\n",
    "bad-data-center": b"environments:\n  staging:\n    data_center: moon\n",
    # half a character: os.path raised UnicodeEncodeError on it
    "path-lone-surrogate": b'environments:\n  staging:\n    manifests: "sch\\ud800"\n',
    "state-lone-surrogate": b'environments:\n  staging:\n    state: "s\\udc80.json"\n',
    "endpoint-and-data-center": (
        b"environments:\n  staging:\n    data_center: sgp\n    endpoint: http://127.0.0.1:1\n"
    ),
    "endpoint-not-url": b"environments:\n  staging:\n    endpoint: localhost\n",
    "endpoint-ipv6-unclosed": b'environments:\n  staging:\n    endpoint: "http://[::1"\n',
    "endpoint-port-out-of-range": (
        b"environments:\n  staging:\n    endpoint: http://127.0.0.1:99999\n"
    ),
    "endpoint-port-not-a-number": (
        b"environments:\n  staging:\n    endpoint: http://127.0.0.1:abc\n"
    ),
    "max-deletes-negative": b"environments:\n  staging:\n    max_deletes: -1\n",
    "max-deletes-bool": b"environments:\n  staging:\n    max_deletes: true\n",
    "ratio-above-one": b"environments:\n  staging:\n    mass_delete_ratio: 1.5\n",
    "fire-guard-infinite": b"environments:\n  staging:\n    fire_guard_minutes: .inf\n",
    "state-empty": b"environments:\n  staging:\n    state: ''\n",
    "app-key-env-not-a-name": b"environments:\n  staging:\n    app_key_env: 'MY KEY'\n",
    "env-name-with-slash": b"environments:\n  ../escape: {}\n",
    # a NUL no file name holds: os.path raised on it, and the command ended in a traceback
    "state-nul": b'environments:\n  staging:\n    state: "st\\0\\n::error::x.json"\n',
    "manifests-nul": b'environments:\n  staging:\n    manifests: "sch\\0"\n',
    "overlay-nul": b'environments:\n  staging:\n    overlay: "ov\\0.yaml"\n',
    # "$" of a pattern also matched before a last line break
    "app-key-env-ending-in-a-line-break": b'environments:\n  staging:\n    app_key_env: "KEY\\n"\n',
    "env-name-rtl": "environments:\n  stag\u202eing: {}\n".encode(),
    "env-name-emoji": "environments:\n  \U0001f680: {}\n".encode(),
    "default-unknown": GOOD.encode() + b"default: production\n",
    "two-envs-one-state": (b"environments:\n  a:\n    state: s.json\n  b:\n    state: s.json\n"),
    "two-envs-no-default": b"environments:\n  a: {}\n  b: {}\n",
    "nul-byte": b"environments:\n  staging: {timezone: \x00}\n",
    "control-character": b"environments:\n  staging:\n    timezone: \x07UTC\n",
    "invalid-utf8": b"environments:\n  staging:\n    timezone: \xff\n",
    "utf16": GOOD.encode("utf-16"),
    "binary-garbage": bytes(range(256)),
    "tag-int-mismatch": b"environments:\n  staging:\n    max_deletes: !!int three\n",
    "tag-bool-mismatch": b"environments:\n  staging:\n    max_deletes: !!bool maybe\n",
    "tag-timestamp-mismatch": b"environments:\n  staging:\n    state: !!timestamp 2027-02-30\n",
    "huge-integer": b"environments:\n  staging:\n    max_deletes: " + b"9" * 5000 + b"\n",
    "deep-flow": b"environments: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "deep-flow-maps": b"environments: " + b"{a: " * 10_000 + b"1" + b"}" * 10_000 + b"\n",
    "deep-block": b"environments:\n" + b"".join(b" " * (n + 2) + b"k%d:\n" % n for n in range(600)),
    "billion-laughs": (
        b"a: &a [x, x, x, x, x, x, x, x, x]\n"
        + b"".join(
            b"%s: &%s [%s]\n" % (c, c, b", ".join([b"*" + p] * 9))
            for p, c in zip(b"abcdefgh", b"bcdefghi", strict=True)
            for p, c in [(bytes([p]), bytes([c]))]
        )
        + b"environments: *i\n"
    ),
    "undefined-alias": b"environments: *nothing\n",
    "ten-megabytes": GOOD.encode() + b"#" + b"x" * (10 * 1024 * 1024) + b"\n",
    "just-over-one-mebibyte": GOOD.encode() + b"#" + b"x" * (1024 * 1024) + b"\n",
}


@pytest.fixture
def config(project: Path) -> Path:
    return project / "reconciler.yaml"


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_config_is_refused_by_every_command(
    config: Path, served: tuple[Emulator, str], case: str
) -> None:
    """Each command exits 1 with an ``error:`` naming reconciler.yaml, and makes no call."""
    emulator, url = served
    config.write_bytes(CASES[case])
    for command in commands_for(case, COMMANDS[:2], COMMANDS[2:]):
        outcome = invoke([*endpoint_args(url), "--env", "staging", *command])
        assert_clean_failure(outcome, where="reconciler.yaml")
    assert emulator.request_log == []
    tally("config")


def test_the_good_config_is_accepted(config: Path, served: tuple[Emulator, str]) -> None:
    """Control: the config the cases are made from works (so the cases can fail)."""
    _, url = served
    config.write_text(GOOD, encoding="utf-8")
    outcome = invoke([*endpoint_args(url), "--env", "staging", "plan"])
    assert outcome.exit_code == 0, outcome.text


@pytest.mark.parametrize("how", ["option", "variable"])
def test_an_explicit_missing_config_is_refused(
    project: Path, served: tuple[Emulator, str], how: str
) -> None:
    """``--config`` / ``RECONCILER_CONFIG`` naming a file that is not there: every command
    exits 1 naming it and makes no call (before the fix, plan and apply silently used the
    defaults: another state file, perhaps another app)."""
    emulator, url = served
    head = ["--config", "nowhere.yaml"] if how == "option" else []
    env = {"RECONCILER_CONFIG": "nowhere.yaml"} if how == "variable" else None
    for command in COMMANDS:
        outcome = invoke([*endpoint_args(url), *head, *command], env=env)
        assert_clean_failure(outcome, where="nowhere.yaml")
    assert emulator.request_log == []
    assert not (project / ".reconciler").exists()
    tally("config")


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("http://[::1", "not closed with ']'"),  # was a ValueError traceback
        ("http://127.0.0.1:99999", "port '99999'"),  # was accepted
        ("http://127.0.0.1:abc", "port 'abc'"),  # was accepted
        ("http://127.0.0.1:0", "port '0'"),  # was accepted, as port 80
    ],
)
def test_malformed_endpoint_is_refused_by_validate(
    config: Path, served: tuple[Emulator, str], endpoint: str, why: str
) -> None:
    """``validate`` reads reconciler.yaml too: a malformed ``endpoint:`` is reported at its line
    as not a valid http(s) URL, exit 1, without a traceback or a call."""
    emulator, url = served
    config.write_text(f"environments:\n  staging:\n    endpoint: {endpoint!r}\n", "utf-8")
    outcome = invoke([*endpoint_args(url), "--env", "staging", "validate"])
    assert_clean_failure(outcome, where="reconciler.yaml:3: staging.endpoint:")
    assert f"{endpoint!r} is not a valid http(s) URL: " in outcome.stderr
    assert why in outcome.stderr
    assert emulator.request_log == []
    tally("config")


@pytest.mark.parametrize("case", subprocess_cases(["nul-byte", "deep-flow", "tag-bool-mismatch"]))
def test_malformed_config_as_a_subprocess(
    config: Path, served: tuple[Emulator, str], case: str
) -> None:
    """``python -m reconciler`` fails cleanly on the same files (real stderr, no traceback)."""
    emulator, url = served
    config.write_bytes(CASES[case])
    outcome = run_module([*endpoint_args(url), "apply", "--auto-approve"], cwd=config.parent)
    assert_clean_failure(outcome, where="reconciler.yaml")
    assert emulator.request_log == []
    tally("config")
