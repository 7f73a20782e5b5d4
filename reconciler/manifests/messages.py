"""Turn pydantic's validation errors into manifest messages: what is wrong and how to fix it.

Each error becomes a path into the YAML document (for its position) and a sentence that names
the key, the value found and what is expected; unknown keys get a "did you mean" suggestion
from the keys the model allows there.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from reconciler.manifests.base import RULE_ERROR, describe
from reconciler.manifests.models import Schedule
from reconciler.manifests.push import UNION_TAGS
from reconciler.manifests.yamlpaths import PathKey, prefixed

_ITEM = re.compile(r"\[(\d+)\] ")


def describe_error(error: ErrorDetails, data: Any) -> tuple[PathKey, str]:
    """The YAML path an error belongs to and its message (prefixed with the dotted path)."""
    path = clean_path(error["loc"], data)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden" and path:
        parent, key = path[:-1], path[-1]
        return path, prefixed(parent, f"unknown key {key!r}{_suggestion(parent, str(key))}")
    if kind == "missing" and path:
        parent, key = path[:-1], path[-1]
        return path, prefixed(parent, f"missing required key {key!r}")
    if kind == RULE_ERROR:
        reason = str(ctx.get("reason", error["msg"]))
        item = _ITEM.match(reason)
        if item:  # a rule about one list item: point at that item
            path = (*path, int(item[1]))
            reason = reason[item.end() :]
        return path, prefixed(path, reason)
    return path, prefixed(path, _sentence(kind, ctx, value, error["msg"]))


def clean_path(loc: tuple[int | str, ...], data: Any) -> PathKey:
    """``loc`` without the union tags pydantic inserts (they are not keys of the YAML)."""
    out: list[str | int] = []
    node = data
    for step in loc:
        if _has(node, step):
            node = node[step]
        elif step in UNION_TAGS:
            continue
        else:
            node = None
        out.append(step)
    return tuple(out)


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def _sentence(kind: str, ctx: dict[str, Any], value: Any, fallback: str) -> str:
    got = describe(value)
    if (
        kind in ("literal_error", "int_type")
        and isinstance(value, str)
        and _NUMBER.fullmatch(value.strip())
    ):
        # zone_type: "1" reads as text; "got '1'" alone looks like the allowed value.
        got = f"the text {value!r} (in quotes); remove the quotes to give the number"
    if kind == "string_type":
        hint = ""
        if isinstance(value, bool):
            hint = f'; quote it: "{str(value).lower()}"'
        elif isinstance(value, int | float) and abs(value) < 10**50:
            hint = f'; quote it: "{value}"'

        return f"must be text, got {got}{hint}"
    if kind == "bool_type":
        hint = ""
        if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
            hint = " (YAML 1.2 reads yes/no/on/off as text)"
        return f"must be true or false, got {got}{hint}"
    if kind == "int_parsing_size":
        return f"is far too large a number, got {got}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"must be a whole number, got {got}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {got}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping (key: value lines), got {got}"
    if kind == "list_type":
        return f"must be a list, got {got}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {got}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    return f"{fallback}, got {got}"


_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _suggestion(parent: PathKey, key: str) -> str:
    allowed = allowed_keys(parent)
    if not allowed:
        return ""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if not close:
        close = [k for k in allowed if k.replace("-", "_") == key.replace("-", "_")]
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (allowed here: {', '.join(allowed)})"


def allowed_keys(path: PathKey) -> list[str] | None:
    """The keys a manifest may have at ``path``, or ``None`` if any key is allowed there."""
    return _allowed_keys(tuple(path))


@lru_cache(maxsize=256)
def _allowed_keys(path: PathKey) -> list[str] | None:
    annotation: Any = Schedule
    for step in path:
        annotation = _step(annotation, step)
        if annotation is None:
            return None
    for candidate in _members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return [f.alias or name for name, f in candidate.model_fields.items()]
    return None


def _members(annotation: Any) -> list[Any]:
    """The concrete types inside ``Annotated[...]`` and unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _step(annotation: Any, step: str | int) -> Any:
    for candidate in _members(annotation):
        if isinstance(step, int):
            if typing.get_origin(candidate) is list:
                return typing.get_args(candidate)[0]
        elif isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, info in candidate.model_fields.items():
                if (info.alias or name) == step:
                    return info.annotation
    return None
