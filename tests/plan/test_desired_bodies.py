"""Manifest bodies are made after the first request has gone, not before it.

``ManifestSet.desired`` hands the planner each manifest's body as a function
(``Desired``), and the read makes them while its first page is on its way
(``ops.observe._while_fingerprinting``). These tests hold both halves: nothing is made while
loading, every body is made (once) by the time the read returns, and the first request was
started before the first body.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from reconciler.manifests.load import load_manifests
from reconciler.manifests.models import Schedule
from reconciler.ops import observe
from reconciler.planning import canonical
from reconciler.planning.inputs import Desired
from tests.plan.builders import body

NOW = datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)
MANIFEST = """\
name: {name}
enabled: true
trigger:
  single:
    time: "2027-03-01 10:00:00"
    zone_type: 1
push:
  from: push
  to: all
  body:
    platform: [ios, android]
    notification: {{alert: "hello {name}"}}
"""


@pytest.fixture
def to_api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names whose ``Schedule.to_api`` ran, in order."""
    calls: list[str] = []
    real = Schedule.to_api

    def counted(self: Schedule) -> dict[str, Any]:
        calls.append(self.name)
        return real(self)

    monkeypatch.setattr(Schedule, "to_api", counted)
    return calls


def _desired(tmp_path: Path, names: list[str]) -> list[Desired]:
    for name in names:
        (tmp_path / f"{name}.yaml").write_text(MANIFEST.format(name=name), encoding="utf-8")
    loaded = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    assert not loaded.problems, loaded.problems
    return loaded.desired()


def test_loading_makes_no_body(tmp_path: Path, to_api_calls: list[str]) -> None:
    desired = _desired(tmp_path, ["alpha", "beta"])
    assert [d.name for d in desired] == ["alpha", "beta"]
    assert to_api_calls == []


def test_a_body_is_made_once_and_is_canonical(tmp_path: Path, to_api_calls: list[str]) -> None:
    (d,) = _desired(tmp_path, ["alpha"])
    made = d.body
    assert d.body is made
    assert to_api_calls == ["alpha"]
    # The manifest's body is canonical, so ``canonical`` is the same mapping, not a copy.
    assert canonical.canonicalize(made) == made
    assert d.canonical is made
    assert d.fingerprint == canonical.fingerprint(made)
    assert to_api_calls == ["alpha"]


def test_a_given_body_is_canonicalised_unless_said_canonical() -> None:
    raw = body("alpha")
    shuffled = dict(reversed(list(raw.items())))
    d = Desired("alpha", shuffled)
    assert d.body is shuffled
    assert d.canonical == canonical.canonicalize(shuffled)
    assert list(d.canonical) == sorted(d.canonical)
    assert list(Desired("alpha", shuffled, canonical=True).canonical) == list(shuffled)


def test_equality_and_repr_see_the_body() -> None:
    a = Desired("alpha", body("alpha"), False, "a.yaml:1")
    assert a == Desired("alpha", lambda: body("alpha"), False, "a.yaml:1")
    assert a != Desired("alpha", body("alpha", alert="other"), False, "a.yaml:1")
    assert a != Desired("alpha", body("alpha"), True, "a.yaml:1")
    assert "alpha" in repr(a)
    assert "a.yaml:1" in repr(a)
    with pytest.raises(TypeError):
        hash(a)


def test_the_read_starts_before_the_first_body_and_ends_after_the_last(
    tmp_path: Path, to_api_calls: list[str]
) -> None:
    names = [f"s{n:02d}" for n in range(25)]
    desired = _desired(tmp_path, names)
    made_when_started: list[int] = []

    async def read() -> str:
        made_when_started.append(len(to_api_calls))  # the request would be written here
        await asyncio.sleep(0.01)  # the first page's round trip
        return "inventory"

    result = asyncio.run(observe._while_fingerprinting(desired, read()))
    assert result == "inventory"
    assert made_when_started == [0]
    assert sorted(to_api_calls) == names  # each made exactly once
