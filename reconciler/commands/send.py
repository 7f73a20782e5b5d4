"""``reconciler test-send`` and ``reconciler history``: a push to your own devices, and its record.

``test-send`` sends a manifest's push content now, only to the targets given, through the batch
push API (docs/api.md section 6; what is refused or left out is in
``reconciler/testsend/``).
``history`` lists a schedule's executions from its msg-ids (docs/api.md section 3). Both are thin
commands over ``reconciler/ops/testsend.py``; the decisions live in ``batch.py`` and
``history.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, cast

import click

from reconciler.commands import feedback, format_option, global_options, option, progress_lines
from reconciler.formats import JSON_OUTPUT_VERSION

if TYPE_CHECKING:
    from reconciler.testsend.build import ContentKind, SendPlan
    from reconciler.testsend.send import SendReport, TargetOutcome

FORMATS = ["text", "json"]


def _render_dry_run(plan: SendPlan, fmt: str) -> str:
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


def _outcome_json(o: TargetOutcome) -> dict[str, object]:
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


def _render_report(plan: SendPlan, report: SendReport, fmt: str) -> str:
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
    from reconciler.printable import columns, padded

    widths = [max(len(h), *(columns(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(padded(c, w) for c, w in zip(cells, widths, strict=True)).rstrip()

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
    from reconciler.ops import testsend as ops

    request = ops.SendRequest(
        name,
        regids,
        aliases,
        targets_file,
        cast(Literal["regid", "alias"] | None, by),
        cast("ContentKind | None", content),
        dry_run,
    )
    result = ops.send(global_options(ctx), request, feedback(progress_lines()))
    plan, report = result.plan, result.report
    if report is None:
        click.echo(_render_dry_run(plan, fmt), nl=False)
        return 0
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
@option(
    "--id",
    "schedule_id",
    envvar="RECONCILER_HISTORY_ID",  # RECONCILER_ID selects export's tasks
    show_envvar=True,
    default=None,
    metavar="SCHEDULE_ID",
    help="A schedule id instead.",
)
@format_option("history", FORMATS, "text for people, json for machines.")
@click.pass_context
def history(ctx: click.Context, /, name: str | None, schedule_id: str | None, fmt: str) -> int:
    """List the executions of schedule NAME (from the state file) or --id SCHEDULE_ID.

    Times are shown in the environment's time zone.
    """
    from reconciler.ops import testsend as ops
    from reconciler.remote import history as hist

    result = ops.history(global_options(ctx), ops.HistoryRequest(name, schedule_id), feedback())
    rows, sid, tz = result.rows, result.schedule_id, result.tz
    if fmt == "json":
        click.echo(hist.render_json(rows, name=name, schedule_id=sid, tz=tz), nl=False)
    else:
        click.echo(hist.render_text(rows, title=result.title, tz=tz), nl=False)
    return 0
