"""What `gitops.py` prints into the job's log and the step summary from the state branch: a
state file and a marker there are written by whoever can push to that branch, and every word of
them is shown spelled out, one annotation per line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GITOPS = ROOT / ".github" / "scripts" / "gitops.py"
FORGED = "x\n::error title=forged::lineage ##[warning]legacy\x1b]0;t\x07"


def _state_check(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`state-check` of a state branch whose state the last apply did not upload: its lineage
    forged, and names that are Markdown, hold a zero-width space or a "|"."""
    base = {"version": 1, "lineage": "11111111-1111-1111-1111-111111111111", "serial": 3}
    base["entries"] = {"mine": {"schedule_id": "abc"}}
    committed = dict(base, lineage=FORGED)
    committed["entries"] = {
        "mine": {"schedule_id": "abc"},
        "evil` ![x](https://e.example/p.png) @octocat [c](https://e.example) `": {
            "schedule_id": "z|z"
        },
        "mine\u200b": {"schedule_id": "abc2"},
    }
    (tmp_path / "branch" / ".reconciler").mkdir(parents=True)
    (tmp_path / "last").mkdir()
    (tmp_path / "branch" / ".reconciler" / "state.json").write_text(json.dumps(committed))
    (tmp_path / "last" / "state.json").write_text(json.dumps(base))
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RECONCILER_"))}
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            sys.executable,
            str(GITOPS),
            "state-check",
            "--env",
            "prod",
            "--state-file",
            ".reconciler/state.json",
            "--branch-dir",
            str(tmp_path / "branch"),
            "--branch",
            "reconciler-state",
            "--last-dir",
            str(tmp_path / "last"),
            "--last-run",
            "42",
            "--note",
            str(tmp_path / "note.md"),
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    return done, summary.read_text(encoding="utf-8") if summary.exists() else ""


@pytest.mark.parametrize(
    "extra",
    [
        ("--mode", "report"),
        ("--mode", "enforce"),
        ("--accept", "prod", "--accepted-out", "accepted.json"),
    ],
    ids=["report", "enforce", "accept"],
)
def test_a_forged_lineage_is_one_annotation_spelled_out(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """The warning that the state branch's state differs quoted its lineage raw (report mode
    and the accepting run; only the refusal escaped it): a line break started another workflow
    command, "##[" was one anywhere, ESC set the terminal's title."""
    done, _ = _state_check(tmp_path, *extra)
    out = done.stdout + done.stderr
    assert "lineage" in out, out
    lines = out.splitlines()
    assert [line for line in lines if line.lstrip().startswith("::")] == [
        line for line in lines if line.startswith(("::warning::", "::error::"))
    ]
    assert not [line for line in lines if "title=forged" in line and not line.startswith("::")]
    assert "##[" not in out
    assert "\x1b" not in out


def test_the_bindings_the_approver_reads_are_code_spans_that_hold(tmp_path: Path) -> None:
    """The step summary's table of what accepting a state binds wrote each name in a code span
    of one backtick: a name with a backtick closed it and wrote an image, a link and a mention;
    "mine" with a zero-width space read as "mine"; a "|" split the row."""
    done, summary = _state_check(tmp_path, "--accept", "prod", "--accepted-out", "acc.json")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == 2, summary
    assert (
        "| `` evil` ![x](https://e.example/p.png) @octocat [c](https://e.example) ` `` |" in summary
    )
    assert "| `z\\|z` |" in summary
    assert "`mine\\u200b`" in summary
    assert "\u200b" not in summary
