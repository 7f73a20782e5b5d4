"""The schema of the state file: its model, and the check of a file's bytes against it.

``State`` / ``StateEntry`` / ``PendingEntry`` / ``ForgottenEntry`` are what planner and apply code
against; ``parse_state`` turns the bytes of a file into a ``State`` or an error that names the
file (docs/design.md "The state file").
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, ValidationError

from reconciler.errors import StateCorruptError, StateError
from reconciler.jsontext import holds_lone_surrogate
from reconciler.printable import escaped

STATE_VERSION = 1


class StateEntry(BaseModel):
    """One managed schedule."""

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    fingerprint: str  # canonical.fingerprint of the body last applied
    protected: bool = False  # lifecycle.prevent_destroy, remembered after the manifest is gone
    created_at: datetime
    updated_at: datetime


class PendingEntry(BaseModel):
    """A remote write that was started and not yet recorded (crash journal)."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["create", "replace", "update", "delete"]
    name: str
    fingerprint: str  # of the body being written
    old_schedule_id: str | None = None  # for replace / update / delete
    # Aware: healing counts a grace from it (a hand-edited naive time cannot be compared)
    started_at: AwareDatetime  # by the command's clock (the server's, from its Date header)
    # The same moment by the clock of the machine that ran the command (absent in entries
    # written before it was kept): the grace must have passed by both, since a server's clock
    # can step forward minutes at once (docs/threat-model.md).
    started_locally: AwareDatetime | None = None


class ForgottenEntry(BaseModel):
    """A task the state stopped managing because it fired for good (or vanished while disabled).

    Kept so that ``history NAME`` can still answer "did it go out?" after the entry is gone.
    """

    model_config = ConfigDict(extra="forbid")

    schedule_id: str
    forgotten_at: datetime
    reason: str


# Forgotten tasks kept per name (newest last) and names kept in all (the most recently
# forgotten): enough to answer for recent campaigns without growing the file for ever.
FORGOTTEN_PER_NAME = 5
FORGOTTEN_NAMES = 1000


class State(BaseModel):
    """The whole state file of one environment."""

    model_config = ConfigDict(extra="forbid")

    # Strict and bounded: a hand edit or a bad merge that writes ``serial: true`` or ``-5``, or an
    # empty lineage, would defeat the checks that compare them (a newer serial, another lineage).
    version: StrictInt = STATE_VERSION
    lineage: str = Field(
        default_factory=lambda: str(uuid.uuid4()), pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
    )
    serial: StrictInt = Field(default=0, ge=0)
    # hash of endpoint + AppKey; None until first bound
    binding: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    entries: dict[str, StateEntry] = Field(default_factory=dict)  # by manifest name
    pending: dict[str, PendingEntry] = Field(default_factory=dict)  # by manifest name
    # by manifest name, oldest first; written only when not empty
    forgotten: dict[str, list[ForgottenEntry]] = Field(default_factory=dict)


# A line git writes where a merge left both sides of a conflict.
_CONFLICT_MARKER = re.compile(rb"^(?:<{7}|={7}|>{7})(?: |$)", re.MULTILINE)


def parse_state(
    raw: bytes,
    *,
    path: Path,
    hint: str | Callable[[], str] | None = None,
    duplicates: dict[str, list[str]] | None = None,
) -> State:
    """Validate the bytes of a state file; every failure names ``path``.

    ``duplicates``, when given, receives the names found twice under ``entries`` / ``pending``
    (JSON allows repeated keys and keeps the last; a merge of two versions produces them).
    """

    def corrupt(what: str) -> StateCorruptError:
        text = hint() if callable(hint) else hint
        return StateCorruptError(f"the state file {path} {what}", hint=text)

    if not raw.strip():
        raise corrupt("is empty (a write was probably interrupted)")
    repeated: list[tuple[str, int]] = []  # (key, id of the object that held it twice)

    def pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    repeated.append((key, id(out)))
                seen.add(key)
        return out

    try:
        data = json.loads(raw, object_pairs_hook=pairs_hook)
    except UnicodeDecodeError:
        raise corrupt("is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        if _CONFLICT_MARKER.search(raw):
            # Not a broken write but a merge: the backup is this machine's last save and holds
            # neither branch's new entries, so restoring it (the usual hint) would lose them.
            raise StateCorruptError(
                f"the state file {path} holds git merge conflict markers (<<<<<<<, =======, "
                ">>>>>>>): two branches changed it and the merge was not finished",
                hint="resolve the merge in the file: keep the entries of both sides (each "
                "name once, each schedule_id once), remove the markers, then check it with "
                "`reconciler state list`; do not restore the backup, it holds neither side's "
                "new entries",
            ) from None
        raise corrupt(
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); it may be "
            "truncated"
        ) from None
    except RecursionError:
        raise corrupt("is not a reconciler state file (its JSON is nested too deeply)") from None
    except ValueError:  # json's only other ValueError: an int over sys.get_int_max_str_digits
        raise corrupt(
            "is not a reconciler state file (it holds a number too long to read)"
        ) from None
    if not isinstance(data, dict):
        raise corrupt("is not a reconciler state file (expected a JSON object)")
    if holds_lone_surrogate(raw, data):
        raise corrupt(
            "holds a lone UTF-16 surrogate (a \\u escape of half a character, as in "
            '"\\ud800"), which no name or id can be; it was edited by hand or by a broken tool'
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise corrupt("has no integer `version`; it is not a reconciler state file")
    if version != STATE_VERSION:
        newer = version > STATE_VERSION
        raise StateError(
            f"the state file {path} has state version {version}; this reconciler reads "
            f"version {STATE_VERSION}"
            + (" (the file was written by a newer reconciler)" if newer else ""),
            hint="upgrade the reconciler (pip install -U engagelab-reconciler) before using it"
            if newer
            else "this is not a version any reconciler wrote; restore it from git or the backup",
        )
    if duplicates is not None and repeated:
        for section in ("entries", "pending"):
            holder = data.get(section)
            found = [key for key, owner in repeated if owner == id(holder)]
            if found:
                duplicates[section] = sorted(set(found))
    try:
        return State.model_validate(data)
    except ValidationError as exc:
        # A location names keys of the file (an entry's name): shown quoted and escaped
        # when they hold a character that does not print, as is pydantic's message, or a name
        # holding a line break would print a line of its own (a workflow command in a CI log).
        reasons = "; ".join(
            f"{'.'.join(map(_step, err['loc'])) or '(top)'}: {escaped(err['msg'])}"
            for err in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise corrupt(f"does not match the state schema: {reasons}{more}") from None


def _step(step: int | str) -> str:
    """One step of a schema error's location: a key as it is, or quoted (``repr`` spells its
    control and invisible characters) when it holds one; an index as it is."""
    if isinstance(step, str) and step.isprintable():
        return step
    return repr(step) if isinstance(step, str) else str(step)
