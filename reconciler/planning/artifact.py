"""The Plan: the artifact that ``plan`` shows, ``plan --out`` saves and ``apply`` carries out.

Its views (counts, drift, the safety verdict), its file format (stable JSON with a checksum,
:meth:`Plan.to_json` / :meth:`Plan.from_json`) and the checks that it still describes the world
(:meth:`Plan.check_fresh` and the narrower ``check_local`` / ``check_state``). What a saved plan
may write is checked by :mod:`reconciler.planning.writes`; the planner that makes one is
:mod:`reconciler.planning.planner`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from reconciler.errors import PlanError, StalePlanError, UnsafePlanError
from reconciler.formats import PLAN_FILE_VERSION
from reconciler.jsontext import holds_lone_surrogate
from reconciler.planning import writes
from reconciler.planning.actions import (
    GROUP,
    PLAN_RULE,
    Action,
    ConflictAction,
    CreateAction,
    DeleteAction,
    DriftItem,
    ExpiredAction,
    Moment,
    RecreateAction,
    RefreshAction,
    ReplaceAction,
    SkipAction,
    UnmanagedAction,
    UpdateAction,
    drift_of,
    is_change,
    remote_delete_command,
    target_id,
)
from reconciler.planning.inputs import (
    Desired,
    PlanInputs,
    desired_digest,
    json_digest,
    observed_digest,
    state_digest,
)
from reconciler.planning.safety import PlanOptions
from reconciler.printable import CONTROL, SPELLED_IN_WORDS, UNSEEN, escaped, never_raw
from reconciler.redact import clip
from reconciler.remote.observed import Inventory
from reconciler.remote.responses import is_safe_id
from reconciler.state.schema import State

MANIFESTS_MOVED = "the manifests changed since the plan was made"


def _zone_name(value: str) -> str:
    # The plan's firings and times are shown in this zone; a name this machine cannot load
    # would be shown as UTC without a word, so a plan file naming one is not read.
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PydanticCustomError(
            PLAN_RULE,
            "{value} is not an IANA time zone name (such as UTC or Europe/Berlin)",
            {"value": repr(value)},
        ) from None
    return value


# The name of a time zone ``zoneinfo`` loads, as the planner writes it (``str(ZoneInfo)``).
ZoneName = Annotated[str, AfterValidator(_zone_name)]


class PolicyException(BaseModel):
    """A push-policy violation the plan was made with, allowed by ``--allow-policy``
    (docs/policies.md): apply of a saved plan allows these and no other."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    severity: str
    schedule: str
    path: str
    line: int
    col: int
    message: str


class Plan(BaseModel):
    """Ordered actions, safety verdicts and the digests of the inputs, checksummed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = PLAN_FILE_VERSION
    planned_at: Moment  # UTC ISO 8601 of the injected ``now``
    timezone: ZoneName
    options: PlanOptions
    inputs: PlanInputs
    active_before: int
    active_after: int
    managed: int
    actions: list[Action]
    violations: list[str]
    warnings: list[str]
    # Declared renames (lifecycle.previous_names), new name -> old name: apply moves each state
    # entry before any request, and the action under the new name sends the new name.
    renames: dict[str, str] = Field(default_factory=dict)
    # The justified exceptions to the environment's push policies the plan was made with.
    policy_exceptions: list[PolicyException] = Field(default_factory=list)
    # Managed name -> the ids of unmanaged tasks named alike (``canonical.name_key``): second
    # copies of a live schedule (made by another checkout, another state file, a console
    # user), each firing as well. Apply leaves them alone; the plan is not clean while any is.
    twins: dict[str, list[str]] = Field(default_factory=dict)
    checksum: str = ""

    # -- views --------------------------------------------------------------------------------
    @property
    def has_changes(self) -> bool:
        """True when apply would write anything (remote or state)."""
        return bool(self.renames) or any(is_change(a) for a in self.actions)

    @property
    def is_safe(self) -> bool:
        """True when no safety rule is violated (``check_safe`` would pass)."""
        return not self.violations

    def of_kind(self, kind: str) -> list[Action]:
        """The actions of one kind, in plan order."""
        return [a for a in self.actions if a.kind == kind]

    def counts(self) -> dict[str, int]:
        """Actions per kind: every kind present (zero when absent), in plan order of groups."""
        out = {k: 0 for k in GROUP}
        for a in self.actions:
            out[a.kind] += 1
        return out

    def check_safe(self, *, shown: bool = False) -> None:
        """Raise UnsafePlanError for the violated safety rules (``shown``: already printed)."""
        if self.violations:
            # Not every rule has an override (prevent_destroy, an incomplete read, the active
            # limit): each line says what resolves it.
            raise UnsafePlanError(
                self.violations, hint="each line says how to resolve it", shown=shown
            )

    def drift_items(self) -> list[DriftItem]:
        """Remote edits, remote deletions, unmanaged tasks and unapplied manifest changes."""
        items: list[DriftItem] = []
        for a in self.actions:
            items.extend(drift_of(a))
        twin_of = {sid: name for name, ids in self.twins.items() for sid in ids}
        return [
            item.model_copy(
                update={
                    "detail": f"a second task of the managed schedule {twin_of[item.schedule_id]!r}"
                    ", not managed: it fires too; delete it with "
                    f"{remote_delete_command(item.schedule_id)}"
                }
            )
            if item.kind == "unmanaged" and item.schedule_id in twin_of
            else item
            for item in items
        ]

    # -- artifact -----------------------------------------------------------------------------
    def compute_checksum(self) -> str:
        """sha256 of the canonical JSON of everything but the checksum itself."""
        return json_digest(self._dump(exclude={"checksum"}))

    def _dump(self, exclude: set[str] | None = None) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude=exclude)
        for key in ("listed_digest", "state_digest"):
            if data["inputs"].get(key) is None:
                # Plan files made before the field existed keep their content and checksum.
                del data["inputs"][key]
        if not data.get("renames", True):
            del data["renames"]  # the same for plans without a rename
        if not data.get("policy_exceptions", True):
            del data["policy_exceptions"]  # and for plans without a policy exception
        if not data.get("twins", True):
            del data["twins"]  # and for plans without a second copy of a schedule
        for action in data["actions"]:
            if action.get("named_otherwise") == {}:
                del action["named_otherwise"]  # and for conflicts of tasks named exactly
        return data

    def with_policy_exceptions(self, allowed: Iterable[Mapping[str, Any]]) -> Plan:
        """This plan recording the policy violations ``--allow-policy`` let through (each as
        ``policies.Violation.as_json``), checksummed again."""
        items = [PolicyException.model_validate(dict(v)) for v in allowed]
        if not items and not self.policy_exceptions:
            return self
        plan = self.model_copy(update={"policy_exceptions": items})
        return plan.model_copy(update={"checksum": plan.compute_checksum()})

    def to_json(self) -> str:
        """The plan file: stable, sorted, versioned JSON (``format_version`` 1)."""
        data = self._dump()
        # The same JSON with the C1 and bidirectional controls as escapes: the file is read by
        # people too (a pull request's artifact, a diff in a terminal).
        return never_raw(json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan file; refuses other format versions and edited (checksum-broken) files."""
        repeated: list[str] = []
        try:
            data = json.loads(
                text,
                object_pairs_hook=lambda pairs: _once(pairs, repeated),
                parse_constant=_no_constant,
            )
        except _NotJSONNumber as exc:
            # JSON has no NaN or Infinity (Python's reader takes them); no plan holds one, and
            # a NaN threshold turns its safety rule off (every comparison with it is false).
            raise PlanError(
                f"plan file holds {exc.word}, which is no JSON number; it was edited",
                hint="write plan files with `reconciler plan --out FILE`",
            ) from None
        except json.JSONDecodeError as exc:
            raise PlanError(
                f"plan file is not JSON (line {exc.lineno}): {exc.msg}",
                hint="write plan files with `reconciler plan --out FILE`",
            ) from exc
        except (RecursionError, ValueError):  # nested too deeply; an int too long to convert
            raise PlanError(
                "plan file is not a plan (its JSON is nested too deeply or holds a number too "
                "long to read)",
                hint="write plan files with `reconciler plan --out FILE`",
            ) from None
        if repeated:
            # JSON keeps the last of a repeated key, while a person reading the file (or a
            # review tool) may see the first: the plan carried out would not be the one read.
            # The tool writes each key once. The key is masked before it is cut (``clip``): a
            # cut through a credential leaves a piece no scrubber recognises.
            key = clip(repr(repeated[0]), 64)
            raise PlanError(
                f"plan file holds the key {key} twice in one object (a reader may see the "
                "first value, apply would use the last); it was edited",
                hint="write plan files with `reconciler plan --out FILE`",
            )
        if holds_lone_surrogate(text, data):
            raise PlanError(
                "plan file holds a lone UTF-16 surrogate (a \\u escape of half a character), "
                "which no name or text can be; it was edited",
                hint="write plan files with `reconciler plan --out FILE`",
            )
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != PLAN_FILE_VERSION:
            raise PlanError(
                f"plan file has format_version {version!r}; "
                f"this reconciler reads {PLAN_FILE_VERSION}",
                hint="re-create the plan with this version of `reconciler plan --out FILE`",
            )
        try:
            plan = cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            # pydantic quotes some values of the file in its message (an action's kind): shown
            # escaped, as the location's keys are.
            raise PlanError(
                f"plan file does not match the plan schema: {exc.error_count()} error(s): "
                f"{_location(first['loc'], data)}: {escaped(first['msg'])}",
                hint="re-create the plan with `reconciler plan --out FILE`",
            ) from exc
        # The checksum covers what the file says (to_json writes exactly what compute_checksum
        # hashes), so the parsed JSON is hashed instead of a second dump of the model.
        if plan.checksum != json_digest({k: v for k, v in data.items() if k != "checksum"}):
            raise PlanError(
                "plan file checksum does not match its content (was it edited?)",
                hint="re-create the plan with `reconciler plan --out FILE`",
            )
        odd = _forged_word(plan)
        if odd is not None:
            raise PlanError(
                f"plan file {odd}, which no plan holds (was it edited?)",
                hint="re-create the plan with `reconciler plan --out FILE`",
            )
        return plan

    def stale_reasons(
        self, desired: Sequence[Desired], inventory: Inventory, state: State
    ) -> list[str]:
        """Why this plan no longer describes the world (empty list when it still does)."""
        local = self.local_stale_reasons(desired, state)
        manifests = [r for r in local if r == MANIFESTS_MOVED]
        remote = (
            self._remote_changes(inventory, state)
            if observed_digest(inventory) != self.inputs.observed_digest
            else []
        )
        return [*manifests, *remote, *(r for r in local if r != MANIFESTS_MOVED)]

    def _remote_changes(self, inventory: Inventory, state: State) -> list[str]:
        """What moved on the server since the plan was made, by task where it can be told.

        The tasks the plan saw are the state's (the state file is checked to be the plan's
        own) less those it found gone, plus the unmanaged and conflicting ones it lists.
        """
        seen = {e.schedule_id: name for name, e in state.entries.items()}
        for a in self.actions:
            match a:
                case RecreateAction():
                    seen.pop(a.old_schedule_id, None)
                case ExpiredAction():
                    seen.pop(a.schedule_id, None)
                case SkipAction():
                    if a.forget:
                        seen.pop(a.schedule_id or "", None)
                case UnmanagedAction():
                    seen[a.schedule_id] = a.name
                case ConflictAction():
                    seen.update(dict.fromkeys(a.schedule_ids, a.name))
                case (
                    CreateAction()
                    | UpdateAction()
                    | ReplaceAction()
                    | DeleteAction()
                    | RefreshAction()
                ):
                    pass  # a task the state already names, or none yet
                case _:
                    assert_never(a)
        now = inventory.schedules
        appeared = [f"{t.name!r} ({sid})" for sid, t in now.items() if sid not in seen]
        vanished = (
            [f"{name!r} ({sid})" for sid, name in seen.items() if sid not in now]
            if inventory.complete
            else []
        )
        out = []
        if appeared:
            out.append(f"remote task(s) appeared since the plan was made: {_few(appeared)}")
        if vanished:
            out.append(f"remote task(s) vanished since the plan was made: {_few(vanished)}")
        return out or ["the contents of remote schedules changed since the plan was made"]

    def local_stale_reasons(self, desired: Sequence[Desired], state: State) -> list[str]:
        """The stale reasons that need no remote read: manifests and state file moved."""
        moved = desired_digest(desired) != self.inputs.desired_digest
        return ([MANIFESTS_MOVED] if moved else []) + self.state_stale_reasons(state)

    def state_stale_reasons(self, state: State) -> list[str]:
        """Why the state file is not the one the plan was made with (empty when it is)."""
        reasons: list[str] = []
        never_saved = state.serial == 0 and self.inputs.state_serial == 0
        # A state file that does not exist yet gets a fresh random lineage on every load; two
        # never-saved states are the same empty state.
        if state.lineage != self.inputs.state_lineage and not never_saved:
            reasons.append("the state file is a different one (lineage differs)")
        elif state.serial != self.inputs.state_serial:
            reasons.append(
                f"the state file moved from serial {self.inputs.state_serial} to {state.serial}"
            )
        elif (
            self.inputs.state_digest is not None
            and not state.pending  # journal entries are resolved into bindings first
            and state_digest(state) != self.inputs.state_digest
        ):
            reasons.append(
                "the state file binds other tasks than when the plan was made, at the same "
                "serial (edited or replaced by hand)"
            )
        return reasons

    def check_state(self, state: State) -> None:
        """Raise StalePlanError when the state file moved since the plan was made."""
        _raise_stale(self.state_stale_reasons(state))

    def check_local(self, desired: Sequence[Desired], state: State) -> None:
        """Raise StalePlanError when the manifests or the state file moved (no remote read)."""
        _raise_stale(self.local_stale_reasons(desired, state))

    def check_fresh(self, desired: Sequence[Desired], inventory: Inventory, state: State) -> None:
        """Raise StalePlanError when the plan's inputs no longer match the world."""
        _raise_stale(self.stale_reasons(desired, inventory, state))

    # -- a saved plan is data, not a signed order (reconciler.planning.writes) --------------
    def check_writes(
        self,
        state: State,
        desired: Sequence[Desired] | None,
        remote: Iterable[tuple[str, str]],
        *,
        now: datetime | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        """Raise PlanError, before any write, when any write of this plan is one the state file
        and the manifests do not back (:func:`reconciler.planning.writes.write_problems`)."""
        writes.check_writes(self, state, desired, remote, now=now, tz=tz)

    def needs_fresh_plan(self) -> bool:
        """Whether only a plan made afresh from a full read can vouch for this one: it holds a
        kind of action the planner chooses from the tasks' contents or their absence (a
        replace, a recreate, an expiry, a forgetting skip, a refresh) or a rename. A file
        edited into one of those (an update turned into a replace of a disabled manifest, a
        skip of an already-sent push turned into a recreate) passes every check of its
        targets and bodies."""
        return bool(self.renames) or any(
            isinstance(a, ReplaceAction | RecreateAction | ExpiredAction | RefreshAction)
            or (isinstance(a, SkipAction) and a.forget)
            for a in self.actions
        )

    def check_same_actions(self, fresh: Plan) -> None:
        """Raise PlanError unless this saved plan changes exactly what ``fresh`` (made from the
        same inputs now) changes: the same kinds of action on the same names, targets and
        bodies, and the same renames. Its digests matching says the inputs are the same; this
        says the actions are the ones those inputs give, not ones written into the file."""
        mine, theirs = _changes(self), _changes(fresh)
        if mine == theirs and self.renames == fresh.renames:
            return
        extra = sorted(f"{k} {n!r}" for k, n, *_ in mine - theirs)
        missing = sorted(f"{k} {n!r}" for k, n, *_ in theirs - mine)
        said = []
        if extra:
            said.append(f"it has {_few(extra)}, which the inputs do not give")
        if missing:
            said.append(f"the inputs give {_few(missing)}, which it does not have")
        if self.renames != fresh.renames:
            said.append("its renames are not the ones the manifests declare")
        raise PlanError(
            "the saved plan's actions are not the ones its inputs give now: " + "; ".join(said),
            hint="it was edited, or the time moved it (a trigger ended, a firing came near); "
            "make a new plan with `reconciler plan --out FILE` and review it",
        )

    def recheck_violations(
        self,
        state: State,
        desired: Sequence[Desired],
        *,
        complete: bool,
        active_now: int,
        now: datetime,
    ) -> list[str]:
        """The safety rules applied afresh to this plan's own actions
        (:func:`reconciler.planning.writes.recheck_violations`)."""
        return writes.recheck_violations(
            self, state, desired, complete=complete, active_now=active_now, now=now
        )


class _NotJSONNumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a plan file (``word``)."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


def _no_constant(word: str) -> Any:
    raise _NotJSONNumber(word)


def _once(pairs: list[tuple[str, Any]], repeated: list[str]) -> dict[str, Any]:
    """A JSON object of the plan file as a dict; its keys written twice go to ``repeated``."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                repeated.append(key)
            seen.add(key)
    return out


def _location(loc: tuple[int | str, ...], data: object) -> str:
    """Where in the plan file an error is, as a path such as ``actions[2].fires_at``.

    pydantic puts the tag of the action union (its ``kind``) into the location; it is not a key
    of the file, so it is left out. Keys are shown escaped (``repr``): they come from the file.
    """
    out = ""
    node = data
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            continue
        if isinstance(node, dict) and step not in node and node.get("kind") == step:
            continue  # the union's tag
        shown = step if step.isidentifier() else repr(step)
        out += f".{shown}" if out else shown
        node = node.get(step) if isinstance(node, dict) else None
    return out or "(the whole file)"


def _changes(plan: Plan) -> set[tuple[str, str, str | None, str | None]]:
    """What a plan changes: kind, name, target id and body fingerprint of each change."""
    return {
        (a.kind, a.name, target_id(a), getattr(a, "fingerprint", None))
        for a in plan.actions
        if is_change(a)
    }


def _few(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(sorted(items)[:limit]) + more


def _raise_stale(reasons: list[str]) -> None:
    if reasons:
        raise StalePlanError(
            "the saved plan is stale: " + "; ".join(reasons),
            hint="run `reconciler plan` again and review the new plan",
        )


# What a field path never holds raw: a control character, or one of those that show nothing
# which ``printable.json_string`` writes as an escape in an odd key.
_RAW_IN_PATH = re.compile(f"{CONTROL.pattern}|{UNSEEN.pattern}")


def _forged_word(plan: Plan) -> str | None:
    """Where ``plan`` holds a name, a field path or a policy exception's rule, schedule or path
    with a control character (a name or a rule, also a character that shows nothing; a path,
    one of those a path writes as an escape), or an id that is not a schedule id
    (``responses.SAFE_ID``), or None. The planner makes none: names come from manifests, the
    state (both refused with one) and the server (spelled out, ``responses.harmless``), paths'
    odd keys are JSON strings with what a reader could miss escaped, rules are policies' names,
    ids come from the server (refused unless safe). Such a file was written by hand, and its
    words would be printed: raw, a zero-width space made a name read as another."""
    for n, a in enumerate(plan.actions):
        if SPELLED_IN_WORDS.search(a.name):
            return f"names a schedule with a control or unseen character in actions[{n}]"
        # The planner writes a field's path with its odd keys as JSON strings (diff.format_path).
        if any(_RAW_IN_PATH.search(c.path) for c in getattr(a, "changes", ())):
            return f"holds a field path with a control or unseen character in actions[{n}]"
        ids = [target_id(a), getattr(a, "stale_schedule_id", None)]
        if isinstance(a, ConflictAction):
            ids += a.schedule_ids
            # A server's names, spelled out when read (``responses.harmless``), of listed ids.
            if not a.named_otherwise.keys() <= set(a.schedule_ids) or any(
                SPELLED_IN_WORDS.search(n) for n in a.named_otherwise.values()
            ):
                return f"names a task otherwise than any server could in actions[{n}]"
        if any(sid is not None and not is_safe_id(sid) for sid in ids):
            return f"holds an id that is not a schedule id in actions[{n}]"
    for n, e in enumerate(plan.policy_exceptions):
        # A rule is a policy's name and a schedule a manifest's: printed by apply. The path is
        # a file's, which may be named with anything but a control character.
        if SPELLED_IN_WORDS.search(e.rule + e.schedule) or CONTROL.search(e.path):
            return f"holds a control or unseen character in policy_exceptions[{n}]"
    names = [*plan.renames.keys(), *plan.renames.values(), *plan.twins.keys()]
    if any(SPELLED_IN_WORDS.search(name) for name in names):
        return "names a schedule with a control or unseen character in its renames or twins"
    if any(not is_safe_id(sid) for ids in plan.twins.values() for sid in ids):
        return "holds an id that is not a schedule id in its twins"
    return None
