"""Field-level differences between two schedule bodies, in one comparable form (pure).

Both sides go through :func:`normal_form` = ``canonical.canonicalize`` plus the "defaults the
server fills in" hook, so a schedule that was not changed never shows a diff just because the
server echoes it back with a default made explicit (or leaves an irrelevant field out).
Maps and lists of scalars are compared here; deepdiff pairs up the items of other lists that
differ. The differences come out as our own :class:`FieldChange` values with dotted paths
(``push.body.notification.alert``), sorted deterministically.

A missing key is shown as ``None``: canonical bodies never hold ``None`` values (canonicalize
drops them), so ``old=None`` means "added" and ``new=None`` means "removed".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.planning import canonical
from reconciler.printable import json_string

DefaultRule = Callable[[dict[str, Any]], None]
"""Mutates a canonical body in place, removing something the server may add or drop on its own."""


@dataclass(frozen=True)
class FieldChange:
    """One changed field: dotted ``path``, ``old`` value, ``new`` value (None = absent)."""

    path: str
    old: Any
    new: Any


def drop_default(path: Sequence[str], value: Any) -> DefaultRule:
    """A rule that removes the key at ``path`` when it holds the documented default ``value``."""
    keys = tuple(path)

    def rule(body: dict[str, Any]) -> None:
        node: Any = body
        for key in keys[:-1]:
            if not isinstance(node, dict) or key not in node:
                return
            node = node[key]
        if isinstance(node, dict) and keys[-1] in node and node[keys[-1]] == value:
            del node[keys[-1]]

    return rule


SERVER_DEFAULTS: tuple[DefaultRule, ...] = (
    # docs/api.md 2.2: frequency is optional, "every N units"; absent means every unit.
    drop_default(("trigger", "periodical", "frequency"), 1),
)
"""The default rules applied on both sides of every diff. Add a rule here when the server is
found to fill in (or drop) a value on its own, with a comment citing where that was seen."""


def normal_form(
    body: Mapping[str, Any], defaults: Sequence[DefaultRule] = SERVER_DEFAULTS
) -> dict[str, Any]:
    """The comparable form of a raw or canonical body: canonical, documented defaults removed."""
    out = canonical.canonicalize(body)  # a new tree: the rules may edit it in place
    for rule in defaults:
        rule(out)
    return out


def body_fingerprint(body: Mapping[str, Any]) -> str:
    """Fingerprint of :func:`normal_form`: equal for bodies that :func:`diff_bodies` calls equal."""
    # A normal form is canonical (the default rules only remove keys): no second pass.
    return canonical.fingerprint_of_canonical(normal_form(body))


def fingerprint_matches(
    fingerprint: str, body: Mapping[str, Any], *, plain: str | None = None
) -> bool:
    """Whether a recorded fingerprint describes ``body``: the one test of a recorded fingerprint.

    Apply records the plain hash (``canonical.fingerprint``) of the body it sent; a server that
    fills in a documented default (``SERVER_DEFAULTS``) answers with a body whose plain hash
    differs, but whose normal-form hash is the recorded one. ``plain``: ``body``'s plain hash
    when the caller has it already (the planner computes it once per body).
    """
    # The plain hash first: it is what apply records, and the normal form costs a second pass.
    if fingerprint == (plain if plain is not None else canonical.fingerprint(body)):
        return True
    return fingerprint == body_fingerprint(body)


_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_\-]+\Z")
_PathPart = str | int


def format_path(parts: Sequence[_PathPart]) -> str:
    """``("push", "to", "tag", 0)`` -> ``push.to.tag[0]``; odd keys quoted: ``extras["a.b"]``.

    An odd key is written as a JSON string (``json_string``): a key comes from a body, which a
    server or the console may hold, and a path is printed in a plan, a CI log and a pull
    request's comment. Raw, a key "k\\n::error::..." started a line that GitHub Actions runs as
    a workflow command, an escape sequence rewrote the terminal, and a zero-width space made two
    keys read the same."""
    out = ""
    for part in parts:
        out = extend_path(out, part)
    return out


def extend_path(path: str, part: _PathPart) -> str:
    """``format_path`` of the parts of ``path`` and then ``part`` (to build paths on a walk)."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if _SIMPLE_KEY.match(part):
        return f"{path}.{part}" if path else part
    return f"{path}[{json_string(part)}]"


def _sort_key(parts: Sequence[_PathPart]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in parts)


_ABSENT: Any = object()


def _lookup(body: Any, parts: Sequence[_PathPart]) -> Any:
    """The value at ``parts``, or ``_ABSENT``."""
    node = body
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _ABSENT
        elif not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _shown(value: Any) -> Any:
    return None if value is _ABSENT else value


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)


def _collapse(old: Any, new: Any, parts: list[_PathPart]) -> tuple[_PathPart, ...]:
    """Report a change inside a list of scalars (tags, points) as a change of the whole list."""
    for i, part in enumerate(parts):
        if isinstance(part, int):
            container = parts[:i]
            old_list, new_list = _lookup(old, container), _lookup(new, container)
            if all(x is _ABSENT or _is_scalar_list(x) for x in (old_list, new_list)):
                return tuple(container)
    return tuple(parts)


def diff_bodies(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    defaults: Sequence[DefaultRule] = SERVER_DEFAULTS,
) -> list[FieldChange]:
    """Every field that differs between ``old`` and ``new``, sorted by path; [] when equal."""
    a, b = normal_form(old, defaults), normal_form(new, defaults)
    if _strictly_equal(a, b):  # not ``==``: it takes true, 1 and 1.0 for one value
        return []
    paths: set[tuple[_PathPart, ...]] = set()
    try:
        _changed_paths(a, b, (), paths)
    except _NeedsDeepDiff:
        # Imported here: it costs 0.1 s of start-up and most plans never need it.
        from deepdiff import DeepDiff

        paths.clear()
        tree = DeepDiff(a, b, view="tree", verbose_level=2)
        for levels in tree.values():
            for level in levels:
                paths.add(_collapse(a, b, list(level.path(output_format="list"))))
    changes: list[FieldChange] = []
    for path in sorted(paths, key=_sort_key):
        old_value, new_value = _lookup(a, path), _lookup(b, path)
        if not _strictly_equal(old_value, new_value):
            changes.append(FieldChange(format_path(path), _shown(old_value), _shown(new_value)))
    if not changes:
        # DeepDiff takes false for 0 and true for 1 inside a list ([[false]] and [[0]] are
        # one value to it): the bodies differ all the same, and an empty answer would plan no
        # update for them. Said where they part, strictly.
        changes = [
            FieldChange(format_path(p), _shown(_lookup(a, p)), _shown(_lookup(b, p)))
            for p in sorted(_strictly_unequal(a, b, ()), key=_sort_key)
        ]
    return changes


def _strictly_unequal(a: Any, b: Any, path: tuple[_PathPart, ...]) -> list[tuple[_PathPart, ...]]:
    """The paths where ``a`` and ``b`` differ (``_strictly_equal``): into maps key by key and
    into lists of the same length holding objects or lists item by item; a list of scalars is
    one value (as ``_collapse`` reports it)."""
    if _strictly_equal(a, b):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            p
            for k in sorted(a.keys() | b.keys(), key=str)
            for p in (
                _strictly_unequal(a[k], b[k], (*path, k)) if k in a and k in b else [(*path, k)]
            )
        ]
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and len(a) == len(b)
        and not (_is_scalar_list(a) and _is_scalar_list(b))
    ):
        pairs = enumerate(zip(a, b, strict=True))
        return [p for n, (x, y) in pairs for p in _strictly_unequal(x, y, (*path, n))]
    return [path]


# DeepDiff's ``threshold_to_diff_deeper`` default: below this share of common keys it reports
# two maps as one changed value instead of key by key.
_DIFF_DEEPER_THRESHOLD = 0.33


class _NeedsDeepDiff(Exception):
    """A list holding objects or lists differs: only DeepDiff pairs up its items properly."""


def _changed_paths(
    a: Any, b: Any, path: tuple[_PathPart, ...], out: set[tuple[_PathPart, ...]]
) -> None:
    """The paths DeepDiff would report, collapsed as :func:`_collapse` does, without DeepDiff.

    DeepDiff costs about 2 ms per pair of bodies: 2 s for a plan updating 1000 schedules. Maps
    are compared key by key: a key on one side only, or a change of type, is reported where it
    is, and maps sharing under a third of their keys as a whole, as DeepDiff does. A list of
    scalars that differs is one change of the whole list (what ``_collapse`` makes of
    DeepDiff's item paths). Any other list that differs is left to DeepDiff, whose item
    pairing this does not imitate.
    """
    if type(a) is not type(b):
        out.add(path)
    elif isinstance(a, dict):
        keys = a.keys() | b.keys()
        if len(keys) > 1 and len(a.keys() & b.keys()) / len(keys) < _DIFF_DEEPER_THRESHOLD:
            out.add(path)  # DeepDiff: maps sharing too few keys changed as a whole
            return
        for key in keys:
            if key not in b or key not in a:
                out.add((*path, key))
            else:
                _changed_paths(a[key], b[key], (*path, key), out)
    elif isinstance(a, list):
        if _is_scalar_list(a) and _is_scalar_list(b):
            if not _strictly_equal(a, b):
                out.add(path)
        elif not _strictly_equal(a, b):
            raise _NeedsDeepDiff
    elif a != b:
        out.add(path)


def _strictly_equal(a: Any, b: Any) -> bool:
    """Equal with equal types throughout (``==`` says ``[0] == [False]``; DeepDiff does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_strictly_equal, a, b))
    return bool(a == b)


def same_body(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when the two bodies would show no diff (after canonical form and server defaults)."""
    return _strictly_equal(normal_form(old), normal_form(new))


def needs_replacement(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    """Why ``old`` cannot be updated into ``new`` in place, or None when an update can do it.

    docs/api.md 2.4: a trigger cannot change kind (single <-> periodical <-> intelligent) and
    zone_type cannot change between 1 and 2 on update; both force a replacement.
    """
    old_kind, new_kind = canonical.trigger_kind(dict(old)), canonical.trigger_kind(dict(new))
    if old_kind != new_kind:
        return f"trigger kind changes from {old_kind} to {new_kind}"
    old_zone, new_zone = canonical.zone_type(dict(old)), canonical.zone_type(dict(new))
    if old_zone != new_zone:
        return f"zone_type changes from {old_zone} to {new_zone}"
    return None
