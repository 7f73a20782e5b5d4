"""The generated part of the bad-input campaign: hypothesis draws bad manifests, state files and
server answers (``strategies.py``) and every one must end in exit 1 with a located message, no
traceback and no write call. Free-form fuzzing (any text, any bytes) must never escape either.

Sizes: ``examples(default, full)``; ``RECONCILER_CAMPAIGN=full`` runs the full campaign.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from reconciler.emulator import Emulator

from .answers import app_with
from .conftest import FULL, examples
from .helpers import (
    STATE_PATH,
    VALID_MANIFEST,
    assert_clean_failure,
    assert_no_traceback,
    assert_validate_failure,
    describe,
    invoke,
    valid_state_bytes,
    write_project,
)
from .server import TASK_ID, ScriptedServer
from .strategies import (
    BAD_MANIFESTS,
    EXTRAS_PREFIX,
    bad_detail,
    bad_page,
    bad_state,
    rich_mutation,
)
from .tally import tally


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository (``schedules/`` only); each example writes its own files."""
    write_project(tmp_path, {})
    return tmp_path


# -- manifests --------------------------------------------------------------------------------


@examples(default=70, full=800)
@given(case=BAD_MANIFESTS)
def test_generated_bad_manifest_is_refused(
    repo: Path, served: tuple[Emulator, str], case: tuple[str, bytes]
) -> None:
    """validate and apply (plan too in the full campaign) refuse every generated bad manifest,
    naming it; no API call."""
    why, content = case
    note(why)
    emulator, url = served
    emulator.clear_log()
    (repo / "schedules" / "generated.yaml").write_bytes(content)
    with _cwd(repo):
        assert_validate_failure(invoke(["validate"]), path="schedules/generated.yaml")
        for command in (
            (("plan",), ("apply", "--auto-approve")) if FULL else (("apply", "--auto-approve"),)
        ):
            outcome = invoke(["--endpoint", url, *command])
            assert_clean_failure(outcome, where="schedules/generated.yaml")
    assert emulator.request_log == []
    tally("manifest")


def test_the_generators_bases_are_valid(repo: Path) -> None:
    """Control: the bodies the generators break are valid without the break (so the
    generated cases fail for the reason they say)."""
    from .strategies import VALID_BODY, dump_yaml

    nested_ok = EXTRAS_PREFIX + b"          deep: " + b"[" * 40 + b"1" + b"]" * 40 + b"\n"
    small_alias = EXTRAS_PREFIX + b'          l0: &l0 "lol"\n          l1: [*l0, *l0, *l0]\n'
    for content in (
        dump_yaml(VALID_BODY).encode(),
        VALID_MANIFEST.encode(),
        nested_ok,
        small_alias,
    ):
        (repo / "schedules" / "generated.yaml").write_bytes(content)
        with _cwd(repo):
            outcome = invoke(["validate"])
        assert outcome.exit_code == 0, describe(outcome)


@examples(default=40, full=300)
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=300))
def test_any_text_as_a_manifest_never_escapes(repo: Path, text: str) -> None:
    """Free-form fuzz: any text as a manifest gives exit 0 or 1, never a traceback."""
    (repo / "schedules" / "fuzz.yaml").write_text(text, encoding="utf-8")
    with _cwd(repo):
        outcome = invoke(["validate"])
    assert_no_traceback(outcome)
    assert outcome.exit_code in (0, 1), describe(outcome)
    if outcome.exit_code == 1:
        tally("manifest")


@examples(default=40, full=400)
@given(case=rich_mutation())
def test_any_field_of_a_rich_manifest_set_to_anything_never_escapes(
    repo: Path, served: tuple[Emulator, str], case: tuple[str, bytes]
) -> None:
    """Any field of a rich manifest set to any value (null too) or removed: validate exits 0
    or 1, never a traceback; when it is valid, plan handles it too."""
    why, content = case
    note(why)
    _, url = served
    (repo / "schedules" / "rich.yaml").write_bytes(content)
    with _cwd(repo):
        outcome = invoke(["validate"])
        assert_no_traceback(outcome)
        assert outcome.exit_code in (0, 1), describe(outcome)
        if outcome.exit_code == 1:
            tally("manifest")
            return
        planned = invoke(["--endpoint", url, "plan"])
    assert_no_traceback(planned)
    assert planned.exit_code == 0, describe(planned)


def test_the_rich_manifest_is_valid(repo: Path) -> None:
    """Control: the rich manifest the fuzzer mutates is valid as it is."""
    from .strategies import RICH_BODY, dump_yaml

    (repo / "schedules" / "rich.yaml").write_bytes(dump_yaml(RICH_BODY).encode())
    with _cwd(repo):
        outcome = invoke(["validate"])
    assert outcome.exit_code == 0, describe(outcome)
    assert "0 warning" in outcome.stdout or "warning" not in outcome.stdout


# -- state files ------------------------------------------------------------------------------


@examples(default=60, full=400)
@given(data=st.data())
def test_generated_bad_state_is_refused(
    repo: Path, served: tuple[Emulator, str], data: st.DataObject
) -> None:
    """state list and plan refuse every generated bad state file, naming it; file unchanged."""
    emulator, url = served
    emulator.clear_log()
    why, content = data.draw(bad_state(valid_state_bytes(url)))
    note(why)
    path = repo / STATE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    (repo / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    with _cwd(repo):
        for command in (("state", "list"), ("plan",)):
            outcome = invoke(["--endpoint", url, *command])
            assert_clean_failure(outcome, where=str(STATE_PATH))
    assert path.read_bytes() == content
    assert emulator.request_log == []
    tally("state")


@examples(default=20, full=200)
@given(content=st.binary(max_size=400))
def test_any_bytes_as_a_state_file_never_escape(repo: Path, content: bytes) -> None:
    """Free-form fuzz: any bytes as the state file give exit 0 or 1, never a traceback."""
    path = repo / STATE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    with _cwd(repo):
        outcome = invoke(["state", "list"])
    assert_no_traceback(outcome)
    assert outcome.exit_code in (0, 1), describe(outcome)
    if outcome.exit_code == 1:
        tally("state")


# -- server answers ---------------------------------------------------------------------------


@examples(default=15, full=150)
@given(case=bad_page())
def test_generated_bad_list_page_stops_apply(
    repo: Path, scripted: tuple[ScriptedServer, str], case: tuple[str, object]
) -> None:
    """apply on a generated bad list page: exit 1 naming the request, no write call."""
    why, answer = case
    note(why)
    app, url = scripted
    app.reset(app_with(page=answer))  # type: ignore[arg-type]
    (repo / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    with _cwd(repo):
        outcome = invoke(["--endpoint", url, "apply", "--auto-approve"])
    assert_clean_failure(outcome, where=["GET /v4/schedules", "schedule id"])
    assert app.writes() == []
    tally("answer")


@examples(default=15, full=150)
@given(case=bad_detail())
def test_generated_bad_detail_stops_apply(
    repo: Path, scripted: tuple[ScriptedServer, str], case: tuple[str, object]
) -> None:
    """apply on a generated bad detail answer: exit 1 naming the task, no write call."""
    why, answer = case
    note(why)
    app, url = scripted
    app.reset(app_with(detail=answer))  # type: ignore[arg-type]
    (repo / "schedules" / "weekly_digest.yaml").write_text(VALID_MANIFEST, encoding="utf-8")
    with _cwd(repo):
        outcome = invoke(["--endpoint", url, "apply", "--auto-approve"])
    assert_clean_failure(outcome, where=TASK_ID)
    assert app.writes() == []
    tally("answer")
