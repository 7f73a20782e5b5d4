"""Probe: ``export --dir`` pointing where no directory can be made or written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.e2e.helpers import Project
from tests.kit.bodies import body


@pytest.mark.parametrize(
    "where",
    ["notes.txt/exported", "/dev/null/exported", "/proc/exported"],
    ids=["under-a-file", "under-a-device", "read-only-file-system"],
)
def test_an_unusable_export_directory_is_a_clear_error_before_any_request(
    project: Project, where: str
) -> None:
    """Promise: bad input exits non-zero with a clear message, no traceback, no API call.

    ``export --dir`` under a regular file, under a device or on a read-only file system: the
    whole app is read first, then ``mkdir`` / ``mkstemp`` raise NotADirectoryError,
    FileNotFoundError or PermissionError, which escape as a traceback. Other outputs
    (``plan --out``, ``calendar --out``) are checked before the first request.
    """
    project.write("mine")
    (project.root / "notes.txt").write_text("not a directory\n", encoding="utf-8")
    project.out_of_band_create(body("theirs"))
    project.emulator.clear_log()

    result = CliRunner().invoke(cli, project.args("export", "--dir", where))

    assert not isinstance(result.exception, OSError), repr(result.exception)
    assert result.exit_code == 1
    assert "error:" in result.output
    requests = [(r.method, r.path) for r in project.emulator.request_log]
    assert requests == [], f"requests before the refusal: {requests}"
