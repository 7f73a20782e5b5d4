"""``reconciler test-send`` and ``reconciler history``: a push to your own devices, and its record.

``test-send`` sends a manifest's push content now, only to the targets given, through the batch
push API (docs/api.md section 6; what is refused or left out is in
``reconciler/testsend/build.py``).
``history`` lists a schedule's executions from its msg-ids (docs/api.md section 3). Both are thin:
the decisions live in ``testsend/`` and ``history.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal, cast

import click

from reconciler.commands import format_option, global_options, option
from reconciler.formats import JSON_OUTPUT_VERSION

FORMATS = ["text", "json"]


def _note(text: str) -> None:
    click.echo(f"note: {text}", err=True)


def _progress() -> Callable[[str], None] | None:
    """Progress lines on stderr, only when a person is watching a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda text: click.echo(f"  {text}", err=True)


def _close(name: str, names: Sequence[str]) -> str:
    matches = get_close_matches(name, names, n=3)
    return f"did you mean {', '.join(repr(m) for m in matches)}? " if matches else ""


# --------------------------------------------------------------------------- test-send


def _targets(
    regids: Sequence[str],
    aliases: Sequence[str],
    targets_file: str | None,
    by: str | None,
) -> tuple[Literal["regid", "alias"], list[tuple[str, str]]]:
    """Which endpoint and which ``(target, where)`` pairs the flags name."""
    from reconciler.errors import UsageError
    from reconciler.testsend.build import parse_targets

    given = [flag for flag, v in (("--regid", regids), ("--alias", aliases)) if v]
    if targets_file is not None:
        given.append("--targets-file")
    if not given:
        raise UsageError(
            "test-send needs targets",
            hint="give --regid ID or --alias ALIAS (both repeatable) or --targets-file FILE",
        )
    if len(given) > 1:
        raise UsageError(
            f"give the targets one way, not with {' and '.join(given)}",
            hint="a test send goes to registration ids or to aliases: put them all in one "
            "--targets-file, or repeat --regid / --alias",
        )
    if by is not None and targets_file is None:
        raise UsageError("--by says what --targets-file lists; it is not used with " + given[0])
    if regids:
        return "regid", [(t, f"--regid {t!r}") for t in regids]
    if aliases:
        return "alias", [(t, f"--alias {t!r}") for t in aliases]
    assert targets_file is not None
    from reconciler import files

    path = Path(targets_file)
    try:
        raw = files.read_regular(path, limit=files.MAX_TARGETS_BYTES)
        # Newlines as read_text gave them (universal newlines), for the same line numbers.
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = files.reason(exc) if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise UsageError(
            f"cannot read the targets file {targets_file}: {reason}",
            hint="one registration id or alias per line; # starts a comment",
        ) from exc
    kind: Literal["regid", "alias"] = "alias" if by == "alias" else "regid"
    return kind, [(t, f"{targets_file}:{n}") for t, n in parse_targets(text, targets_file)]


def _push_of(desired: Sequence[Any], name: str, manifests: Path) -> dict[str, Any]:
    from reconciler.errors import UsageError

    for d in desired:
        if d.name == name:
            push: dict[str, Any] = d.body["push"]
            return push
    raise UsageError(
        f"no manifest named {name!r} in {manifests}",
        hint=f"{_close(name, [d.name for d in desired])}NAME is the `name:` of a manifest",
    )


def _render_dry_run(plan: Any, fmt: str) -> str:
    if fmt == "json":
        doc = {
            "format_version": JSON_OUTPUT_VERSION,
            "dry_run": True,
            "name": plan.name,
            "endpoint": f"POST {plan.path}",
            "targets": len(plan.targets),
            "duplicates": plan.duplicates,
            "ignored": list(plan.content.ignored),
            "batches": [{"requests": b} for b in plan.batches],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out = [
        f"# Dry run: test send of {plan.name!r} to {len(plan.targets)} target(s) in "
        f"{len(plan.batches)} batch(es); nothing is sent."
    ]
    for number, batch in enumerate(plan.batches, start=1):
        out.append(
            f"# batch {number} of {len(plan.batches)}: POST {plan.path} ({len(batch)} target(s))"
        )
        out.append(json.dumps({"requests": batch}, indent=2, ensure_ascii=False))
    return "\n".join(out) + "\n"


def _outcome_json(o: Any) -> dict[str, Any]:
    error = None
    if not o.delivered and o.status != "not_sent":
        error = {"code": o.error_code, "message": o.error_message or ""}
    return {
        "target": o.target,
        "delivered": o.delivered,
        "status": o.status,
        "msg_id": o.msg_id,
        "error": error,
        "attempts": o.attempts,
    }


def _render_report(plan: Any, report: Any, fmt: str) -> str:
    if fmt == "json":
        doc = {
            "format_version": JSON_OUTPUT_VERSION,
            "dry_run": False,
            "name": plan.name,
            "endpoint": f"POST {plan.path}",
            "platform": plan.content.platform,
            "content": plan.content.kind,
            "duplicates": plan.duplicates,
            "ignored": list(plan.content.ignored),
            "batches": report.batches,
            "calls": report.calls,
            "delivered": report.delivered,
            "failed": len(report.outcomes) - report.delivered,
            "stopped": report.stopped.message if report.stopped is not None else None,
            "targets": [_outcome_json(o) for o in report.outcomes],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    rows = [(o.target, "yes" if o.delivered else "no", o.describe()) for o in report.outcomes]
    headers = ("TARGET", "DELIVERED", "MSG_ID / ERROR")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    retries = report.calls - report.batches
    extra = f", {retries} retry call(s) for rate-limited targets" if retries > 0 else ""
    out = [line(headers), *(line(r) for r in rows), ""]
    out.append(
        f"{report.delivered} of {len(report.outcomes)} target(s) delivered through POST "
        f"{plan.path} ({report.batches} batch(es){extra})."
    )
    return "\n".join(out) + "\n"


@click.command("test-send")
@click.argument("name")
@option("--regid", "regids", multiple=True, metavar="ID", help="A registration id (repeatable).")
@option("--alias", "aliases", multiple=True, metavar="ALIAS", help="An alias (repeatable).")
@option(
    "--targets-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A file of targets, one per line; # starts a comment.",
)
@option(
    "--by",
    type=click.Choice(["regid", "alias"]),
    default=None,
    help="What --targets-file lists (default regid).",
)
@option(
    "--content",
    type=click.Choice(["notification", "message"]),
    default=None,
    help="Which part to send when the push has both a notification and a message.",
)
@format_option("test-send", FORMATS, "text for people, json for machines.")
@option("--dry-run", is_flag=True, default=False, help="Print the batch requests; send nothing.")
@click.pass_context
def test_send(
    ctx: click.Context,
    /,
    name: str,
    regids: tuple[str, ...],
    aliases: tuple[str, ...],
    targets_file: str | None,
    by: str | None,
    content: str | None,
    fmt: str,
    dry_run: bool,
) -> int:
    """Send schedule NAME's push now, only to the given devices (batch push API).

    Never reaches the schedule's own audience: its push.to is left out, only the given targets
    receive the test. Exit 0 when every target got it, 1 otherwise.
    """
    from reconciler import testsend as batch
    from reconciler.ops import observe as engine

    kind, targets = _targets(regids, aliases, targets_file, by)
    ws = engine.open_workspace(global_options(ctx))
    desired, _warnings = engine.load_desired(ws)
    push = _push_of(desired, name, ws.env.manifests)
    chosen = cast(batch.ContentKind | None, content)
    plan = batch.plan_send(name, push, kind, targets, content=chosen)
    ws.say_where()
    for item in plan.content.ignored:
        if not item.startswith("push.to "):  # every schedule has one: said once, in the help
            _note(f"left out of the test send: {item}")
    if plan.duplicates:
        _note(f"{plan.duplicates} repeated target(s) are sent once")
    if dry_run:
        click.echo(_render_dry_run(plan, fmt), nl=False)
        return 0

    async def run() -> batch.SendReport:
        async with ws.target.client() as client:
            return await batch.send_batches(client, plan.by, plan.batches, progress=_progress())

    report = asyncio.run(run())
    if report.stopped is not None:
        # Show which targets got it, and which may have (a lost answer): the hint tells the
        # user to check those before sending to them again.
        if report.delivered or any(o.status == "unknown" for o in report.outcomes):
            click.echo(_render_report(plan, report, fmt), nl=False)
        raise report.stopped
    click.echo(_render_report(plan, report, fmt), nl=False)
    if report.all_delivered:
        return 0
    missing = len(report.outcomes) - report.delivered
    click.echo(f"error: {missing} of {len(report.outcomes)} target(s) not delivered", err=True)
    return 1


# --------------------------------------------------------------------------- history


@click.command()
@click.argument("name", required=False)
@option("--id", "schedule_id", default=None, metavar="SCHEDULE_ID", help="A schedule id instead.")
@format_option("history", FORMATS, "text for people, json for machines.")
@click.pass_context
def history(ctx: click.Context, /, name: str | None, schedule_id: str | None, fmt: str) -> int:
    """List the executions of schedule NAME (from the state file) or --id SCHEDULE_ID.

    Times are shown in the environment's time zone.
    """
    from reconciler.errors import NotFoundError, UsageError
    from reconciler.ops import observe as engine
    from reconciler.remote import history as hist
    from reconciler.remote.responses import MsgRecord

    if (name is None) == (schedule_id is None):
        raise UsageError(
            "history needs a schedule: give NAME or --id SCHEDULE_ID (one of them)",
            hint="NAME is looked up in the state file; --id takes the id as it is",
        )
    ws = engine.open_workspace(global_options(ctx))
    forgotten_note = None
    if schedule_id is None:
        assert name is not None
        state = engine.load_state(ws)
        entry = state.entries.get(name)
        gone = state.forgotten.get(name)
        if entry is not None:
            schedule_id = entry.schedule_id
        elif gone:
            # A one-shot that fired is forgotten by the next apply; "did it go out?" is asked
            # exactly then, so the state keeps its id.
            last = gone[-1]
            schedule_id = last.schedule_id
            earlier = ", ".join(f.schedule_id for f in gone[:-1])
            also = f"; earlier tasks of that name: {earlier} (see them with --id)"
            forgotten_note = (
                f"{name!r} is no longer managed: its task {schedule_id} was forgotten from the "
                f"state on {last.forgotten_at.astimezone(ws.env.tz):%Y-%m-%d %H:%M %Z} "
                f"({last.reason})"
                + (also if earlier else "")
            )
        else:
            names = [*state.entries, *state.forgotten]
            raise UsageError(
                f"no schedule named {name!r} in the state file {ws.store.path}",
                hint=f"{_close(name, names)}apply the manifest first "
                "(`reconciler apply`), or give the schedule id with --id SCHEDULE_ID",
            )
    ws.say_where()
    if forgotten_note:
        _note(forgotten_note)
    title = f"{name!r} (schedule {schedule_id})" if name else f"schedule {schedule_id}"

    async def run() -> list[MsgRecord]:
        assert schedule_id is not None
        async with ws.target.client() as client:
            return await client.get_msg_ids(schedule_id)

    try:
        records = asyncio.run(run())
    except NotFoundError as exc:
        raise NotFoundError(
            f"{title} does not exist on the server: {exc.vendor_message}",
            status=exc.status,
            code=exc.code,
            hint="it was deleted, or the id is wrong; `reconciler drift` shows schedules "
            "deleted outside the reconciler",
        ) from exc
    tz = ws.env.tz
    rows = hist.executions(records, tz)
    if fmt == "json":
        click.echo(hist.render_json(rows, name=name, schedule_id=schedule_id, tz=tz), nl=False)
    else:
        click.echo(hist.render_text(rows, title=title, tz=tz), nl=False)
    return 0
