"""pydantic models of a schedule manifest, enforcing every rule of docs/api.md sections 2 and 5.

A manifest is the API's schedule object (name, enabled, trigger, push) plus the
reconciler-only ``lifecycle`` block. The trigger's models (and the time rules, relative to a
validation context) live in ``reconciler/manifests/trigger.py``, the push object's in
``reconciler/manifests/push.py``; this module holds the schedule itself and its name rules.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictStr, field_validator, model_validator

from reconciler.limits import NAME_MAX_BYTES
from reconciler.manifests.base import StrictModel, fail
from reconciler.manifests.push import Push
from reconciler.manifests.trigger import Trigger
from reconciler.planning.canonical import RENAME_ADVICE, TriggerKind, canonicalize

# Name charset (docs/api.md 2, "Decision (name charset)"): ASCII letters, digits, "_" and Chinese
# characters; spaces and hyphens only with a warning.
_NAME_CHARS = r"A-Za-z0-9_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_NAME_CHAR = re.compile(f"[{_NAME_CHARS}]")
# A whole name of allowed characters, spaces and hyphens in one match: the usual case, which
# needs no look at each character (1000 names: 5.5 ms to under 1).
_NAME_ALLOWED = re.compile(f"[ \\-{_NAME_CHARS}]*")


class Lifecycle(StrictModel):
    """Reconciler-only settings; never sent to the API."""

    prevent_destroy: StrictBool = Field(
        default=False,
        description="refuse to delete or replace this schedule (remembered after removal)",
    )
    previous_names: list[StrictStr] = Field(
        default_factory=list,
        description="names this schedule had before: the plan renames its task (one PUT) "
        "instead of deleting it and creating a new one",
    )

    @field_validator("previous_names")
    @classmethod
    def _previous_names(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            fail("lists a name twice")
        if any(not name for name in value):
            fail("must not hold an empty name")
        return value


class Schedule(StrictModel):
    """A schedule manifest: the API's schedule object plus the optional ``lifecycle`` block."""

    model_config = ConfigDict(title="EngageLab schedule manifest")

    name: Annotated[
        str,
        Field(
            description=f"unique key of the schedule; at most {NAME_MAX_BYTES} UTF-8 bytes of "
            "letters, digits, _ and Chinese characters (spaces and hyphens: warning)",
        ),
    ]
    enabled: StrictBool = Field(description="false: keep the manifest but do not create it")
    trigger: Trigger
    push: Push
    lifecycle: Lifecycle | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_error(value)
        if problem is not None:
            fail(problem)
        return value

    @property
    def kind(self) -> TriggerKind:
        kind = self.trigger.kind_or_none()
        assert kind is not None  # guaranteed by Trigger's validator
        return kind

    @property
    def protected(self) -> bool:
        return self.lifecycle is not None and self.lifecycle.prevent_destroy

    @property
    def previous_names(self) -> tuple[str, ...]:
        return tuple(self.lifecycle.previous_names) if self.lifecycle is not None else ()

    @model_validator(mode="after")
    def _not_its_own_previous_name(self) -> Schedule:
        if self.name in self.previous_names:
            fail("lifecycle.previous_names lists the schedule's own name")
        return self

    def to_api(self) -> dict[str, Any]:
        """The canonical API body (no ``lifecycle``); byte-stable for the same input."""
        raw = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"lifecycle"})
        return canonicalize(raw)


def name_error(value: str) -> str | None:
    """Why ``value`` cannot be a schedule name, or None (also used by ``state mv``)."""
    if not value:
        return "must not be empty"
    size = len(value.encode("utf-8"))
    if size > NAME_MAX_BYTES:
        return f"is {size} bytes in UTF-8; the API allows at most {NAME_MAX_BYTES} (docs/api.md 2)"
    if _NAME_ALLOWED.fullmatch(value):
        bad = []
    else:
        bad = sorted({c for c in value if c not in " -" and not _NAME_CHAR.fullmatch(c)})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (
            f"{value!r} contains {shown}; names may hold letters, digits, _ and Chinese "
            "characters (docs/api.md 2)"
        )
    if all(c in " -" for c in value):
        return (
            f"{value!r} has only spaces and hyphens; a name needs at least one letter, "
            "digit, _ or Chinese character"
        )
    return None


def name_warning(name: str) -> str | None:
    """The warning for a name the API accepts but does not document (docs/api.md 2, Decision)."""
    found = [what for what, char in (("spaces", " "), ("hyphens", "-")) if char in name]
    if not found:
        return None
    return (
        f"{name!r} contains {' and '.join(found)}: the API accepts them, but documents only "
        # Followed by renaming an applied schedule, the advice deleted and recreated its task.
        f"letters, digits, _ and Chinese characters; prefer _{RENAME_ADVICE} (an error under "
        "--strict)"
    )


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of a manifest, for editors (``reconciler schema``)."""
    schema = Schedule.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
