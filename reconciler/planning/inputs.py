"""What a plan is made from, and the digests that tell when it moved.

``Desired`` is one schedule as the manifests want it; ``PlanInputs`` records the digests of the
manifests, the remote read and the state a Plan was computed from, so that a saved plan can
tell it is stale (``Plan.check_fresh``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.planning import canonical
from reconciler.remote.observed import Inventory
from reconciler.state.schema import State

_CANONICAL = "_canonical_given"  # Desired.of_canonical's mark, in the instance's __dict__


class _Body:
    """``Desired.body``: a mapping, or a function that makes it, called on first use.

    A data descriptor, so ``Desired`` stays a frozen dataclass (``replace``, ``asdict``,
    ``match``) while its body is made late; the function is dropped once it has run (it holds
    the whole manifest: its positions and layers)."""

    def __get__(self, instance: Desired | None, owner: type) -> dict[str, Any]:
        if instance is None:
            raise AttributeError("body")  # the dataclass's field has no default
        value = instance.__dict__["_body"]
        if callable(value):
            value = value()
            instance.__dict__["_body"] = value
        return value  # type: ignore[no-any-return]

    def __set__(
        self, instance: Desired, value: dict[str, Any] | Callable[[], dict[str, Any]]
    ) -> None:
        instance.__dict__["_body"] = value  # only from __init__: the dataclass is frozen


@dataclass(frozen=True)
class Desired:
    """One schedule as the manifests want it. ``body`` is the API dict (Manifest.body).

    ``body`` may be given as a function that makes it: the manifests' bodies are made on first
    use, which the read arranges for while its first page is on its way (``ops.observe``), not
    before the first request. ``of_canonical`` marks a body that is canonical already (a
    manifest's): ``canonical`` is then the body itself, not a second canonicalisation.
    """

    name: str
    body: _Body = _Body()
    protected: bool = False
    source: str = ""  # "path:line" of the manifest, for messages
    previous_names: tuple[str, ...] = ()  # lifecycle.previous_names: a declared rename

    @classmethod
    def of_canonical(
        cls,
        name: str,
        body: dict[str, Any] | Callable[[], dict[str, Any]],
        protected: bool = False,
        source: str = "",
        previous_names: tuple[str, ...] = (),
    ) -> Desired:
        """A ``Desired`` whose body is canonical already (``canonicalize`` would not change it).

        The mark is no field: ``replace(d, body=...)`` must not carry it to a body it never
        saw, and ``asdict`` and ``fields`` show the five fields they always did."""
        made = cls(name, body, protected, source, previous_names)
        made.__dict__[_CANONICAL] = True
        return made

    @cached_property
    def canonical(self) -> dict[str, Any]:
        """``canonical.canonicalize(body)``, computed once: the body every write sends."""
        if self.__dict__.get(_CANONICAL, False):
            return self.body
        return canonical.canonicalize(self.body)

    @cached_property
    def fingerprint(self) -> str:
        """``canonical.fingerprint(body)``, computed once (digest, in-sync check, new bodies)."""
        return canonical.fingerprint_of_canonical(self.canonical)


class PlanInputs(BaseModel):
    """Digests of what the plan was computed from (a saved plan is stale when they move)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    desired_digest: str
    observed_digest: str
    state_lineage: str
    state_serial: int
    inventory_complete: bool
    # The list alone (ids, names, enabled): what `apply PLAN_FILE` re-reads to check the plan
    # is fresh without every detail. None in plan files made before it existed.
    listed_digest: str | None = None
    # The state's bindings (name, task, fingerprint, protection): a state file edited or
    # replaced at the same lineage and serial is not the one the plan was made with. None in
    # plan files made before it existed.
    state_digest: str | None = None


def json_digest(payload: Any) -> str:
    """``sha256:<hex>`` of the sorted, compact JSON of ``payload`` (digests and checksums)."""
    # The same bytes a body fingerprint hashes: one serialisation for every digest.
    return canonical.fingerprint_of_canonical(payload)


def desired_digest(desired: Sequence[Desired]) -> str:
    """Digest of the desired set: names, body fingerprints and protections (not file paths)."""
    # A declared rename is part of what the plan was made from; rows without one keep the
    # digest of plan files made before renames existed.
    rows: list[list[Any]] = []
    for d in sorted(desired, key=lambda d: d.name):
        row: list[Any] = [d.name, d.fingerprint, d.protected]
        if d.previous_names:
            row.append(list(d.previous_names))
        rows.append(row)
    return json_digest(rows)


def observed_digest(inventory: Inventory) -> str:
    """Digest of the remote observation: ids and body fingerprints, completeness, confirmed-gone."""
    rows = sorted((s.schedule_id, s.fingerprint) for s in inventory.schedules.values())
    return json_digest(
        {
            "schedules": [list(r) for r in rows],
            "complete": inventory.complete,
            "gone": sorted(inventory.gone),
        }
    )


def listed_digest(rows: Iterable[tuple[str, str, bool]], complete: bool) -> str:
    """Digest of the list view of the remote side: (id, name, enabled) rows and completeness.

    Computed from an Inventory when planning and from a bare list read (listing.read_list)
    when a saved plan is applied: equal digests mean no task appeared, vanished, was renamed or
    switched on or off in between.
    """
    return json_digest({"rows": sorted(list(r) for r in rows), "complete": complete})


def state_digest(state: State) -> str:
    """Digest of the state's bindings: each name's task, fingerprint and protection (not the
    journal, which ``apply`` resolves before it plans, nor the timestamps)."""
    return json_digest(
        [[n, e.schedule_id, e.fingerprint, e.protected] for n, e in sorted(state.entries.items())]
    )


def inventory_rows(inventory: Inventory) -> list[tuple[str, str, bool]]:
    """The (id, name, enabled) rows of an Inventory, for :func:`listed_digest`."""
    return [(s.schedule_id, s.name, s.enabled) for s in inventory.schedules.values()]


def inputs_of(desired: Sequence[Desired], inventory: Inventory, state: State) -> PlanInputs:
    """The digests of what a plan is computed from: manifests, the remote read, the state."""
    return PlanInputs(
        desired_digest=desired_digest(desired),
        observed_digest=observed_digest(inventory),
        state_lineage=state.lineage,
        state_serial=state.serial,
        inventory_complete=inventory.complete,
        listed_digest=listed_digest(inventory_rows(inventory), inventory.complete),
        state_digest=state_digest(state),
    )
