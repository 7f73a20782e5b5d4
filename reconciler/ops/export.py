"""The export operation: manifests written for remote tasks, and with ``adopt`` recorded in the
state in the same step, so that bringing an existing app under management is one command.

One job: which remote tasks become which manifest files (names that do not clash, credentials
kept out, problems marked at the top), written atomically; the classification of the tasks is
``reconciler/ops/remote.py``'s.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import InventoryError, UsageError
from reconciler.ops import observe
from reconciler.ops.remote import RemoteTask, RemoteView, read_view
from reconciler.planning.actions import (
    import_command,
    named_otherwise_advice,
    remote_delete_command,
)
from reconciler.planning.canonical import name_key

if TYPE_CHECKING:
    from reconciler.ops.feedback import Feedback
    from reconciler.options import GlobalOptions
    from reconciler.remote.observed import RemoteSchedule

LOCK_HOLDER = "reconciler export"


@dataclass(frozen=True)
class ExportRequest:
    """What ``reconciler export`` was asked."""

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # shell patterns
    triggers: tuple[str, ...] = ()
    out_dir: str | None = None  # default: the environment's manifest directory
    adopt: bool = False
    overwrite: bool = False
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class ExportedFile:
    """One manifest written for a remote task."""

    task: RemoteSchedule
    path: Path
    text: str
    problems: tuple[str, ...]  # errors: the manifest cannot be used as written (not adopted)
    notes: tuple[str, ...]  # warnings


@dataclass(frozen=True)
class ExportResult:
    """The files written (adopted, with ``adopt``, but for those with problems) and the tasks
    left out, with why."""

    target_dir: Path
    written: tuple[ExportedFile, ...]
    skipped: tuple[str, ...]
    read_by_environment: bool = False  # the files are manifests now (their tasks conflicts)


def export(options: GlobalOptions, request: ExportRequest, feedback: Feedback) -> ExportResult:
    """Write manifests for remote tasks: every unmanaged one, or those selected; with
    ``adopt``, record the usable ones in the state under its lock."""
    from reconciler.state import edits as st

    ws = observe.open_workspace(options, feedback)
    target_dir = Path(request.out_dir) if request.out_dir is not None else ws.env.manifests
    if request.adopt and not _inside(target_dir, ws.env.manifests):
        # Adopted tasks whose manifests the environment does not read would be deleted by the
        # next apply (managed names without manifests).
        raise UsageError(
            f"--adopt writes manifests the environment reads: {target_dir} is outside its "
            f"manifest directory {ws.env.manifests}, or in a hidden directory of it (the "
            "manifest search skips those)",
            hint="drop --dir (or name a directory inside the manifest directory), or export "
            "without --adopt to look at the files first",
        )
    _usable_directory(target_dir)  # before any request
    ws.say_where(feedback.note)

    def work() -> ExportResult:
        view = read_view(ws, confirm=True)
        if not view.complete:
            # A task the list missed could share a name with one exported: two manifests of
            # one name, or an adopted task beside an unmanaged twin.
            raise InventoryError(
                view.incomplete + "; nothing was exported",
                hint="re-run when the API answers every page",
            )
        chosen, skipped = _select(view, request.ids, request.names, request.triggers)
        planned, exported_before = _prepare(ws, chosen, target_dir, request.overwrite)
        skipped += exported_before
        _write_all(planned, target_dir)
        if request.adopt:
            usable = [p for p in planned if not p.problems]
            if usable:
                state = observe.load_state(ws)
                for p in usable:
                    if p.task.schedule_id in observe.managed_ids(state):
                        continue  # adopted meanwhile by another command
                    state = st.record_create(
                        state,
                        p.task.name,
                        p.task.schedule_id,
                        p.task.fingerprint,
                        False,
                        ws.clock(),
                    )
                ws.store.save(state)
        inside = _inside(target_dir, ws.env.manifests)
        return ExportResult(target_dir, tuple(planned), tuple(skipped), inside)

    if request.adopt:
        with ws.store.lock(request.lock_timeout, LOCK_HOLDER):
            return work()
    return work()


def _select(
    view: RemoteView,
    ids: tuple[str, ...],
    patterns: tuple[str, ...],
    triggers: tuple[str, ...],
) -> tuple[list[RemoteSchedule], list[str]]:
    by_id = {t.task.schedule_id: t for t in view.tasks}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UsageError(
            f"no remote task has the id {', '.join(missing)}; nothing was exported",
            hint="`reconciler remote list` shows every task",
        )
    chosen: list[RemoteTask] = []
    for t in view.tasks:
        if (
            (ids or patterns)
            and t.task.schedule_id not in ids
            and not any(fnmatch.fnmatchcase(t.task.name, p) for p in patterns)
        ):
            continue
        if triggers and t.trigger not in triggers:
            continue
        chosen.append(t)
    skipped: list[str] = []
    # Counted by the key the planner compares names by: "promo" and "promo " (or a
    # compatibility ideograph and its unified form) would be two manifests of one name.
    # Ignored tasks count too: a manifest of their name un-ignores them (a task named like a
    # manifest is never ignored), and the plan finds the schedule live twice.
    named: dict[str, int] = {}
    for t in view.tasks:
        if t.status in ("unmanaged", "ignored"):
            key = name_key(t.task.name)
            named[key] = named.get(key, 0) + 1
    out: list[RemoteSchedule] = []
    for t in chosen:
        label = f"{t.task.schedule_id} ({t.task.name!r})"
        if t.status == "managed":
            if ids or patterns:
                skipped.append(f"{label}: already managed as {t.managed_as!r}")
        elif t.status == "copy":
            skipped.append(
                f"{label}: {t.why}: both fire; delete this one with "
                f"{remote_delete_command(t.task.schedule_id)}"
            )
        elif t.status == "elsewhere":
            # Said even unasked: the state files of two environments bound to one app is a
            # set-up mistake, and adopting here would give the task two managers.
            skipped.append(
                f"{label}: managed by {t.why}, whose state file is bound to this same app "
                "(endpoint and AppKey); two environments must not manage one app's tasks"
            )
        elif t.status == "ignored":
            if ids or patterns:
                skipped.append(f"{label}: ignored by reconciler.yaml ({t.why})")
        elif t.status == "conflict":
            assert t.named_as is not None  # a conflict's
            sid = t.task.schedule_id
            adopt = (
                import_command(t.named_as, sid)
                if t.task.name == t.named_as
                else named_otherwise_advice(t.named_as, sid, t.task.name)
            )
            skipped.append(
                f"{label}: {t.why} already has this name; to manage this task instead, "
                f"{adopt} (with its manifest)"
            )
        elif (renamed := view.previous_names.get(name_key(t.task.name))) is not None:
            # A manifest of a name another manifest lists as its previous one is refused by
            # validate, and with it every plan after the export.
            skipped.append(
                f"{label}: the manifest {renamed} lists this name in "
                "lifecycle.previous_names (a rename already applied: the state holds no task "
                "of it); remove the entry there, then export again"
            )
        elif named.get(name_key(t.task.name), 0) > 1:
            skipped.append(
                f"{label}: {named[name_key(t.task.name)]} remote tasks share this name (compared "
                "without surrounding spaces and in Unicode's compatibility form, ignored tasks "
                "included) and a name can back one manifest only; rename this task or the "
                "others first"
            )
        else:
            out.append(t.task)
    return out, skipped


def _prepare(
    ws: observe.Workspace, tasks: list[RemoteSchedule], target_dir: Path, overwrite: bool
) -> tuple[list[ExportedFile], list[str]]:
    """The files to write, and the tasks left out because a file of theirs is there already
    (without ``overwrite``)."""
    from reconciler.manifests.export import file_stem, manifest_text, without_credentials
    from reconciler.manifests.load import load_manifests
    from reconciler.redact import REDACTED, output_scrubber

    taken, held = _existing_files(ws, target_dir)
    schema = _schema_ref(ws, target_dir)
    now = ws.clock()
    planned: list[ExportedFile] = []
    skipped: list[str] = []
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
            # A file holding this schedule alone (an earlier export) is refreshed by
            # --overwrite and otherwise left as it is: a second file of the name beside it
            # would be a second manifest of one schedule. Every other file keeps its name.
            earlier = held.get(name_key(task.name))
            if earlier is not None and not overwrite:
                skipped.append(
                    f"{task.schedule_id} ({task.name!r}): {earlier} holds this schedule "
                    "already (an earlier export); `--overwrite` refreshes it"
                )
                continue
            if earlier is not None:
                path = earlier
            else:
                stem = file_stem(scrub(task.name), schedule_id, taken)
                if scrub(stem) != stem:
                    # Folded to ASCII, a spelling of a credential the scrubber let through as
                    # text can come out plain: the file is then named after the id alone.
                    stem = file_stem("", schedule_id, taken)
                taken.add(stem)
                path = target_dir / f"{stem}.yaml"
            draft = manifest_text(body, schedule_id=schedule_id, exported_at=now, schema_ref=schema)
            check = Path(tmp, path.name)
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
            if not errors and _inside(target_dir, ws.env.manifests):
                errors = _differs_in_place(ws, task, draft, target_dir, Path(tmp, "in-place"))
            text = draft
            if errors:
                text = manifest_text(
                    body,
                    schedule_id=schedule_id,
                    exported_at=now,
                    schema_ref=schema,
                    problems=[f"error: {e}" for e in errors],
                )
            planned.append(ExportedFile(task, path, text, errors, notes))
    return planned, skipped


def _differs_in_place(
    ws: observe.Workspace, task: RemoteSchedule, draft: str, target_dir: Path, scratch: Path
) -> tuple[str, ...]:
    """Why ``draft``, read where it will live, is not the live task's body (none: it is).

    The manifest directory's ``_defaults.yaml`` files and the environment's overlay merge
    into every manifest: a draft that is exactly the live body alone could plan an update
    of the task it adopts (an inherited ``from:``, an overlay's ``time_to_live``). The draft
    is read under a copy of the defaults on its way, with the overlay, and compared."""
    from reconciler.manifests.layer_files import DEFAULTS_NAMES
    from reconciler.manifests.load import load_manifests
    from reconciler.planning.canonical import fingerprint
    from reconciler.planning.diff import diff_bodies

    shutil.rmtree(scratch, ignore_errors=True)
    root = ws.env.manifests.resolve()
    rel = target_dir.resolve().relative_to(root)
    for depth in range(len(rel.parts) + 1):
        here = root.joinpath(*rel.parts[:depth])
        there = scratch.joinpath(*rel.parts[:depth])
        there.mkdir(parents=True, exist_ok=True)
        for name in DEFAULTS_NAMES:
            if (here / name).is_file():
                shutil.copyfile(here / name, there / name)
    scratch.joinpath(*rel.parts, "draft.yaml").write_text(draft, encoding="utf-8")
    loaded = load_manifests(
        [scratch], now=ws.now, tz=ws.env.tz, overlay=ws.env.overlay, every_schedule=False
    )
    errors = [p.message for p in loaded.problems if p.severity == "error"]
    if errors:
        return (
            "read with the manifest directory's defaults and the environment's overlay, "
            f"it is refused: {errors[0]}",
        )
    if len(loaded.manifests) != 1:  # the search did not see the draft where it was put
        return ("read where it will live, it is not found as one manifest",)
    (manifest,) = loaded.manifests
    if fingerprint(manifest.body) == task.fingerprint:
        return ()
    changes = diff_bodies(task.body, manifest.body)  # what a plan would show
    if not changes:
        return ()
    fields = ", ".join(c.path for c in changes[:5])
    return (
        "with the manifest directory's defaults and the environment's overlay merged in, it "
        f"differs from the live task in {fields}: adopted as it is, the next apply would change "
        "the live task. Set those fields in the file to the live values (`key: null` removes "
        f"an inherited one), then {import_command(task.name, task.schedule_id)}",
    )


def _umask() -> int:
    """The process's umask (read by setting it, the only way, and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _existing_files(ws: observe.Workspace, target_dir: Path) -> tuple[set[str], dict[str, Path]]:
    """(stems a new file must not take, {name_key: file} of the files holding one manifest).

    Every file in the directory is taken (``reconciler.yaml``, notes, anything); a YAML file
    holding exactly one manifest is an earlier export of that schedule, or its hand-written
    file: the one file an export of that name may replace (``--overwrite``).
    """
    from reconciler.manifests.load import load_manifests

    if not target_dir.is_dir():
        return set(), {}
    taken: set[str] = set()
    held: dict[str, Path] = {}
    for path in sorted(target_dir.iterdir()):
        taken.add(path.name.rsplit(".", 1)[0] if path.suffix else path.name)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            loaded = load_manifests([path], now=ws.now, tz=ws.env.tz)
            if len(loaded.manifests) == 1 and not loaded.errors:
                held.setdefault(name_key(loaded.manifests[0].name), path)
    return taken, held


def _inside(path: Path, root: Path) -> bool:
    """Whether the manifest search of ``root`` reads files in ``path``: inside it, and in no
    hidden directory (the search skips those, ``manifests.find``)."""
    real, top = path.resolve(), root.resolve()
    if not real.is_relative_to(top):
        return False
    return not any(part.startswith(".") for part in real.relative_to(top).parts)


def _usable_directory(target: Path) -> None:
    """Refuse (before any request) a directory that cannot be made or written to.

    Nothing is created yet: the nearest existing directory on the way is probed with a
    temporary file, so an unknown id or a failed read leaves no empty directory behind.
    """
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


def _schema_ref(ws: observe.Workspace, target_dir: Path) -> str | None:
    """The modeline's path to the manifest directory's ``schedule.schema.json``, if it has one."""
    schema = ws.env.manifests / "schedule.schema.json"
    if not schema.is_file():
        return None
    return Path(os.path.relpath(schema.resolve(), target_dir.resolve())).as_posix()


def _write_all(planned: list[ExportedFile], target_dir: Path) -> None:
    """Write every file atomically (the directory was made and probed before the read)."""
    if planned:
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot make {target_dir}: {exc.strerror or exc}",
                hint="pass --dir a directory you can write to",
            ) from None
    mode = 0o666 & ~_umask()  # the mode a new file gets (read once, it is the process's)
    for p in planned:
        try:
            fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{p.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise UsageError(
                f"cannot write {p.path}: {exc.strerror or exc}",
                hint="pass --dir a directory you can write to",
            ) from None
        try:
            # mkstemp makes the file 0600: a manifest is a file of the repository, readable as
            # the person's other files are (the mode their umask gives a new file).
            if hasattr(os, "fchmod"):  # not on Windows, where there is no such mode
                os.fchmod(fd, mode)
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
