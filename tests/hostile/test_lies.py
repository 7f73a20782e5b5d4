"""Every lie of the hostile server against plan, apply and drift: no write ever reaches it, no
traceback, no hang, no secret in the output, and a clear error where the answers cannot be
trusted."""

from __future__ import annotations

import pytest

from tests.reliability.campaign import FULL
from tests.secrets.conftest import CANARY_KEY, CANARY_SECRET

from .lies import LIE_NAMES, lies
from .world import COMMANDS, World, check, leaks, run_against


def test_the_honest_server_leaves_nothing_to_do(world: World) -> None:
    """Without a lie the project is in sync: plan shows no change and sends no write (so any
    write in the tests below is the lie's doing)."""
    from .server import Lie

    run = run_against(world, Lie(), "plan")
    check(run)
    assert run.outcome.exit_code == 0
    assert "No changes" in run.outcome.stdout


def _cases() -> list[object]:
    """Every lie with every command in the full campaign; by default each lie with one command
    in turn (the commands share the read that the lies attack)."""
    names = list(COMMANDS)
    return [
        pytest.param(index, command, id=f"{lie}-{command}")
        for index, lie in enumerate(LIE_NAMES)
        for command in (names if FULL else [names[index % len(names)]])
    ]


@pytest.mark.parametrize(("index", "command"), _cases())
def test_a_lying_server_gets_no_write_and_no_secret(world: World, index: int, command: str) -> None:
    """One lie, one command: nothing written, no traceback, bounded time, no secret shown;
    exit 1 naming the problem when the answers cannot be trusted."""
    lie = lies(CANARY_KEY, CANARY_SECRET)[index]
    # Every other lie is aimed at one of the last tasks, on the last list page.
    target = -(index + 1) if index % 2 else index * 7
    check(run_against(world, lie, command, target=target))


def test_texts_built_for_the_search_are_searched_only_up_to_the_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts built to pass the scrubber's pre-test in a managed task's detail: once the
    search's budget is spent they are masked unsearched, with a word on why, in the plan on
    the terminal and in the saved plan's values. No secret, bounded time (before: each copy
    searched whole, tens of seconds)."""
    from reconciler import redact
    from reconciler.redact import UNSEARCHED

    from .lies import ManyTexts

    # A tenth of the budget and of the texts: the same, in a tenth of the time.
    monkeypatch.setattr(redact, "SEARCH_BUDGET", redact.SEARCH_BUDGET // 10)
    saved = world.root / "many-texts-plan.json"
    run = run_against(
        world, ManyTexts(CANARY_SECRET), "plan", target=0, extra=("--out", str(saved))
    )
    check(run)
    assert run.outcome.exit_code == 0, run.outcome.stderr
    assert UNSEARCHED in run.outcome.stdout
    written = saved.read_text(encoding="utf-8")
    assert UNSEARCHED in written
    assert leaks(written) == []
