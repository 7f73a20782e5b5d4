"""``reconciler remote list|show`` and ``reconciler export``: the app's tasks as read by the tool.

``remote`` only reads. ``export`` writes manifests for remote tasks into the manifest directory
and, with ``--adopt``, records them in the state in the same step, so that bringing an existing
app under management is one command.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.commands import format_option, global_options, option, run_async, suggest
from reconciler.commands.state import lock_timeout_option
from reconciler.formats import JSON_OUTPUT_VERSION
from reconciler.planning.canonical import TRIGGER_KINDS

if TYPE_CHECKING:
    from reconciler.ops.observe import Workspace
    from reconciler.remote.observed import Inventory, RemoteSchedule
    from reconciler.state.schema import State



@dataclass(frozen=True)
class RemoteTask:
    """One remote task and how the tool sees it."""

    task: RemoteSchedule
    status: str  # managed | unmanaged | conflict | ignored
    managed_as: str | None = None
    why: str | None = None  # for ignored: the rule; for conflict: the manifest

    @property
    def trigger(self) -> str:
        from reconciler.planning.canonical import trigger_kind

        try:
            return trigger_kind(self.task.body)
        except ValueError:
            return "?"

    def row(self) -> dict[str, Any]:
        return {
            "schedule_id": self.task.schedule_id,
            "name": self.task.name,
            "enabled": self.task.enabled,
            "trigger": self.trigger,
            "status": self.status,
            "managed_as": self.managed_as,
            "reason": self.why,
        }


@dataclass(frozen=True)
class RemoteView:
    """The whole app: every task with its status, and whether the read was complete."""

    tasks: list[RemoteTask]
    complete: bool
    problems: tuple[str, ...]
    manifests: dict[str, str]  # manifest name -> where it is written


def _classify(ws: Workspace, inventory: Inventory, state: State, manifests: dict[str, str]) -> (
    RemoteView
):
    from reconciler.ops.observe import managed_ids

    owner = {e.schedule_id: n for n, e in state.entries.items()}
    owned = managed_ids(state)
    tasks: list[RemoteTask] = []
    for sid in sorted(inventory.schedules, key=lambda s: (inventory.schedules[s].name, s)):
        task = inventory.schedules[sid]
        if sid in owned:
            tasks.append(RemoteTask(task, "managed", managed_as=owner.get(sid, task.name)))
        elif task.name in manifests:
            # Named like a manifest: the same-name rule beats an ignore rule (engine.py).
            tasks.append(RemoteTask(task, "conflict", why=f"the manifest {manifests[task.name]}"))
        elif task.name in state.entries or task.name in state.pending:
            # The name is the state's (its manifest removed, a delete still to come): adopting
            # this task under it would orphan the managed one.
            tasks.append(
                RemoteTask(task, "conflict", why=f"the state's entry {task.name!r}")
            )
        elif (rule := ws.env.ignore.rule_for(sid, task.name)) is not None:
            tasks.append(RemoteTask(task, "ignored", why=rule))
        else:
            tasks.append(RemoteTask(task, "unmanaged"))
    return RemoteView(tasks, inventory.complete, inventory.problems, manifests)


def _read_view(ws: Workspace, *, confirm: bool) -> RemoteView:
    from reconciler.ops import observe as engine
    from reconciler.remote.inventory import read_inventory

    desired, _ = engine.load_desired(ws)
    manifests = {d.name: d.source for d in desired}
    state = engine.load_state(ws)

    async def run() -> Inventory:
        async with ws.target.client() as client:
            return await read_inventory(
                client, known_ids=engine.managed_ids(state), confirm=confirm
            )

    inventory = run_async(run())
    return _classify(ws, inventory, state, manifests)


def _incomplete(view: RemoteView) -> str:
    return "the remote list could not be read completely (" + "; ".join(view.problems) + ")"


@click.group("remote")
def remote() -> None:
    """Look at the app's remote tasks (reads only; never writes)."""


@remote.command("list")
@format_option("remote list", ["text", "json"], "text for people, json for machines.")
@click.pass_context
def list_(ctx: click.Context, /, fmt: str) -> int:
    """Every remote task (all pages) with managed / unmanaged / conflict / ignored marked.

    Exit 1 when the list could not be read completely (what was read is still shown).
    """
    from reconciler.errors import InventoryError
    from reconciler.ops import observe as engine

    ws = engine.open_workspace(global_options(ctx))
    ws.say_where()
    view = _read_view(ws, confirm=False)
    if fmt == "json":
        data = {
            "format_version": JSON_OUTPUT_VERSION,
            "environment": ws.env.name,
            "complete": view.complete,
            "problems": list(view.problems),
            "tasks": [t.row() for t in view.tasks],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_table(view)
    if not view.complete:
        raise InventoryError(
            _incomplete(view), hint="re-run when the API answers every page"
        )
    return 0


def _print_table(view: RemoteView) -> None:
    if not view.tasks:
        click.echo("no remote tasks")
        return
    rows = [("SCHEDULE_ID", "NAME", "ENABLED", "TRIGGER", "STATUS")]
    for t in view.tasks:
        status = t.status
        if t.managed_as is not None and t.managed_as != t.task.name:
            status += f" as {t.managed_as}"
        elif t.why is not None:
            status += f" ({t.why})"
        rows.append(
            (t.task.schedule_id, t.task.name, "yes" if t.task.enabled else "no", t.trigger, status)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        click.echo("  ".join([*(c.ljust(widths[i]) for i, c in enumerate(r[:4])), r[4]]))
    counts: dict[str, int] = {}
    for t in view.tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
    click.echo(f"\n{len(view.tasks)} remote task(s): {summary}")
    if counts.get("unmanaged"):
        click.echo(suggest("`reconciler export --adopt` writes manifests for the unmanaged ones."))


@remote.command("show")
@click.argument("which", metavar="ID|NAME")
@format_option(
    "remote show",
    ["yaml", "json"],
    "yaml: the body as a manifest would hold it; json: as the API returned it.",
    default="yaml",
)
@click.pass_context
def show(ctx: click.Context, /, which: str, fmt: str) -> int:
    """One remote task (by schedule id, or every task of that name) with its full body."""
    from reconciler.errors import UsageError
    from reconciler.manifests.export import dump_yaml, normal_form
    from reconciler.ops import observe as engine

    ws = engine.open_workspace(global_options(ctx))
    ws.say_where()
    view = _read_view(ws, confirm=False)
    found = [t for t in view.tasks if which in (t.task.schedule_id, t.task.name)]
    if not found:
        more = "" if view.complete else f"; note: {_incomplete(view)}"
        raise UsageError(
            f"no remote task has the id or name {which!r}{more}",
            hint="`reconciler remote list` shows every task",
        )
    if fmt == "json":
        items = [{**t.row(), "body": t.task.body} for t in found]
        click.echo(json.dumps(items if len(items) > 1 else items[0], indent=2, ensure_ascii=False))
        return 0
    for n, t in enumerate(found):
        if n:
            click.echo("---")
        owner = f" as {t.managed_as!r}" if t.managed_as else ""
        click.echo(f"# {t.task.schedule_id}: {t.status}{owner}")
        click.echo(dump_yaml(normal_form(t.task.body)), nl=False)
    return 0


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class _Planned:
    task: RemoteSchedule
    path: Path
    text: str
    problems: tuple[str, ...]  # errors: the manifest cannot be used as written
    notes: tuple[str, ...]  # warnings


@click.command("export")
@option("--id", "ids", multiple=True, metavar="SCHEDULE_ID", help="Export this task (repeatable).")
@option(
    "--name",
    "names",
    multiple=True,
    metavar="PATTERN",
    help="Export tasks whose name matches this shell pattern, e.g. 'Spring_*' (repeatable).",
)
@option(
    "--trigger",
    "triggers",
    multiple=True,
    type=click.Choice(TRIGGER_KINDS),
    help="Export only tasks with this trigger kind (repeatable).",
)
@option(
    "--dir",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the manifests (default: the environment's manifest directory).",
)
@option(
    "--adopt",
    is_flag=True,
    default=False,
    help="Also record the exported tasks in the state, so the next plan is a no-op.",
)
@option(
    "--overwrite",
    is_flag=True,
    default=False,
    help="Replace an existing file of the same name (default: never; pick another name).",
)
@lock_timeout_option()
@click.pass_context
def export(
    ctx: click.Context,
    /,
    ids: tuple[str, ...],
    names: tuple[str, ...],
    triggers: tuple[str, ...],
    out_dir: str | None,
    adopt: bool,
    overwrite: bool,
    lock_timeout: float,
) -> int:
    """Write manifests for remote tasks: every unmanaged one, or those selected.

    One file per schedule, named after the schedule; a task the manifests cannot express as
    written (e.g. a name with characters the docs do not allow) is written with the problem
    marked at the top, and not adopted. Exit 1 when any file needs attention.
    """
    from reconciler.errors import InventoryError, UsageError
    from reconciler.ops import observe as engine
    from reconciler.state import edits as st

    ws = engine.open_workspace(global_options(ctx))
    target_dir = Path(out_dir) if out_dir is not None else ws.env.manifests
    if adopt and not _inside(target_dir, ws.env.manifests):
        # Adopted tasks whose manifests the environment does not read would be deleted by the
        # next apply (managed names without manifests).
        raise UsageError(
            f"--adopt writes manifests the environment reads: {target_dir} is outside its "
            f"manifest directory {ws.env.manifests}",
            hint="drop --dir (or name a directory inside the manifest directory), or export "
            "without --adopt to look at the files first",
        )
    _usable_directory(target_dir)  # before any request
    ws.say_where()

    def work() -> tuple[list[_Planned], list[str]]:
        view = _read_view(ws, confirm=True)
        if not view.complete:
            # A task the list missed could share a name with one exported: two manifests of
            # one name, or an adopted task beside an unmanaged twin.
            raise InventoryError(
                _incomplete(view) + "; nothing was exported",
                hint="re-run when the API answers every page",
            )
        chosen, skipped = _select(view, ids, names, triggers)
        planned = _prepare(ws, chosen, target_dir, overwrite)
        _write_all(planned, target_dir)
        if adopt:
            usable = [p for p in planned if not p.problems]
            if usable:
                state = engine.load_state(ws)
                for p in usable:
                    if p.task.schedule_id in engine.managed_ids(state):
                        continue  # adopted meanwhile by another command
                    state = st.record_create(
                        state, p.task.name, p.task.schedule_id, p.task.fingerprint, False,
                        ws.clock(),
                    )
                ws.store.save(state)
        return planned, skipped

    if adopt:
        with ws.store.lock(lock_timeout, "reconciler export"):
            planned, skipped = work()
    else:
        planned, skipped = work()

    for line in skipped:
        click.echo(f"skipped {line}")
    attention = 0
    for p in planned:
        if p.problems:
            attention += 1
            click.echo(f"wrote {p.path} from {p.task.schedule_id}: NEEDS ATTENTION")
            for problem in p.problems:
                click.echo(f"  error: {problem}")
        else:
            adopted = " (adopted)" if adopt else ""
            click.echo(f"wrote {p.path} from {p.task.schedule_id}{adopted}")
            for note in p.notes:
                click.echo(f"  warning: {note}")
    done = len(planned) - attention
    click.echo(
        f"Exported {len(planned)} task(s) to {target_dir}"
        + (f"; {done} adopted" if adopt else "")
        + (f"; {attention} need attention (marked at the top of each file)" if attention else "")
        + "."
    )
    if planned and not adopt and done:
        click.echo(
            suggest(
                "Next: `reconciler export --adopt` (or `reconciler import NAME=ID`) to manage them."
            )
        )
    if attention:
        raise UsageError(
            f"{attention} exported manifest(s) cannot be used as written",
            hint="fix the problems marked at the top of each file, then `reconciler validate` "
            "and `reconciler import NAME=ID`",
        )
    return 0


def _select(
    view: RemoteView,
    ids: tuple[str, ...],
    patterns: tuple[str, ...],
    triggers: tuple[str, ...],
) -> tuple[list[RemoteSchedule], list[str]]:
    import fnmatch

    from reconciler.errors import UsageError

    by_id = {t.task.schedule_id: t for t in view.tasks}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UsageError(
            f"no remote task has the id {', '.join(missing)}; nothing was exported",
            hint="`reconciler remote list` shows every task",
        )
    chosen: list[RemoteTask] = []
    for t in view.tasks:
        if (ids or patterns) and t.task.schedule_id not in ids and not any(
            fnmatch.fnmatchcase(t.task.name, p) for p in patterns
        ):
            continue
        if triggers and t.trigger not in triggers:
            continue
        chosen.append(t)
    skipped: list[str] = []
    named: dict[str, int] = {}
    for t in view.tasks:
        if t.status == "unmanaged":
            named[t.task.name] = named.get(t.task.name, 0) + 1
    out: list[RemoteSchedule] = []
    for t in chosen:
        label = f"{t.task.schedule_id} ({t.task.name!r})"
        if t.status == "managed":
            if ids or patterns:
                skipped.append(f"{label}: already managed as {t.managed_as!r}")
        elif t.status == "ignored":
            if ids or patterns:
                skipped.append(f"{label}: ignored by reconciler.yaml ({t.why})")
        elif t.status == "conflict":
            skipped.append(
                f"{label}: {t.why} already has this name; to manage this task instead, "
                f"`reconciler import {t.task.name}={t.task.schedule_id}` (with its manifest)"
            )
        elif named.get(t.task.name, 0) > 1:
            skipped.append(
                f"{label}: {named[t.task.name]} remote tasks share this name and a name can "
                "back one manifest only; rename or delete the others first"
            )
        else:
            out.append(t.task)
    return out, skipped


def _prepare(
    ws: Workspace, tasks: list[RemoteSchedule], target_dir: Path, overwrite: bool
) -> list[_Planned]:
    from reconciler.manifests.export import file_stem, manifest_text, without_credentials
    from reconciler.manifests.load import load_manifests
    from reconciler.redact import REDACTED, output_scrubber

    taken, replaceable = _existing_stems(ws, target_dir, overwrite)
    schema = _schema_ref(ws, target_dir)
    now = ws.clock()
    planned: list[_Planned] = []
    scrub = output_scrubber()
    with tempfile.TemporaryDirectory(prefix="reconciler-export-") as tmp:
        for task in tasks:
            # A credential in the task (its name, an alert, even its id) is written as a
            # placeholder, never into the file or its name; the file needs attention and is
            # not adopted.
            body, found = without_credentials(task.body, scrub)
            schedule_id = scrub(task.schedule_id)
            if schedule_id != task.schedule_id:
                found.append("the schedule id")
            # --overwrite refreshes a file that holds this schedule alone (an earlier export);
            # every other existing file keeps its name.
            others = taken | {s for s, n in replaceable.items() if n != task.name}
            stem = file_stem(scrub(task.name), schedule_id, others)
            taken.add(stem)
            path = target_dir / f"{stem}.yaml"
            draft = manifest_text(
                body, schedule_id=schedule_id, exported_at=now, schema_ref=schema
            )
            check = Path(tmp, f"{stem}.yaml")
            check.write_text(draft, encoding="utf-8")
            loaded = load_manifests([check], now=ws.now, tz=ws.env.tz)
            errors = tuple(p.message for p in loaded.problems if p.severity == "error")
            notes = tuple(p.message for p in loaded.problems if p.severity != "error")
            if found:
                errors = (
                    f"the remote task holds the configured AppKey or Master Secret (in "
                    f"{', '.join(found)}); it is written as {REDACTED}: put the intended value "
                    "in its place, and rotate the credential if it was pasted there by mistake",
                    *errors,
                )
            text = draft
            if errors:
                text = manifest_text(
                    body,
                    schedule_id=schedule_id,
                    exported_at=now,
                    schema_ref=schema,
                    problems=[f"error: {e}" for e in errors],
                )
            planned.append(_Planned(task, path, text, errors, notes))
    return planned


def _existing_stems(
    ws: Workspace, target_dir: Path, overwrite: bool
) -> tuple[set[str], dict[str, str]]:
    """(stems that must not be written, {stem: name} of files --overwrite may replace).

    Every file in the directory is taken (``reconciler.yaml``, notes, anything) except, with
    ``--overwrite``, a YAML file holding exactly one manifest: it may be replaced by an export
    of that same schedule.
    """
    from reconciler.manifests.load import load_manifests

    if not target_dir.is_dir():
        return set(), {}
    taken: set[str] = set()
    replaceable: dict[str, str] = {}
    for path in target_dir.iterdir():
        stem = path.name.rsplit(".", 1)[0] if path.suffix else path.name
        if overwrite and path.suffix in (".yaml", ".yml") and path.is_file():
            loaded = load_manifests([path], now=ws.now, tz=ws.env.tz)
            if len(loaded.manifests) == 1 and not loaded.errors:
                replaceable[stem] = loaded.manifests[0].name
                continue
        taken.add(stem)
    return taken, replaceable


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _usable_directory(target: Path) -> None:
    """Refuse (before any request) a directory that cannot be made or written to.

    Nothing is created yet: the nearest existing directory on the way is probed with a
    temporary file, so an unknown id or a failed read leaves no empty directory behind.
    """
    from reconciler.errors import UsageError

    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "not a directory", str(existing))
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".reconciler-export-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"cannot write manifests to {target}: {exc.strerror or exc}",
            hint="pass --dir a directory you can write to",
        ) from None


def _schema_ref(ws: Workspace, target_dir: Path) -> str | None:
    """The modeline's path to the manifest directory's ``schedule.schema.json``, if it has one."""
    schema = ws.env.manifests / "schedule.schema.json"
    if not schema.is_file():
        return None
    return Path(os.path.relpath(schema.resolve(), target_dir.resolve())).as_posix()


def _write_all(planned: list[_Planned], target_dir: Path) -> None:
    """Write every file atomically (the directory was made and probed before the read)."""
    from reconciler.errors import UsageError

    if planned:
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot make {target_dir}: {exc.strerror or exc}",
                hint="pass --dir a directory you can write to",
            ) from None
    for p in planned:
        try:
            fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{p.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise UsageError(
                f"cannot write {p.path}: {exc.strerror or exc}",
                hint="pass --dir a directory you can write to",
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(p.text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise UsageError(
                f"cannot write {p.path}: {exc.strerror or exc}",
                hint="check the directory and free space, then export again",
            ) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
