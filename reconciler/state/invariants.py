"""The invariants of a state: what makes a parsed state unusable although it matches the schema.

Two names on one schedule_id, a name twice, a journal entry at odds with the entries, an id or a
name no server issued: ``invariant_problems`` names each with the ``reconciler state rm``
command that repairs it (written with ``shell_word``, so a hand-edited name cannot break the
command line it is printed in), and ``StateStore.load`` refuses such a state.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler import redact
from reconciler.errors import StateInvariantError
from reconciler.printable import CONTROL, SPELLED_IN_WORDS, spelled
from reconciler.remote.responses import is_safe_id, quoted
from reconciler.state.schema import State


@dataclass(frozen=True)
class Violation:
    """A broken invariant of a state file and the command that repairs it."""

    message: str
    repair: str


_ADOPT = "reconciler import --all-matching"
_ID_RULE = "letters, digits, '-' and '_'"  # what responses.SAFE_ID admits


# A name with a control character (an edited file) is printed as a line break or an escape
# sequence: "b\n::error::..." starts a line GitHub Actions runs as a workflow command. One with
# a character that shows nothing ("promo\u200b") reads as another name.
def shell_word(name: str) -> str:
    """``name`` as one word of a shell command line, printed without a control character or
    one that shows nothing (bash's ``$'...'`` quoting then spells them ``\\xNN``, ``\\u200b``)."""
    if not SPELLED_IN_WORDS.search(name):
        return shlex.quote(name)
    word = "".join(
        "\\" + c if c in "\\'" else spelled(c) if SPELLED_IN_WORDS.match(c) else c for c in name
    )
    return f"$'{word}'"


def shown_name(name: str) -> str:
    """``name`` for a listing: as it is, or as :func:`shell_word` writes it when it is no
    schedule name (a control character, one that shows nothing, a line's ``::``)."""
    return name if _name_problem(name) is None else shell_word(name)


def _name_problem(name: str) -> str | None:
    """Why ``name`` is no schedule name (``models.name_error``), or None. The state's names are
    manifests' (checked so when read) or ``state mv``'s (checked so); a name of another shape
    was written by hand, and names are printed as lines begin ("::error ..." in ``state list``)."""
    from reconciler.manifests.models import name_error  # models: pydantic, built on first use

    if CONTROL.search(name):
        return "it holds a control character"
    return name_error(name)


def _rm(name: str, *, pending: bool = False, force: bool = False) -> str:
    flags = (" --pending" if pending else "") + (" --force" if force else "")
    return f"reconciler state rm{flags} {shell_word(name)}"


def debt_of(state: State, name: str, *, keep_entries: bool) -> str | None:
    """The old task the journal entry of ``name`` still has to delete, if nobody else holds it.

    A journalled delete, or a replace, owes the deletion of its ``old_schedule_id``; dropping
    that entry leaves the old task firing with nobody to delete it, unless a remaining entry
    manages that id (then there is no debt, the journal was wrong) or another journal entry
    owes the same deletion. ``keep_entries``: whether the state entries stay (``rm --pending``)
    or the name's entry goes too (``rm``).
    """
    p = state.pending.get(name)
    if p is None or p.op not in ("delete", "replace") or not p.old_schedule_id:
        return None
    old = p.old_schedule_id
    for other, entry in state.entries.items():
        if entry.schedule_id == old and (keep_entries or other != name):
            return None
    for other, q in state.pending.items():
        if other != name and q.old_schedule_id == old:
            return None
    return old


def _credential_places(state: State, scrub: redact.Scrubber) -> list[str]:
    """Where, beyond the entries' ids (checked with their repair), the state's text holds the
    credentials: the lineage, the binding, names, fingerprints, journalled ids, forgotten
    tasks. Each place is described without the text that holds them."""
    places: list[str] = []
    # The lineage and the binding go into plan files and every save: their patterns (letters,
    # digits and "-"; "sha256:" and hex) admit a credential of letters and digits.
    for field, value in (("lineage", state.lineage), ("binding", state.binding or "")):
        if scrub.finds(value):
            places.append(f"the `{field}`")
    for name in sorted(state.entries):
        if scrub.finds(name):
            places.append("the name of an entry")
        elif scrub.finds(state.entries[name].fingerprint):
            places.append(f"the fingerprint of the entry {name!r}")
    for key in sorted(state.pending):
        p = state.pending[key]
        if scrub.finds(key) or scrub.finds(p.name):
            places.append("the name of a journal entry")
            continue
        if p.old_schedule_id is not None and scrub.finds(p.old_schedule_id):
            places.append(f"the old schedule_id of the journal entry of {key!r}")
        if scrub.finds(p.fingerprint):
            places.append(f"the fingerprint of the journal entry of {key!r}")
    for key in sorted(state.forgotten):
        if scrub.finds(key):
            places.append("the name of a forgotten task")
        elif any(scrub.finds(f.schedule_id) or scrub.finds(f.reason) for f in state.forgotten[key]):
            places.append(f"a forgotten task of {key!r}")
    return list(dict.fromkeys(places))


def invariant_problems(
    state: State, duplicates: Mapping[str, Sequence[str]] | None = None
) -> list[Violation]:
    """Every invariant ``state`` breaks, each with its repair; empty when the state is usable.

    The invariants: one name per schedule_id (two names on one id make two applies delete and
    recreate one task and leave another unmanaged), one entry per name (``duplicates``: names
    a JSON object held twice, as a bad merge of the file leaves them; only the last survives
    parsing), and every journal entry consistent with the entries (it never owes the deletion
    of a task an entry manages, and a replace journals the task its entry still holds).
    """
    out: list[Violation] = []
    dups = duplicates or {}
    for name in sorted(set(dups.get("entries", ()))):
        sid = state.entries[name].schedule_id if name in state.entries else "?"
        sid = sid if is_safe_id(sid) or sid == "?" else quoted(sid)  # printed: a hand edit
        out.append(
            Violation(
                f"the name {name!r} appears more than once under `entries` (two versions of the "
                f"file merged?); only the last one (schedule_id {sid}) was read",
                f"`{_rm(name)}`, then `{_ADOPT}` adopts the task named {name!r} again (if "
                "there are two, `reconciler plan` lists both: import the right one with "
                f"`reconciler import {shell_word(name + '=SCHEDULE_ID')}`)",
            )
        )
    for name in sorted(set(dups.get("pending", ()))):
        force = debt_of(state, name, keep_entries=True) is not None
        out.append(
            Violation(
                f"the name {name!r} appears more than once under `pending` (two versions of the "
                "file merged?); only the last journal entry was read",
                f"`{_rm(name, pending=True, force=force)}` and then `reconciler plan`",
            )
        )
    scrub = redact.output_scrubber()
    for name in sorted(state.entries):
        sid = state.entries[name].schedule_id
        # Caught here, before any request: the client refuses such an id only when it builds a
        # URL, after the list (and other tasks' details) were read.
        if scrub.finds(sid):  # never quoted: it would only print as <redacted>
            problem = (
                f"the entry {name!r} has a schedule_id that holds the configured credentials "
                "(edited by hand?)"
            )
        elif not is_safe_id(sid):
            problem = (
                f"the entry {name!r} has schedule_id {quoted(sid)}, which is not a schedule "
                f"id ({_ID_RULE}; edited by hand?)"
            )
        else:
            continue
        out.append(
            Violation(
                problem,
                f"`{_rm(name)}` (the task is untouched), then `{_ADOPT}` adopts the task "
                f"named {name!r} again",
            )
        )
    if scrub.active:
        for where in _credential_places(state, scrub):
            out.append(
                Violation(
                    f"{where} holds the configured credentials (edited by hand?); no command "
                    "writes them into the state, and every save would write them again",
                    "remove them from the file by hand, or restore the file from git or "
                    "its backup (the tasks are untouched; `reconciler import --all-matching` "
                    "adopts a task under its manifest's name again)",
                )
            )
    for name in sorted({*state.entries, *state.pending}):
        # No manifest has such a name (models.name_error); printed by plan, drift and state
        # list, a control character would put a line of its own into a CI log, a name such as
        # "::error ..." would start one, and "promo\u200b" would read as "promo".
        odd = _name_problem(name)
        if odd is None:
            continue
        debt = name not in state.entries and debt_of(state, name, keep_entries=True) is not None
        repair = _rm(name) if name in state.entries else _rm(name, pending=True, force=debt)
        out.append(
            Violation(
                f"the name {shell_word(name)} is no schedule name ({odd}; edited by hand?)",
                f"`{repair}` (the task is untouched), then `{_ADOPT}` adopts it under its "
                "manifest's name",
            )
        )
    for name in sorted(state.forgotten):
        # Printed by `history NAME` ("its task ... was forgotten ... (REASON)"), and the id is
        # asked for in a request's path: a hand edit can put a line into a CI log there too.
        tasks = state.forgotten[name]
        what = _name_problem(name)
        if what is not None:
            what = f"it is no schedule name ({what})"
        elif any(not is_safe_id(f.schedule_id) for f in tasks):
            what = f"a schedule_id is not a schedule id ({_ID_RULE})"
        elif any(CONTROL.search(f.reason) for f in tasks):
            what = "a reason holds a control character"
        else:
            continue
        out.append(
            Violation(
                f"a forgotten task of {shell_word(name)} is no task the tool forgot: {what} "
                "(edited by hand?)",
                "remove it from `forgotten` in the file by hand (it only answers `reconciler "
                "history NAME`), or restore the file from git or its backup",
            )
        )
    by_id: dict[str, list[str]] = {}
    for name in sorted(state.entries):
        by_id.setdefault(state.entries[name].schedule_id, []).append(name)
    for sid, names in sorted(by_id.items()):
        if len(names) < 2:
            continue
        listed = " and ".join(repr(n) for n in names)
        forget_all = "reconciler state rm " + " ".join(shell_word(n) for n in names)
        out.append(
            Violation(
                f"the names {listed} {'both' if len(names) == 2 else 'all'} point at "
                f"schedule_id {sid}; one task can back only one "
                "name (two versions of the file merged?)",
                # Which name the task belongs to is known only to the server (its name there):
                # forget them all and let import match each name to its own task.
                f"`{forget_all}` (the tasks are untouched), then `{_ADOPT}` adopts each "
                "name's own task again",
            )
        )
    old_ids: dict[str, str] = {}
    for key in sorted(state.pending):
        p = state.pending[key]
        force = debt_of(state, key, keep_entries=True) is not None
        repair = f"`{_rm(key, pending=True, force=force)}` and then `reconciler plan`"
        entry = state.entries.get(key)
        if p.name != key:
            out.append(Violation(f"the journal entry under {key!r} is about {p.name!r}", repair))
            continue
        old = p.old_schedule_id
        if old and not is_safe_id(old):
            out.append(
                Violation(
                    f"the journalled {p.op} of {key!r} names old schedule_id {quoted(old)}, "
                    f"which is not a schedule id ({_ID_RULE}; edited by hand?)",
                    repair,
                )
            )
            continue
        if p.op in ("delete", "replace") and not old:
            out.append(
                Violation(f"the journalled {p.op} of {key!r} names no old schedule_id", repair)
            )
            continue
        if old is None:
            continue
        owners = [n for n, e in state.entries.items() if e.schedule_id == old and n != key]
        if owners:
            out.append(
                Violation(
                    f"the journalled {p.op} of {key!r} is about schedule_id {old}, which the "
                    f"entry {owners[0]!r} manages: finishing it could delete that task",
                    repair,
                )
            )
        elif p.op == "delete" and entry is not None and entry.schedule_id == old:
            out.append(
                Violation(
                    f"the journalled delete of {key!r} is about schedule_id {old}, the task its "
                    "own entry manages: finishing it would delete that task",
                    repair,
                )
            )
        elif p.op == "replace" and (entry is None or entry.schedule_id != old):
            holds = f"its entry holds {entry.schedule_id}" if entry else "it has no entry"
            out.append(
                Violation(
                    f"the journalled replace of {key!r} retires schedule_id {old}, but {holds}",
                    repair,
                )
            )
        elif old in old_ids and p.op in ("delete", "replace"):
            out.append(
                Violation(
                    f"the journal entries {old_ids[old]!r} and {key!r} both retire schedule_id "
                    f"{old}",
                    repair,
                )
            )
        if p.op in ("delete", "replace"):
            old_ids.setdefault(old, key)
    return out


def require_invariants(
    state: State, *, path: Path, duplicates: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Raise ``StateInvariantError`` listing every broken invariant with its repair."""
    problems = invariant_problems(state, duplicates)
    if problems:
        raise StateInvariantError(path, [(v.message, v.repair) for v in problems])
