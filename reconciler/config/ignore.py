"""Ignore rules: remote tasks that another team or tool owns, left out of plans and drift.

One job: decide, from the ``ignore:`` block of an environment in ``reconciler.yaml``, which remote
tasks the reconciler must not look at. An ignored task is never a conflict, never unmanaged,
never drift, and never makes a saved plan stale; it still counts towards the app's active-task
limit (it occupies a slot whoever owns it). A task the state file manages is never ignored: the
state is the stronger claim, and ignoring it would leave a managed task unwatched.

Pure: no I/O.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from reconciler.planning.canonical import name_key
from reconciler.printable import escaped, has_control

_T = TypeVar("_T")

# Keys of the ``ignore:`` mapping, in the order the docs list them.
IGNORE_KEYS = ("names", "ids")


@dataclass(frozen=True)
class IgnoreRules:
    """Shell-style name patterns (``adhoc_*``, case-sensitive) and exact schedule ids."""

    names: tuple[str, ...] = ()
    ids: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        # One compiled expression for all patterns: a list of 1000 tasks is checked in one pass.
        joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in self.names)
        return re.compile(joined) if joined else None

    def __bool__(self) -> bool:
        return bool(self.names or self.ids)

    def matches(self, schedule_id: str, name: str) -> bool:
        """Whether a remote task with this id and name is ignored."""
        if schedule_id in self.ids:
            return True
        return self._pattern is not None and self._pattern.match(name) is not None

    def rule_for(self, schedule_id: str, name: str) -> str | None:
        """The rule that ignores this task, as written in reconciler.yaml (for messages)."""
        if schedule_id in self.ids:
            return f"ids: {schedule_id}"
        for pattern in self.names:
            if fnmatch.fnmatchcase(name, pattern):
                return f"names: {pattern}"
        return None


NO_RULES = IgnoreRules()


def split_ignored(
    tasks: Mapping[str, _T],
    name_of: Any,
    rules: IgnoreRules,
    managed_ids: Iterable[str],
    wanted_names: Iterable[str] = (),
) -> tuple[dict[str, _T], dict[str, _T]]:
    """``(kept, ignored)`` of ``tasks`` (by schedule id).

    Always kept: managed ids (the state's claim is stronger), and tasks carrying a name the
    manifests want (``wanted_names``: manifest names and the names renames lead to). Hiding
    such a task would switch off the same-name check, and the plan would create a second task
    of that name; kept, it shows as a conflict. Names are compared as that check compares them
    (``canonical.name_key``: "promo" is kept for a manifest "promo ", which a server may store
    as "promo"). ``name_of(task)`` gives a task's name.
    """
    if not rules:
        return dict(tasks), {}
    managed = set(managed_ids)
    wanted = {name_key(n) for n in wanted_names}
    kept: dict[str, _T] = {}
    ignored: dict[str, _T] = {}
    for sid, task in tasks.items():
        name = name_of(task)
        if sid not in managed and name_key(name) not in wanted and rules.matches(sid, name):
            ignored[sid] = task
        else:
            kept[sid] = task
    return kept, ignored


def parse_rules(value: Any) -> IgnoreRules | str:
    """The rules of an ``ignore:`` value from reconciler.yaml, or the reason it is invalid."""
    if value is None:
        return NO_RULES
    if not isinstance(value, Mapping):
        return "must be a mapping with `names:` (patterns) and/or `ids:` (schedule ids)"
    unknown = [str(k) for k in value if k not in IGNORE_KEYS]
    if unknown:
        return f"unknown key(s) {', '.join(repr(k) for k in unknown)}; use `names:` and `ids:`"
    names = _strings(value.get("names"), "names")
    if isinstance(names, str):
        return names
    ids = _strings(value.get("ids"), "ids")
    if isinstance(ids, str):
        return ids
    return IgnoreRules(names=tuple(names), ids=frozenset(ids))


def _strings(value: Any, key: str) -> Sequence[str] | str:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return f"`{key}:` must be a list of non-empty strings"
    # A rule is printed as why a task is left alone (`remote list`, `import`): a line break in
    # a pull request's pattern would start a line of the CI log ("::error ..."), and neither a
    # schedule's name nor its id holds a control character.
    odd = [v for v in value if has_control(v)]
    if odd:
        return (
            f"`{key}:` the entry '{escaped(odd[0])}' holds a control character; no name or id does"
        )
    return [str(v) for v in value]
