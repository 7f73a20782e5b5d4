"""The public Python API (docs/python-api.md): its documented example runs against the emulator,
its names resolve lazily without slowing ``import reconciler``, and it keeps the command's rules
(a stale state, an unsafe plan and an interrupted journal are refused before any request)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import reconciler
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, create_app
from reconciler.emulator.core import Reply
from reconciler.errors import PlanError, StalePlanError, UnsafePlanError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python-api.md"
NOW = datetime.now(UTC).replace(microsecond=0)
WHEN = (NOW + timedelta(days=30)).strftime("%Y-%m-%d 09:00:00")


def _example() -> str:
    found = re.search(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S)
    assert found is not None, "docs/python-api.md has no python example"
    return found.group(1)


def test_the_documented_example_runs_against_the_emulator(tmp_path: Path) -> None:
    """The example of docs/python-api.md, run as it is (the emulator served on 127.0.0.1),
    creates its schedule, then plans again and finds the app in sync, as the page says."""
    script = tmp_path / "example.py"
    script.write_text(_example(), "utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "['create spring_sale']"
    assert re.fullmatch(r"  created 'spring_sale' \([0-9a-f-]{36}\)", lines[1])
    assert lines[2:] == ["Apply complete: 1 action(s) done, 1 remote write(s).", "in sync: True"]
    # The printed output in the page is this output (with the id left open).
    shown = DOC.read_text("utf-8").split("It prints:", 1)[1]
    assert "in sync: True" in shown
    assert "Apply complete: 1 action(s) done" in shown


def test_import_reconciler_loads_none_of_the_api() -> None:
    """``import reconciler`` (which ``reconciler --help`` does) loads no planner, no pydantic and
    no HTTP client: the API's names are imported on first use only."""
    code = "import json, sys, reconciler\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert {m for m in loaded if m.startswith("reconciler")} == {"reconciler"}
    assert not loaded & {"pydantic", "httpx", "click"}


def test_every_exported_name_resolves() -> None:
    """Each name in ``reconciler.__all__`` is importable from the package."""
    for name in reconciler.__all__:
        assert getattr(reconciler, name) is not None, name
    with pytest.raises(AttributeError):
        _ = reconciler.no_such_name  # type: ignore[attr-defined]


def _manifest(directory: Path, name: str = "promo") -> Path:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(
        f"""name: {name}
enabled: true
trigger:
  single:
    time: "{WHEN}"
    zone_type: 1
push:
  from: push
  to: all
  body:
    platform: all
    notification:
      alert: hello
""",
        "utf-8",
    )
    return directory


def _client(emulator: Emulator) -> reconciler.EngageLabClient:
    settings = reconciler.ClientSettings(
        base_url="http://emulator.test",
        credentials=reconciler.Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET),
    )
    transport = httpx.ASGITransport(app=create_app(emulator))
    return reconciler.EngageLabClient(settings, transport=transport)


def test_apply_plan_refuses_a_plan_made_from_an_older_state(tmp_path: Path) -> None:
    """A plan made before the state file moved is stale: apply_plan raises StalePlanError and
    sends nothing (the emulator keeps its one task)."""
    emulator = Emulator()
    desired = reconciler.load_manifests(_manifest(tmp_path / "schedules"))
    state_file = tmp_path / "state.json"

    async def run() -> None:
        async with _client(emulator) as client:
            empty = reconciler.load_state(state_file)
            old = reconciler.make_plan(desired, await reconciler.read_inventory(client), empty)
            await reconciler.apply_plan(old, client, state_file)
            assert len(emulator.state()["schedules"]) == 1
            with pytest.raises(StalePlanError):
                await reconciler.apply_plan(old, client, state_file)

    asyncio.run(run())
    assert len(emulator.state()["schedules"]) == 1


def test_apply_plan_refuses_an_unsafe_plan(tmp_path: Path) -> None:
    """A plan breaking a safety rule (here: more deletes than ``max_deletes``) is refused with
    UnsafePlanError before any request."""
    emulator, state_file, desired = _fresh(tmp_path)

    async def run() -> None:
        async with _client(emulator) as client:
            plan = await _plan_all(client, desired, state_file)
            await reconciler.apply_plan(plan, client, state_file)
            state = reconciler.load_state(state_file)
            inventory = await reconciler.read_inventory(client, state=state)
            options = reconciler.PlanOptions(max_deletes=0)
            unsafe = reconciler.make_plan([], inventory, state, options=options)
            assert [a.kind for a in unsafe.actions] == ["delete"]
            with pytest.raises(UnsafePlanError):
                await reconciler.apply_plan(unsafe, client, state_file)

    asyncio.run(run())
    assert len(emulator.state()["schedules"]) == 1


def test_make_plan_refuses_a_state_with_an_interrupted_write(tmp_path: Path) -> None:
    """A journalled write the server has not been asked about yet could be planned twice:
    make_plan refuses it and names ``reconciler apply``, which resolves it."""
    from reconciler.state import edits as st

    journal = st.begin_pending(reconciler.State(), "create", "promo", "sha256:00", NOW)
    with pytest.raises(PlanError, match="interrupted writes of 'promo'") as raised:
        reconciler.make_plan([], reconciler.Inventory(schedules={}), journal)
    assert "reconciler apply" in (raised.value.hint or "")


def test_apply_plan_refuses_a_clock_without_a_time_zone(tmp_path: Path) -> None:
    """The journal stamps its entries with ``now``; a naive clock (``datetime.now``) would write
    a state file the next command cannot read. Refused before any request."""
    emulator, state_file, desired = _fresh(tmp_path)

    async def run() -> None:
        async with _client(emulator) as client:
            plan = await _plan_all(client, desired, state_file)
            before = len(emulator.request_log)
            with pytest.raises(ValueError, match="timezone-aware"):
                await reconciler.apply_plan(plan, client, state_file, now=datetime.now)
            assert len(emulator.request_log) == before

    asyncio.run(run())
    assert emulator.state()["schedules"] == []


def _fresh(tmp_path: Path) -> tuple[Emulator, Path, list[reconciler.Desired]]:
    """An empty app, no state file yet, and the one schedule ``_manifest`` writes."""
    desired = reconciler.load_manifests(_manifest(tmp_path / "schedules"))
    return Emulator(), tmp_path / "state.json", desired


async def _plan_all(
    client: reconciler.EngageLabClient, desired: list[reconciler.Desired], state_file: Path
) -> reconciler.Plan:
    """The plan of ``desired`` against everything the app holds and the state file."""
    state = reconciler.load_state(state_file)
    return reconciler.make_plan(desired, await reconciler.read_inventory(client), state)


def test_no_write_leaves_after_apply_plan_has_failed(tmp_path: Path) -> None:
    """A caller's progress callback raises while creates still wait for their turn (one at a
    time, 25/s). apply_plan ends with that error, and from then on no POST reaches the server:
    the waiting creates are stopped before the run decides what its journal keeps (the ones
    never sent are dropped from it). The caller's event loop goes on afterwards, as a service's
    would; a write sent then would have neither a journal entry nor a state entry, and a late
    commit would be created a second time by the next apply."""
    directory = tmp_path / "schedules"
    for n in range(53):  # progress is first reported at the 50th finished create
        _manifest(directory, f"t{n:02d}")
    emulator, state_file = Emulator(), tmp_path / "state.json"
    settings = reconciler.ClientSettings(
        base_url="http://emulator.test",
        credentials=reconciler.Credentials(DEMO_APP_KEY, DEMO_MASTER_SECRET),
        concurrency=1,
        rate_limit=25,
    )

    def failing_progress(line: str) -> None:
        raise RuntimeError(f"the dashboard is down ({line})")

    async def run() -> None:
        transport = httpx.ASGITransport(app=create_app(emulator))
        async with reconciler.EngageLabClient(settings, transport=transport) as client:
            desired = reconciler.load_manifests(directory)
            plan = await _plan_all(client, desired, state_file)
            with pytest.raises(RuntimeError, match="dashboard"):
                await reconciler.apply_plan(plan, client, state_file, progress=failing_progress)
            posts = len(emulator.request_log)
            await asyncio.sleep(0.5)  # 12 more creates' worth of tokens
            assert len(emulator.request_log) == posts

    asyncio.run(run())
    state = json.loads(state_file.read_text("utf-8"))
    made = {task["name"] for task in emulator.state()["schedules"]}
    assert set(state["entries"]) | set(state["pending"]) >= made
    # Journalled without a task: only a create that may have been on its way (one at a time)
    # when the run stopped; the ones that never left are not held against the next run.
    assert len(set(state["pending"]) - made) <= 1


def test_apply_plan_refuses_a_state_with_an_interrupted_write(tmp_path: Path) -> None:
    """A plan made where the journal was not resolved (a plan file saved while a replace was
    interrupted) is refused with the state's journal before any request: carried out, it would
    leave the replaced task firing beside its successor, unmentioned."""
    from reconciler.planning import planner
    from reconciler.state import edits as st
    from reconciler.state.store import StateStore

    emulator, state_file, desired = _fresh(tmp_path)
    journal = st.begin_pending(reconciler.State(), "create", "ghost", "sha256:00", NOW)
    StateStore(state_file).save(journal)
    plan = planner.make_plan(
        desired,
        reconciler.Inventory(schedules={}),
        reconciler.load_state(state_file),
        now=NOW,
        tz=UTC,
        options=reconciler.PlanOptions(),
    )

    async def run() -> None:
        async with _client(emulator) as client:
            with pytest.raises(PlanError, match="interrupted writes of 'ghost'"):
                await reconciler.apply_plan(plan, client, state_file)

    asyncio.run(run())
    assert emulator.request_log == []


def test_apply_plan_does_not_record_a_create_answered_with_a_listed_tasks_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server answering the create with the id of someone else's task (listed by the read,
    an unmanaged task of the plan): apply_plan does not record it (the next apply would have
    written the manifest over that task) and reports why, as the command does."""
    emulator, state_file, desired = _fresh(tmp_path)
    other = emulator.add_schedule(
        {**json.loads(json.dumps(desired[0].body)), "name": "someone_elses"}
    )

    def same_id(raw: bytes) -> Reply:
        return Reply(200, {"schedule_id": other, "name": json.loads(raw)["name"]})

    async def run() -> reconciler.ApplyReport:
        async with _client(emulator) as client:
            state = reconciler.load_state(state_file)
            inventory = await reconciler.read_inventory(client, state=state)
            plan = reconciler.make_plan(desired, inventory, state)
            assert [a.kind for a in plan.actions] == ["create", "unmanaged"]
            monkeypatch.setattr(emulator, "api_create", same_id)
            return await reconciler.apply_plan(plan, client, state_file)

    report = asyncio.run(run())
    assert any(
        f"with the id {other}, which is already a task that existed" in f for f in report.failures
    ), report.failures
    state = json.loads(state_file.read_text("utf-8"))
    assert state["entries"] == {}
    assert "promo" in state["pending"]  # looked up like a lost answer: journalled, not recorded


def test_every_task_id_an_action_names_counts_as_existing() -> None:
    """``apply_plan`` doubts a create answered with the id of a task the plan saw: every id
    field of every kind of action (found from the models, so a new kind cannot be missed)."""
    from reconciler.api import _ids_named
    from reconciler.planning.actions import Action
    from reconciler.planning.artifact import Plan

    kinds = typing.get_args(typing.get_args(Action)[0])
    built = []
    expected: set[str] = set()
    for kind in kinds:
        values: dict[str, str | list[str]] = {}
        for field in kind.model_fields:
            if field.endswith("schedule_ids"):
                ids = [f"{kind.__name__}-{field}-1", f"{kind.__name__}-{field}-2"]
                values[field] = ids
                expected.update(ids)
            elif field.endswith("schedule_id"):
                values[field] = f"{kind.__name__}-{field}"
                expected.add(values[field])
        built.append(kind.model_construct(**values))
    assert len(expected) >= 10  # the id fields of today's actions, at least
    assert _ids_named(Plan.model_construct(actions=built)) == expected
