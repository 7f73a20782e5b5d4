"""A file named through `..` out of the manifest directory is checked, not silently dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_file_named_through_dotdot_out_of_the_manifest_directory_is_checked(
    tmp_path: Path,
) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "_defaults.yaml").write_text("enabled: true\n", encoding="utf-8")
    (tmp_path / "other" / "bad.yaml").write_text("name: broken\nenabled: maybe\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "schedules/../other/bad.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "enabled: must be true or false" in done.stdout + done.stderr
