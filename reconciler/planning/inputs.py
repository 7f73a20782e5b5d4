"""What a plan is made from, and the digests that tell when it moved.

``Desired`` is one schedule as the manifests want it; ``PlanInputs`` records the digests of the
manifests, the remote read and the state a Plan was computed from, so that a saved plan can
tell it is stale (``Plan.check_fresh``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.planning import canonical
from reconciler.remote.observed import Inventory
from reconciler.state.schema import State


class Desired:
    """One schedule as the manifests want it. ``body`` is the API dict (Manifest.body).

    ``body`` may be given as a function that makes it: the manifests' bodies are then made on
    first use, which the read arranges for while its first page is on its way
    (``ops.observe``), not before the first request. ``canonical=True`` says the body is
    canonical already (a manifest's is), so ``canonical`` is the body itself. Never changed
    after it is made.
    """

    __hash__ = None  # type: ignore[assignment]  # the body is a dict

    def __init__(
        self,
        name: str,
        body: dict[str, Any] | Callable[[], dict[str, Any]],
        protected: bool = False,
        source: str = "",  # "path:line" of the manifest, for messages
        previous_names: tuple[str, ...] = (),  # lifecycle.previous_names: a declared rename
        *,
        canonical: bool = False,
    ) -> None:
        self.name = name
        self.protected = protected
        self.source = source
        self.previous_names = previous_names
        self._canonical_given = canonical
        self._make_body = body if callable(body) else None
        if not callable(body):
            self.__dict__["body"] = body  # what the cached property would hold

    @cached_property
    def body(self) -> dict[str, Any]:
        assert self._make_body is not None  # else __init__ set it
        return self._make_body()

    @cached_property
    def canonical(self) -> dict[str, Any]:
        """``canonical.canonicalize(body)``, computed once: the body every write sends."""
        if self._canonical_given:
            return self.body
        return canonical.canonicalize(self.body)

    @cached_property
    def fingerprint(self) -> str:
        """``canonical.fingerprint(body)``, computed once (digest, in-sync check, new bodies)."""
        return canonical.fingerprint_of_canonical(self.canonical)

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.body, self.protected, self.source, self.previous_names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Desired):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        return (
            f"Desired(name={self.name!r}, body={self.body!r}, protected={self.protected!r}, "
            f"source={self.source!r}, previous_names={self.previous_names!r})"
        )


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
    )
