"""Declared renames: manifests whose ``lifecycle.previous_names`` hold a managed name.

Like a ``moved`` block: the state entry follows the manifest, so the plan updates the task (its
name is part of the full body) instead of deleting it and creating another. This module decides
which renames a set of manifests declares, and refuses the ones that would be ambiguous.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.errors import PlanError
from reconciler.planning.canonical import name_key
from reconciler.planning.inputs import Desired
from reconciler.state.schema import StateEntry


def declared_renames(
    by_name: Mapping[str, Desired],
    entries: Mapping[str, StateEntry],
    live_names: Mapping[str, str],
    warnings: list[str],
) -> dict[str, str]:
    """new name -> old name for each manifest whose ``previous_names`` holds a managed name.

    ``live_names``: the names of the remote tasks no state entry claims, by their name key.

    Like a ``moved`` block: the state entry follows the manifest, so the plan updates the task
    (its name is part of the full body) instead of deleting it and creating another.
    """
    renames: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for name in sorted(by_name):
        d = by_name[name]
        if not d.previous_names:
            continue
        for old in d.previous_names:
            if old in by_name:
                raise PlanError(
                    f"{name!r} ({d.source}) lists {old!r} in lifecycle.previous_names, but a "
                    f"manifest named {old!r} exists ({by_name[old].source})",
                    hint="a name belongs to one manifest: drop it from previous_names or "
                    "rename the other manifest",
                )
            if old in claimed:
                raise PlanError(
                    f"{claimed[old]!r} and {name!r} both list {old!r} in lifecycle.previous_names",
                    hint="one task can follow one manifest: keep the name in one of them",
                )
            claimed[old] = name
        managed = [old for old in d.previous_names if old in entries]
        if name in entries or not managed:
            stale = ", ".join(repr(o) for o in d.previous_names if o not in entries)
            if stale:
                warnings.append(
                    f"{name!r} ({d.source}): lifecycle.previous_names {stale} manage(s) no "
                    "task any more; the rename is done and the entry can be removed"
                )
            if name in entries and managed:
                warnings.append(
                    f"{name!r} ({d.source}): both {name!r} and its previous name(s) "
                    f"{', '.join(repr(o) for o in managed)} are managed; nothing is renamed "
                    "(the previous name's task is planned on its own)"
                )
            continue
        live = live_names.get(name_key(name))
        if live is not None:
            # A new manifest of this name would be a conflict; renaming a managed task onto it
            # would leave two live tasks of one name.
            raise PlanError(
                f"{name!r} ({d.source}) renames {managed[0]!r}, but a remote task named "
                f"{live!r} exists that this state does not manage",
                hint="adopt it (`reconciler import`), delete or rename it, or choose another "
                "name; `reconciler remote list` shows it",
            )
        if len(managed) > 1:
            raise PlanError(
                f"{name!r} ({d.source}): several previous names are managed "
                f"({', '.join(repr(o) for o in managed)}); only one task can become {name!r}",
                hint="keep the previous name whose task should continue under the new name",
            )
        renames[name] = managed[0]
    return renames
