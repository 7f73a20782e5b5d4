"""The base of every manifest model and the helpers their validators share.

``StrictModel`` forbids unknown keys (typo protection, docs/api.md 5) and coerces nothing: a YAML
value of the wrong type is an error, not a guess. ``fail`` raises the one error type whose
message ``manifests.py`` shows unchanged.
"""

from __future__ import annotations

from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, JsonValue
from pydantic_core import PydanticCustomError

from reconciler import redact

# Objects the vendor leaves open (docs/api.md 5): any keys, any JSON values, passed through as is.
JsonObject = dict[str, JsonValue]

RULE_ERROR = "manifest_rule"


class StrictModel(BaseModel):
    """Unknown keys are errors; no type coercion; immutable once validated."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def fail(message: str) -> NoReturn:
    """Reject the value being validated with ``message`` (what is wrong and how to fix it)."""
    # The message travels in the context so that braces in user text are never format fields.
    raise PydanticCustomError(RULE_ERROR, "{reason}", {"reason": message})


def no_bool(value: Any) -> Any:
    """YAML ``true`` is not the number 1 (pydantic's literal check would take it as 1)."""
    if isinstance(value, bool):
        fail(f"must be a number, got {describe(value)}")
    return value


def describe(value: Any) -> str:
    """A short description of a YAML value for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**50:
        return "a number with more than 50 digits"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return repr(redact.clip(value, 60))
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
