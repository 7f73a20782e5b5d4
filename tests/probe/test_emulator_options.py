"""Probe: ``reconciler emulator serve`` with non-finite option values."""

from __future__ import annotations

import pytest

from tests.badinput.helpers import invoke


@pytest.mark.parametrize(
    ("option", "variable"),
    [
        ("--latency-ms", "RECONCILER_EMULATOR_LATENCY_MS"),
        ("--jitter-ms", "RECONCILER_EMULATOR_JITTER_MS"),
        ("--hang-seconds", "RECONCILER_EMULATOR_HANG_SECONDS"),
        ("--error-rate", "RECONCILER_EMULATOR_ERROR_RATE"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf"])
@pytest.mark.parametrize("via", ["flag", "environment"])
def test_non_finite_emulator_options_are_a_clear_error(
    option: str, variable: str, value: str, via: str
) -> None:
    """Promise: bad input exits non-zero with a clear message, never a traceback.

    ``emulator serve --latency-ms nan`` (or RECONCILER_EMULATOR_LATENCY_MS=nan) passes click's
    FloatRange and is refused by the fault settings' own check with a bare ValueError: the
    user sees a Python traceback instead of "Invalid value for '--latency-ms'".
    """
    args = ["emulator", "serve", "--port", "0"]
    env: dict[str, str | None] = {}
    if via == "flag":
        args += [option, value]
    else:
        env[variable] = value
    outcome = invoke(args, env=env, now=False)
    assert outcome.escaped is None, f"{type(outcome.escaped).__name__}: {outcome.escaped}"
    assert outcome.exit_code == 1
    assert option in outcome.stderr
