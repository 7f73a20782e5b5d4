"""Probe: the Python API's ``apply_plan`` carrying out a plan someone edited, or one kept for
a while."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, create_app
from reconciler.errors import PlanError, UnsafePlanError
from reconciler.planning.inputs import Desired
from tests.test_python_api import _manifest


def _client(emulator: Emulator) -> reconciler.EngageLabClient:
    settings = reconciler.ClientSettings(
        base_url="http://emulator.test",
        credentials=reconciler.Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET),
    )
    return reconciler.EngageLabClient(
        settings, transport=httpx.ASGITransport(app=create_app(emulator))
    )


def _forged(plan: reconciler.Plan, action: dict[str, Any]) -> reconciler.Plan:
    """The plan file with one action added and its checksum recomputed, as anyone can."""
    data = json.loads(plan.to_json())
    data["actions"].append(action)
    edited = reconciler.Plan.model_validate(data)
    text = edited.model_copy(update={"checksum": edited.compute_checksum()}).to_json()
    return reconciler.Plan.from_json(text)  # passes the checksum test


@pytest.mark.parametrize("under", ["intruder", "promo"])
def test_apply_plan_never_deletes_a_task_its_state_does_not_own(tmp_path: Path, under: str) -> None:
    """Promise: never write to a task the state does not own.

    A script reads a plan file (``Plan.from_json``: "the plan file of ``reconciler plan
    --out``") and hands it to ``apply_plan``. The file was edited to delete a foreign task
    (``intruder``, made by another state file), under its own name or a managed one, and its
    checksum recomputed. ``reconciler apply FILE`` refuses it (``Plan.check_writes``);
    ``apply_plan`` checked only the checksum, the state's serial and the recorded verdicts,
    and deleted the foreign task.
    """
    emulator = Emulator()
    mine, theirs = tmp_path / "state.json", tmp_path / "theirs.json"

    async def run() -> None:
        async with _client(emulator) as client:
            for name, state_file in (("promo", mine), ("intruder", theirs)):
                desired = reconciler.load_manifests(_manifest(tmp_path / name, name))
                state = reconciler.load_state(state_file)
                inventory = await reconciler.read_inventory(client, state=state)
                made = reconciler.make_plan(desired, inventory, state)
                await reconciler.apply_plan(made, client, state_file)
            foreign = reconciler.load_state(theirs).entries["intruder"].schedule_id
            state = reconciler.load_state(mine)
            desired = reconciler.load_manifests(tmp_path / "promo")
            inventory = await reconciler.read_inventory(client, state=state)
            honest = reconciler.make_plan(desired, inventory, state)
            delete = {"kind": "delete", "name": under, "schedule_id": foreign, "old_body": {}}
            with pytest.raises(PlanError, match="does not match the state file"):
                await reconciler.apply_plan(_forged(honest, delete), client, mine)

    asyncio.run(run())
    assert len(emulator.state()["schedules"]) == 2, "the foreign task was deleted"


def test_apply_plan_refuses_a_kept_plan_whose_task_now_fires_within_the_guard(
    tmp_path: Path,
) -> None:
    """Promise: no change races a push (the fire guard), whichever way the plan is carried out.

    A plan kept for an hour (made in a notebook, saved with ``to_json``, applied by a job
    runner) updates a task that was an hour from firing then and fires in 3 minutes now.
    ``reconciler apply FILE`` judges the guard by the clock of the apply; ``apply_plan`` used
    the verdict recorded in the plan and sent the update while the push was due.
    """
    emulator = Emulator()
    soon = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
    state_file = tmp_path / "state.json"

    def manifest(alert: str) -> list[Desired]:
        folder = tmp_path / alert
        folder.mkdir()
        (folder / "soon.yaml").write_text(
            f'name: soon\nenabled: true\ntrigger:\n  single: {{time: "{soon}", zone_type: 1}}\n'
            "push: {from: push, to: all, body: {platform: all, notification: {alert: "
            f"{alert}}}}}}}\n",
            "utf-8",
        )
        return reconciler.load_manifests(folder)

    async def run() -> None:
        async with _client(emulator) as client:
            state = reconciler.load_state(state_file)
            inventory = await reconciler.read_inventory(client)
            made = reconciler.make_plan(manifest("v1"), inventory, state)
            await reconciler.apply_plan(made, client, state_file)
            state = reconciler.load_state(state_file)
            inventory = await reconciler.read_inventory(client, state=state)
            an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
            kept = reconciler.make_plan(manifest("v2"), inventory, state, now=an_hour_ago)
            assert kept.is_safe
            assert [a.kind for a in kept.actions] == ["update"]
            with pytest.raises(UnsafePlanError, match="within --fire-guard"):
                await reconciler.apply_plan(kept, client, state_file)

    asyncio.run(run())
    (task,) = emulator.state()["schedules"]
    assert task["push"]["body"]["notification"]["alert"] == "v1", "the update raced the push"


class _LaggingList(httpx.AsyncBaseTransport):
    """The emulator, its list not showing tasks created in this run yet (a list that lags
    behind creates); details answer as ever."""

    def __init__(self, emulator: Emulator, hidden: set[str]) -> None:
        self.inner = httpx.ASGITransport(app=create_app(emulator))
        self.hidden = hidden

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or request.url.path != "/v4/schedules":
            return response
        data = json.loads(await response.aread())
        data["schedules"] = [r for r in data["schedules"] if r["schedule_id"] not in self.hidden]
        data["total_count"] = len(data["schedules"])
        data["total_pages"] = 1 if data["schedules"] else 0
        return httpx.Response(200, json=data)


def test_make_plan_refuses_an_inventory_read_without_its_state(tmp_path: Path) -> None:
    """Promise: never two live tasks of one schedule.

    A script applies, then reads again with ``read_inventory(client)`` (no ``state=``) and
    plans with the state. The list lags behind the create and does not show the new task:
    read with the state, the task is looked up by id and found; read without it, nothing
    was looked up, make_plan took the task as deleted and apply_plan created it again.
    """
    emulator = Emulator()
    hidden: set[str] = set()
    settings = reconciler.ClientSettings(
        base_url="http://emulator.test",
        credentials=reconciler.Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET),
    )
    state_file = tmp_path / "state.json"
    desired = reconciler.load_manifests(_manifest(tmp_path / "schedules"))
    refused: list[str] = []

    async def run() -> None:
        transport = _LaggingList(emulator, hidden)
        async with reconciler.EngageLabClient(settings, transport=transport) as client:
            state = reconciler.load_state(state_file)
            first = reconciler.make_plan(desired, await reconciler.read_inventory(client), state)
            await reconciler.apply_plan(first, client, state_file)
            state = reconciler.load_state(state_file)
            hidden.update(e.schedule_id for e in state.entries.values())
            unread = await reconciler.read_inventory(client)
            try:
                again = reconciler.make_plan(desired, unread, state)
            except PlanError as exc:
                refused.append(exc.message)
            else:  # what a script does with the plan it got
                await reconciler.apply_plan(again, client, state_file)
            looked_up = await reconciler.read_inventory(client, state=state)
            assert not reconciler.make_plan(desired, looked_up, state).has_changes

    asyncio.run(run())
    assert len(emulator.state()["schedules"]) == 1, "the schedule was created twice"
    assert refused
    assert "read without this state" in refused[0]
