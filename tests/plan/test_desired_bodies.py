"""Manifest bodies are made after the first request has gone, not before it.

``ManifestSet.desired`` hands the planner each manifest's body as a function
(``Desired``), and the read makes them while its first page is on its way
(``ops.observe._while_fingerprinting``). These tests hold both halves: nothing is made while
loading, every body is made (once) by the time the read returns, and the first request was
started before the first body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
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
from tests.policies.helpers import single_text

NOW = datetime(2027, 1, 1, 12, 0, 0, tzinfo=UTC)
AT = "2027-03-01 10:00:00"  # when the schedules fire


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
        (tmp_path / f"{name}.yaml").write_text(single_text(name, AT), encoding="utf-8")
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
    assert list(Desired.of_canonical("alpha", shuffled).canonical) == list(shuffled)


def test_equality_and_repr_see_the_body() -> None:
    a = Desired("alpha", body("alpha"), False, "a.yaml:1")
    assert a == Desired("alpha", lambda: body("alpha"), False, "a.yaml:1")
    assert a != Desired("alpha", body("alpha", alert="other"), False, "a.yaml:1")
    assert a != Desired("alpha", body("alpha"), True, "a.yaml:1")
    assert "alpha" in repr(a)
    assert "a.yaml:1" in repr(a)
    with pytest.raises(TypeError):
        hash(a)


def test_still_a_frozen_dataclass() -> None:
    """What callers of the Python API may do with a Desired still works."""
    d = Desired.of_canonical("alpha", lambda: body("alpha"), False, "a.yaml:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "beta"  # type: ignore[misc]
    assert dataclasses.asdict(d) == {
        "name": "alpha",
        "body": body("alpha"),
        "protected": False,
        "source": "a.yaml:1",
        "previous_names": (),
    }
    match d:
        case Desired("alpha", made, False, "a.yaml:1"):
            assert made == body("alpha")
        case _:
            pytest.fail("positional match")
    # A body given to replace() is not taken for canonical because the original's was.
    raw = dict(reversed(list(body("alpha", alert="other").items())))
    other = dataclasses.replace(d, body=raw)
    assert other.body is raw
    assert other.canonical == canonical.canonicalize(raw)
    assert other.canonical is not raw


def test_a_made_body_lets_go_of_its_manifest(tmp_path: Path) -> None:
    """The function that makes a body holds the whole manifest (positions, layers): a
    program keeping its Desired list must not keep every manifest with it."""
    (tmp_path / "alpha.yaml").write_text(single_text("alpha", AT), encoding="utf-8")
    loaded = load_manifests([tmp_path], now=NOW, tz=ZoneInfo("UTC"))
    manifest = weakref.ref(loaded.manifests[0])
    (d,) = loaded.desired()
    del loaded
    gc.collect()
    assert manifest() is not None  # the body is not made yet: it still needs the manifest
    _ = d.body
    gc.collect()
    assert manifest() is None


def test_the_read_starts_before_the_first_body_and_ends_after_the_last(
    tmp_path: Path, to_api_calls: list[str]
) -> None:
    names = [f"s{n:02d}" for n in range(25)]
    desired = _desired(tmp_path, names)
    made_when_started: list[int] = []

    async def read() -> str:
        made_when_started.append(len(to_api_calls))  # the request would be written here
        # The first page's round trip: far longer than 25 bodies take (about 2 ms), or the
        # slices would stop at the read's end and leave the rest to the plan.
        await asyncio.sleep(0.2)
        return "inventory"

    result = asyncio.run(observe._while_fingerprinting(desired, read()))
    assert result == "inventory"
    assert made_when_started == [0]
    assert sorted(to_api_calls) == names  # each made exactly once


def test_a_failed_read_is_reported_without_waiting_for_the_bodies(
    tmp_path: Path, to_api_calls: list[str]
) -> None:
    """A read refused at once (a wrong credential) stops the command at once: the bodies left
    are not made first (in a plan of 1000 they would take some 65 ms)."""
    desired = _desired(tmp_path, [f"s{n:02d}" for n in range(40)])

    async def read() -> str:
        await asyncio.sleep(0)
        raise PermissionError("401")

    with pytest.raises(PermissionError):
        asyncio.run(observe._while_fingerprinting(desired, read()))
    assert len(to_api_calls) < len(desired)
    # What was not made is made when it is needed.
    assert desired[-1].body["name"] == "s39"
