"""Request bodies as the emulator reads them: strict JSON, whatever the Content-Type, with the
bounds that keep every later step (validation, the answer, the data file) safe.

Every endpoint that takes a body reads it here first; ``fail`` builds the error with the code
that endpoint documents (28100 for schedules, 21015 for batch push).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from reconciler.emulator import wire
from reconciler.emulator.wire import WireError, invalid
from reconciler.printable import is_utf8

Fail = Callable[[str], WireError]  # builds the error for the endpoint's code


def decode_json(raw: bytes, fail: Fail = invalid, max_bytes: int = wire.MAX_BODY_BYTES) -> Any:
    """The JSON value of a request body, whatever its Content-Type (docs/api.md section 3 decision).

    ``fail`` builds the error for the endpoint (28100 for schedules, 21015 for batch push).
    Strict JSON only: ``NaN``/``Infinity``, numbers too large for a double, text that is not
    UTF-8 (lone surrogates included) and nesting deeper than ``wire.MAX_DEPTH`` are refused
    here, so nothing later (validation, the answer, the data file) can trip over them.
    """
    if len(raw) > max_bytes:
        raise fail(f"request body too long: {len(raw)} bytes, at most {max_bytes}")
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        deep = f"request data is not JSON we accept: nested more than {wire.MAX_DEPTH} levels"
        raise fail(deep) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"request data is not JSON: {exc}") from exc
    problem = _unusable(value)
    if problem is not None:
        raise fail(f"request data is not JSON we accept: {problem}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


def _unusable(value: Any) -> str | None:
    """Why a decoded body cannot be kept and echoed: too deep, or text that is not UTF-8.

    Iterative, so that no body can exhaust the interpreter's stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not is_utf8(item):
                return "a string holds a lone surrogate (\\ud800-\\udfff), which is not text"
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > wire.MAX_DEPTH:
            return f"nested more than {wire.MAX_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None
