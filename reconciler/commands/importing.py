"""``reconciler import``: adopt existing remote tasks into the state (the only way to own them)."""

from __future__ import annotations

import asyncio

import click

from reconciler.commands import global_options, option
from reconciler.commands.state import lock_timeout_option


@click.command(name="import")
@click.argument("pairs", nargs=-1, metavar="NAME=SCHEDULE_ID...")
@option(
    "--all-matching",
    is_flag=True,
    default=False,
    help="Adopt every remote task whose name matches exactly one unmanaged manifest.",
)
@lock_timeout_option()
@click.pass_context
def import_(ctx: click.Context, /, pairs: tuple[str, ...], all_matching: bool,
            lock_timeout: float) -> int:
    """Adopt remote tasks so that plan and apply manage them.

    The remote body is recorded as last applied; the next plan shows any difference from the
    manifest as an update. Nothing is written to the API.
    """
    from reconciler.errors import InventoryError, NotFoundError, UsageError
    from reconciler.ops import observe as engine
    from reconciler.planning.canonical import fingerprint
    from reconciler.remote.inventory import read_inventory
    from reconciler.state import edits as st

    if bool(pairs) == all_matching:
        raise UsageError(
            "give NAME=SCHEDULE_ID pairs or --all-matching (exactly one of them)",
            hint="e.g. `reconciler import weekly_digest=0b8f...` or `reconciler import "
            "--all-matching`",
        )
    wanted: dict[str, str] = {}
    for pair in pairs:
        name, sep, sid = pair.partition("=")
        if not sep or not name or not sid:
            raise UsageError(
                f"{pair!r} is not NAME=SCHEDULE_ID", hint="e.g. weekly_digest=0b8f1c2e-..."
            )
        wanted[name] = sid

    ws = engine.open_workspace(global_options(ctx))
    desired, _ = engine.load_desired(ws)
    by_name = {d.name: d for d in desired}
    unknown = sorted(set(wanted) - set(by_name))
    if unknown:
        raise UsageError(
            f"no manifest named {', '.join(repr(n) for n in unknown)} in {ws.env.manifests}",
            hint="write the manifest first; import links a manifest name to a remote task",
        )
    ws.say_where()

    async def run() -> list[str]:
        with ws.store.lock(lock_timeout, "reconciler import"):
            state = engine.load_state(ws)
            claimed = {e.schedule_id: n for n, e in state.entries.items()}
            lines: list[str] = []
            async with ws.target.client() as client:
                if all_matching:
                    inventory = await read_inventory(client)
                    if not inventory.complete:
                        # A task the list missed could be a second one of the same name: adopting
                        # one of two would leave the other firing unmanaged.
                        raise InventoryError(
                            "the remote list could not be read completely ("
                            + "; ".join(inventory.problems)
                            + "); nothing was imported",
                            hint="re-run when the API answers every page, or import single "
                            "tasks with NAME=SCHEDULE_ID",
                        )
                    for name, tasks in sorted(inventory.by_name().items()):
                        free = [t for t in tasks if t.schedule_id not in claimed]
                        if name not in by_name or name in state.entries or not free:
                            continue
                        if len(free) > 1:
                            ids = ", ".join(t.schedule_id for t in free)
                            lines.append(f"skipped {name!r}: {len(free)} remote tasks ({ids})")
                            continue
                        rule = ws.env.ignore.rule_for(free[0].schedule_id, name)
                        if rule is not None:
                            # Declared as someone else's: the bulk import leaves it alone; an
                            # explicit NAME=ID is the deliberate way to take it over.
                            lines.append(
                                f"skipped {name!r}: task {free[0].schedule_id} is ignored by "
                                f"reconciler.yaml ({rule}); import it by NAME=ID to take it over"
                            )
                            continue
                        wanted[name] = free[0].schedule_id
                bodies: dict[str, dict[str, object]] = {}
                for name, sid in sorted(wanted.items()):
                    if name in state.entries:
                        raise UsageError(
                            f"{name!r} is already managed as {state.entries[name].schedule_id}",
                            hint=f"`reconciler state rm {name}` first to re-link it",
                        )
                    if sid in claimed:
                        raise UsageError(
                            f"task {sid} is already managed as {claimed[sid]!r}",
                            hint="one remote task can back only one manifest",
                        )
                    try:
                        body = await client.get_schedule(sid)
                    except NotFoundError:
                        raise UsageError(
                            f"no active remote task {sid} (for {name!r})",
                            hint="check the id for typos; `reconciler remote list` lists the "
                            "app's tasks with their ids",
                        ) from None
                    if body.get("name") != name:
                        raise UsageError(
                            f"task {sid} is named {body.get('name')!r}, not {name!r}",
                            hint="import a task under its own name (rename the manifest first)",
                        )
                    bodies[name] = body
            ws.server_clock.follow(client)
            for name, body in bodies.items():
                sid = wanted[name]
                state = st.record_create(
                    state, name, sid, fingerprint(body), by_name[name].protected, ws.clock()
                )
                lines.append(f"imported {name!r} = {sid}")
            if bodies:
                ws.store.save(state)
            return lines

    for line in asyncio.run(run()):
        click.echo(line)
    return 0
