"""The test-send and history operations: a manifest's push sent now to given devices, and a
schedule's executions read back.

One job: from the command's parameters to the batch plan and its report (the decisions are in
``reconciler/testsend/``), or to a schedule's executions (``reconciler/remote/history.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reconciler import files
from reconciler.errors import NotFoundError, UsageError
from reconciler.ops import observe
from reconciler.ops.aio import run_async

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions
    from reconciler.planning.inputs import Desired
    from reconciler.remote.history import Execution
    from reconciler.testsend.build import ContentKind, SendPlan
    from reconciler.testsend.send import SendReport


@dataclass(frozen=True)
class SendRequest:
    """What ``reconciler test-send`` was asked: the manifest, the targets one way, the part."""

    name: str
    regids: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    targets_file: str | None = None
    by: Literal["regid", "alias"] | None = None  # what targets_file lists
    content: ContentKind | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class SendResult:
    """The batch plan, and what sending it did (None on a dry run)."""

    plan: SendPlan
    report: SendReport | None


@dataclass(frozen=True)
class HistoryRequest:
    """What ``reconciler history`` was asked: a state name or a schedule id (one of them)."""

    name: str | None = None
    schedule_id: str | None = None


@dataclass(frozen=True)
class HistoryResult:
    """A schedule's executions, with how to title them and the zone to show them in."""

    name: str | None
    schedule_id: str
    title: str
    tz: ZoneInfo
    rows: list[Execution]


def close_names(name: str, names: Sequence[str]) -> str:
    """A "did you mean" for ``name`` among ``names`` (empty without a close one)."""
    matches = get_close_matches(name, names, n=3)
    return f"did you mean {', '.join(repr(m) for m in matches)}? " if matches else ""


def send(options: GlobalOptions, request: SendRequest, feedback: Feedback) -> SendResult:
    """Plan the batches (UsageError before any call when it cannot work) and, unless a dry run,
    send them; a stop (``report.stopped``) is the caller's to show and raise."""
    from reconciler import testsend as batch

    kind, targets = _targets(request.regids, request.aliases, request.targets_file, request.by)
    ws = observe.open_workspace(options, feedback)
    desired, _warnings = observe.load_desired(ws)
    push = _push_of(desired, request.name, ws.env.manifests)
    plan = batch.plan_send(request.name, push, kind, targets, content=request.content)
    ws.say_where(feedback.note)
    for item in plan.content.ignored:
        if not item.startswith("push.to "):  # every schedule has one: said once, in the help
            feedback.note(f"note: left out of the test send: {item}")
    if plan.duplicates:
        feedback.note(f"note: {plan.duplicates} repeated target(s) are sent once")
    if request.dry_run:
        return SendResult(plan, None)

    async def run() -> SendReport:
        async with ws.target.client() as client:
            return await batch.send_batches(
                client, plan.by, plan.batches, progress=feedback.progress
            )

    return SendResult(plan, run_async(run()))


def history(options: GlobalOptions, request: HistoryRequest, feedback: Feedback) -> HistoryResult:
    """The executions of a schedule named in the state (also one forgotten since it fired), or
    of a schedule id; NotFoundError when the server does not know it."""
    from reconciler.printable import escaped
    from reconciler.remote import history as hist
    from reconciler.remote.responses import MsgRecord

    name, schedule_id = request.name, request.schedule_id
    if (name is None) == (schedule_id is None):
        raise UsageError(
            "history needs a schedule: give NAME or --id SCHEDULE_ID (one of them)",
            hint="NAME is looked up in the state file; --id takes the id as it is",
        )
    ws = observe.open_workspace(options, feedback)
    forgotten_note = None
    if schedule_id is None:
        assert name is not None
        state = observe.load_state(ws)
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
                f"({escaped(last.reason)})" + (also if earlier else "")
            )
        else:
            names = [*state.entries, *state.forgotten]
            raise UsageError(
                f"no schedule named {name!r} in the state file {ws.store.path}",
                hint=f"{close_names(name, names)}apply the manifest first "
                "(`reconciler apply`), or give the schedule id with --id SCHEDULE_ID",
            )
    ws.say_where(feedback.note)
    if forgotten_note:
        feedback.note(f"note: {forgotten_note}")
    title = f"{name!r} (schedule {schedule_id})" if name else f"schedule {schedule_id}"
    sid = schedule_id

    async def run() -> list[MsgRecord]:
        async with ws.target.client() as client:
            return await client.get_msg_ids(sid)

    try:
        records = run_async(run())
    except NotFoundError as exc:
        raise NotFoundError(
            f"{title} does not exist on the server: {exc.vendor_message}",
            status=exc.status,
            code=exc.code,
            hint="it was deleted, or the id is wrong; `reconciler drift` shows schedules "
            "deleted outside the reconciler",
        ) from exc
    return HistoryResult(name, sid, title, ws.env.tz, hist.executions(records, ws.env.tz))


def _targets(
    regids: Sequence[str],
    aliases: Sequence[str],
    targets_file: str | None,
    by: str | None,
) -> tuple[Literal["regid", "alias"], list[tuple[str, str]]]:
    """Which endpoint and which ``(target, where)`` pairs the flags name."""
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


def _push_of(desired: Sequence[Desired], name: str, manifests: Path) -> Mapping[str, object]:
    for d in desired:
        if d.name == name:
            push: Mapping[str, object] = d.body["push"]
            return push
    raise UsageError(
        f"no manifest named {name!r} in {manifests}",
        hint=f"{close_names(name, [d.name for d in desired])}NAME is the `name:` of a manifest",
    )
