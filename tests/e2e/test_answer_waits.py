"""``apply`` at its prompt: what changed while the person read the plan is checked again after
the answer, before anything is sent (another checkout applying the same manifest, a push
coming within the fire guard)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.errors import InventoryError, UnsafePlanError
from reconciler.ops import apply as ops
from reconciler.ops import observe
from reconciler.options import GlobalOptions
from tests.e2e.helpers import Project
from tests.kit.bodies import body, single


def _apply_answering_after(project: Project, meanwhile: Callable[[], None]) -> Any:
    """``apply`` as a terminal runs it: ``meanwhile`` happens while the prompt waits, then
    the person answers yes. The clock follows the server's (no ``--now``)."""

    def confirm(question: str) -> bool:
        assert question == "Apply these changes?"
        meanwhile()
        return True

    options = GlobalOptions(endpoint=project.url, rate_limit=10000)
    return ops.apply(options, ops.ApplyRequest(), ops.ApplyHooks(confirm=confirm))


def test_a_task_another_checkout_made_while_the_prompt_waited_gets_no_twin(
    project: Project,
) -> None:
    """Two clones (each with its own state file and lock) apply one new manifest: one waits at
    its prompt while the other applies. Answered yes, the first created a second task of the
    name, and both fired. The list is read again after the answer: nothing is created."""
    project.write("promo")
    made: list[str] = []

    def other_checkout_applies() -> None:
        made.append(project.out_of_band_create(body("promo")))
        project.mark()  # what comes after is this apply's

    with pytest.raises(InventoryError, match="appeared while it waited for the answer"):
        _apply_answering_after(project, other_checkout_applies)
    assert [t["schedule_id"] for t in project.emulator.schedules() if t["name"] == "promo"] == made
    assert project.writes() == []


def test_a_task_renamed_to_a_created_name_while_the_prompt_waited_gets_no_twin(
    project: Project,
) -> None:
    """The other checkout applies a declared rename instead (`old` -> `promo`): the task was
    listed before, under another name, so a check of new ids alone let the create through and
    both fired. A listed task now named as a create counts as new."""
    project.write("promo")
    old = project.out_of_band_create(body("old"))

    def other_checkout_renames() -> None:
        project.out_of_band_update(old, body("promo"))
        project.mark()

    with pytest.raises(InventoryError, match="appeared while it waited for the answer"):
        _apply_answering_after(project, other_checkout_renames)
    assert [t["schedule_id"] for t in project.emulator.schedules() if t["name"] == "promo"] == [old]
    assert project.writes() == []


def test_a_push_that_came_within_the_fire_guard_while_the_prompt_waited_is_not_changed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan was made 10 minutes before the push fires; the person answered 7 minutes
    later, 3 minutes before it (the guard is 5): the update would race the push. The fire guard
    is judged again by the clock of the answer, and nothing is sent."""
    fires = project.emulator.now() + timedelta(minutes=10)
    trigger = single(time=fires.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    project.write("soon", trigger=trigger, alert="v1")
    assert project.apply().exit_code == 0
    project.write("soon", trigger=trigger, alert="v2")

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(minutes=7)

    project.mark()
    with pytest.raises(UnsafePlanError, match="races the push"):
        _apply_answering_after(project, lambda: monkeypatch.setattr(observe, "datetime", Later))
    assert project.writes() == []


def test_an_apply_at_a_terminal_names_the_environment_and_app_before_its_question(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With credentials in the environment (a real app: no emulator banner), the prompt named
    neither the environment nor the app, so `RECONCILER_ENV=production` left exported went
    unseen. The line before the question names both (not the AppKey: a secret)."""
    from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
    from reconciler.ops.feedback import Feedback

    monkeypatch.setenv("ENGAGELAB_APP_KEY", DEMO_APP_KEY)
    monkeypatch.setenv("ENGAGELAB_MASTER_SECRET", DEMO_MASTER_SECRET)
    project.write("promo")
    said: list[str] = []

    def no(question: str) -> bool:
        said.append(question)
        return False

    options = GlobalOptions(endpoint=project.url, now=project.emulator.now(), rate_limit=10000)
    hooks = ops.ApplyHooks(feedback=Feedback(note=said.append), confirm=no)
    assert ops.apply(options, ops.ApplyRequest(), hooks).declined
    assert said[-2:] == [
        f"Applying to environment 'default': the app at {project.url}.",
        "Apply these changes?",
    ]
    assert DEMO_APP_KEY not in "".join(said)
