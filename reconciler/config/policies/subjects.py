"""What the policy checks read and what they report: a schedule as the rules see it (a
manifest, or a live task for ``drift``) and one violation, located at the field that breaks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Problem

PathKey = tuple[str | int, ...]
Position = tuple[int, int, int, int]
SHOWN = 3  # firing days / schedules named in one message before "and N more"


@dataclass(frozen=True)
class Subject:
    """One manifest as the rules see it: its name, API body and where it was written."""

    name: str
    body: Mapping[str, Any]
    path: str
    line: int
    col: int
    positions: Mapping[PathKey, Position] = field(default_factory=dict)
    previous_names: tuple[str, ...] = ()  # lifecycle.previous_names: a rename is not new
    # The file, line and column a field's value came from, through the manifest's layers (a
    # time an overlay's shift: moved, a value a base gave); None: ``positions`` of ``path``.
    locator: Callable[[PathKey], tuple[str, int, int]] | None = None

    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def locate(self, key: PathKey) -> tuple[int, int]:
        """The value of ``key`` if written, else the nearest enclosing key, else the document."""
        if key in self.positions:
            _, _, line, col = self.positions[key]
            return line, col
        probe = key[:-1]
        while probe:
            if probe in self.positions:
                line, col, _, _ = self.positions[probe]
                return line, col
            probe = probe[:-1]
        return self.line, self.col


@dataclass(frozen=True)
class Violation:
    """One broken rule, where it was broken."""

    rule: str
    severity: str
    name: str
    path: str
    line: int
    col: int
    message: str

    def problem(self, severity: str | None = None) -> Problem:
        return Problem(
            self.path,
            self.line,
            self.col,
            f"policy {self.rule}: {self.message}",
            severity or self.severity,
        )

    def __str__(self) -> str:
        return str(self.problem())

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "schedule": self.name,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
        }


@dataclass(frozen=True)
class LiveSubject(Subject):
    """A managed task as the server holds it: located by its id (``path``), not by a line."""

    def where(self) -> str:
        return self.path


def violation(rule: str, level: str, subject: Subject, key: PathKey, message: str) -> Violation:
    """A violation of ``rule`` by ``subject``, located at ``key`` (see ``Subject.locate``)."""
    if subject.locator is not None:
        path, line, col = subject.locator(key)
        return Violation(rule, level, subject.name, path, line, col, message)
    line, col = subject.locate(key)
    return Violation(rule, level, subject.name, subject.path, line, col, message)


def subjects_of(manifests: Iterable[Any]) -> list[Subject]:
    """``Subject`` of each loaded ``reconciler.manifests.load.Manifest``."""
    out: list[Subject] = []
    for m in manifests:
        out.append(
            Subject(
                m.name,
                _body_of(m),
                m.path,
                m.line,
                m.col,
                # Not ``or``: the reader computes positions on demand; len() computes them all.
                m.positions if m.positions is not None else {},
                tuple(m.previous_names),
                m.stack.locate if m.stack is not None else None,
            )
        )
    return out


def _body_of(manifest: Any) -> Mapping[str, Any]:
    """The manifest's API body as the model dumps it: the fields the manifest (with its
    defaults, bases and overlay) sets. Always this form, in every command, so that a rule's
    verdict on a manifest is the same in ``validate``, ``plan``, ``apply`` and ``drift``: the
    canonical body (``Manifest.body``) adds what the API is sent anyway (a daily trigger's empty
    ``point``), which ``required_fields`` would count as set. The rules read every spelling
    alike (``timing`` accepts any spelling of points and units; a null is a missing field)."""
    body: dict[str, Any] = manifest.schedule.model_dump(
        mode="json", by_alias=True, exclude_unset=True, exclude={"lifecycle"}
    )
    return body
