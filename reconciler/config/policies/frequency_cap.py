"""The frequency cap: at most N firings a day to one audience, across schedules.

A firing is over the cap when N firings reaching one of its audience atoms (a tag, an alias, a
registration id, a segment; ``all`` reaches every atom) came before it that day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, tzinfo
from itertools import islice
from typing import Any

from reconciler.config.policies.occurrences import Occurrences
from reconciler.config.policies.rules import FrequencyCap
from reconciler.config.policies.subjects import SHOWN, Violation, violation

ALL = ("all", "")


def audience_atoms(to: Any) -> frozenset[tuple[str, str]]:
    """The targets a ``push.to`` reaches, as (kind, value); ``all`` is ``("all", "")``.

    Two audiences overlap when they share an atom or either is ``all``. ``tag_and`` names tags
    as ``tag`` does; ``tag_not`` only narrows an audience and reaches no one by itself.
    """
    if isinstance(to, str):
        return frozenset({ALL}) if to == "all" else frozenset()
    if not isinstance(to, Mapping):
        return frozenset()
    atoms: set[tuple[str, str]] = set()
    for key, kind in (
        ("tag", "tag"),
        ("tag_and", "tag"),
        ("alias", "alias"),
        ("registration_id", "registration_id"),
    ):
        values = to.get(key)
        if isinstance(values, list):
            atoms.update((kind, str(v)) for v in values)
    seg = to.get("seg")
    if isinstance(seg, Mapping) and seg.get("id") is not None:
        atoms.add(("segment", str(seg["id"])))
    live = to.get("live_activity_id")
    if isinstance(live, str):
        atoms.add(("live_activity_id", live))
    return frozenset(atoms)


def _walk(
    members: Sequence[int],
    atoms: Sequence[tuple[tuple[str, str], ...]],
    to_all: Sequence[bool],
    cap: int,
) -> list[tuple[int, int, int, tuple[str, str] | None]]:
    """One day's firings in time order: (schedule, position, firings before it to the same
    atom, atom) of each over the cap."""
    out: list[tuple[int, int, int, tuple[str, str] | None]] = []
    counts: dict[tuple[str, str], int] = {}
    top = 0  # the largest count of any atom so far
    top_atom: tuple[str, str] | None = None
    alls = 0
    for pos, n in enumerate(members):
        atom: tuple[str, str] | None
        if to_all[n]:
            before, atom = alls + top, top_atom
        else:
            before, atom = -1, None
            for a in atoms[n]:
                c = counts.get(a, 0)
                if c > before:
                    before, atom = c, a
            before += alls
        if before >= cap:
            out.append((n, pos, before, atom))
        if to_all[n]:
            alls += 1
        else:
            for a in atoms[n]:
                c = counts.get(a, 0) + 1
                counts[a] = c
                if c > top:
                    top, top_atom = c, a
    return out


def over_cap(occurrences: Sequence[Occurrences], rule: FrequencyCap, tz: tzinfo) -> list[Violation]:
    """Firings beyond the cap: on each day, in time order, a firing is over the cap when N
    firings reaching one of its audience atoms came before it that day (``all`` reaches every
    atom). One violation per schedule: its first such day, the firings before it there, and
    how many other days it is over the cap.

    Linear in the firings: a schedule fires at most once a day, and each day is walked once.
    """
    cap = rule.max_per_day
    atoms: list[tuple[tuple[str, str], ...]] = []
    to_all: list[bool] = []
    for occ in occurrences:
        push = occ.subject.body.get("push")
        reached = audience_atoms(push.get("to") if isinstance(push, Mapping) else None)
        to_all.append(ALL in reached)
        atoms.append(tuple(sorted(reached - {ALL})))
    order = sorted(
        range(len(occurrences)),
        key=lambda i: (occurrences[i].at, occurrences[i].subject.name),
    )
    # Schedules firing on the same days (the same trigger dates) are handled as one group,
    # and days on which the same groups fire share one merged, time-ordered list and one walk.
    rank = {n: r for r, n in enumerate(order)}
    groups: dict[tuple[int, ...], list[int]] = {}
    for n in order:
        if atoms[n] or to_all[n]:  # else it reaches no one we can name: it cannot collide
            groups.setdefault(tuple(occurrences[n].days), []).append(n)
    day_groups: dict[int, list[int]] = {}
    for g, days_of_group in enumerate(groups):
        for day in days_of_group:
            day_groups.setdefault(day, []).append(g)
    group_members = list(groups.values())
    moved = {day for occ in occurrences for day in occ.shifted}
    total: dict[int, int] = {}  # schedule -> days over the cap
    first_seen: dict[int, tuple[int, Sequence[int], int, tuple[str, str] | None]] = {}
    key_days: dict[tuple[int, ...], int] = {}  # walked list -> days it stands for
    merged: dict[tuple[int, ...], list[int]] = {}
    walked: dict[tuple[int, ...], list[tuple[int, int, int, tuple[str, str] | None]]] = {}
    for day in sorted(day_groups):  # in order: a schedule's first day over the cap comes first
        key = tuple(day_groups[day])
        members = merged.get(key)
        if members is None:
            members = [n for g in key for n in group_members[g]]
            members.sort(key=rank.__getitem__)
            merged[key] = members
        if len(members) <= cap:
            continue
        if day in moved:  # a clock change moved some wall times: this day's own order
            members = sorted(
                members, key=lambda i: (occurrences[i].at_on(day), occurrences[i].subject.name)
            )
            found = _walk(members, atoms, to_all, cap)
            for n, _, _, _ in found:
                total[n] = total.get(n, 0) + 1
        elif key in walked:
            key_days[key] += 1
            continue  # every schedule over the cap here has been seen on an earlier day
        else:
            found = walked[key] = _walk(members, atoms, to_all, cap)
            key_days[key] = 1
        for n, pos, before, atom in found:
            if n not in first_seen:
                first_seen[n] = (day, members[:pos], before, atom)
    for key, count in key_days.items():
        for n, _, _, _ in walked[key]:
            total[n] = total.get(n, 0) + count
    out: list[Violation] = []
    for n, days_over in total.items():
        occ = occurrences[n]
        first, earlier, count, atom = first_seen[n]
        # The first firings before it that reach the same atom (or everyone).
        shared = list(
            islice(
                (i for i in earlier if to_all[i] or (atom is not None and atom in atoms[i])),
                SHOWN,
            )
        )
        named = ", ".join(
            f"{occurrences[i].subject.name!r} ({occurrences[i].subject.where()}, "
            f"{occurrences[i].when(first, tz)})"
            for i in shared[:SHOWN]
        )
        if count > len(shared):
            named += f" and {count - len(shared)} more"
        audience = "everyone (all)" if atom is None else f"{atom[0]} {atom[1]!r}"
        on = f"on {date.fromordinal(first).isoformat()}" + (
            f" and {days_over - 1} more day(s)" if days_over > 1 else ""
        )
        out.append(
            violation(
                "frequency_cap",
                rule.level,
                occ.subject,
                occ.time_key,
                f"{occ.subject.name!r} at {occ.when(first, tz)} is firing {count + 1} of "
                f"the day to {audience}, after {named} ({on}); at most {cap} a day",
            )
        )
    return out
