"""A minimal local runner for our GitHub Actions workflows, for the rehearsal test.

It reads a workflow file with ruamel.yaml and runs its jobs the way GitHub would, in ``needs``
order, one job instance per matrix entry (the instances of a matrix in lockstep, one step of
each in turn, as the parallel jobs they are), each in a fresh checkout of a local bare remote:
``if:`` conditions (with the implicit ``success()``), ``env:`` at workflow, job and step level,
``defaults.run.shell``, ``$GITHUB_OUTPUT`` / ``$GITHUB_STEP_SUMMARY``, step outputs and
outcomes, job outputs and ``fromJSON`` matrices are all evaluated from the YAML (see
``expressions.py``). The ``run:`` scripts are executed verbatim with bash.

Only what cannot run here is replaced, each replacement recorded on the step (``note``):

- ``actions/checkout``: a ``git clone`` of the bare remote at the ref GitHub would check out;
- ``actions/setup-python``: nothing (the test's interpreter is first on ``PATH``);
- ``actions/upload-artifact``: the listed files are copied to ``artifacts/<name>/``, honouring
  ``if-no-files-found``;
- ``actions/github-script``: the step's ``script:`` runs under Node.js against a fake GitHub
  (``github_script.js``), or is skipped with the reason when Node.js is missing;
- the "Install reconciler" step (``pip install "$INSTALL_SPEC"``): replaced by
  ``command -v reconciler``, since the tool under test is already on ``PATH`` (``tool_shims``)
  and installing into the shared virtual environment would be slow and unsafe.

Not modelled: ``permissions``, ``concurrency``, ``environment`` protection rules,
``timeout-minutes`` beyond a generous subprocess timeout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.workflows.expressions import condition, render, to_string

HERE = Path(__file__).resolve().parent
GITHUB_SCRIPT_JS = HERE / "github_script.js"
INSTALL_STEP = re.compile(r"\bpip install\b")
STEP_TIMEOUT = 120.0


@dataclass
class StepRun:
    """One executed (or skipped) step and what it left behind."""

    name: str
    id: str | None
    outcome: str  # "success", "failure" or "skipped"
    command: str = ""  # the run: script, or the action reference
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    note: str = ""  # why the step was replaced or skipped
    seconds: float = 0.0


@dataclass
class JobRun:
    """One job instance (one matrix entry) of a workflow run."""

    workflow: str
    job: str
    matrix: dict[str, Any]
    workspace: Path
    result: str = "success"  # "success", "failure" or "skipped"
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    note: str = ""

    def step(self, name_or_id: str) -> StepRun:
        """The step with this name or id; a readable error listing the steps otherwise."""
        for step in self.steps:
            if name_or_id in (step.name, step.id):
                return step
        raise KeyError(f"no step {name_or_id!r} in {self.workflow}/{self.job}: {self.log()}")

    def log(self) -> str:
        """Everything the job printed, step by step, for assertion messages."""
        parts = [f"\n=== {self.workflow}/{self.job} {self.matrix or ''}: {self.result} {self.note}"]
        for step in self.steps:
            parts.append(
                f"--- {step.name} [{step.outcome}] rc={step.returncode} "
                f"{step.seconds:.2f}s {step.note}"
            )
            parts.extend(text.rstrip() for text in (step.stdout, step.stderr) if text.strip())
        return "\n".join(parts)


@dataclass
class WorkflowRun:
    """All job instances of one workflow run, in the order they ran."""

    workflow: str
    jobs: list[JobRun]

    def job(self, job_id: str, /, **matrix: str) -> JobRun:
        for run in self.jobs:
            if run.job == job_id and all(run.matrix.get(k) == v for k, v in matrix.items()):
                return run
        raise KeyError(f"no job {job_id!r} {matrix or ''} in {self.workflow}: {self.log()}")

    def log(self) -> str:
        return "".join(run.log() for run in self.jobs)


@dataclass
class Event:
    """What triggered a workflow run: GitHub's ``github`` context, in short."""

    name: str  # "pull_request", "push", "schedule", "workflow_dispatch"
    ref_name: str  # the branch: the pull request's head branch for pull_request
    sha: str
    payload: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)


def parse_output_file(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` lines: ``name=value`` and ``name<<DELIMITER`` ... ``DELIMITER``."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for value_line in lines:
                if value_line == delimiter:
                    break
                body.append(value_line)
            else:
                raise ValueError(f"unterminated {delimiter} in GITHUB_OUTPUT")
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        else:
            raise ValueError(f"invalid GITHUB_OUTPUT line {line!r}")
    return outputs


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run git and return its stdout; raises with git's stderr on failure."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout


@dataclass
class Runner:
    """Runs workflow files against a local remote, emulator and fake GitHub."""

    root: Path  # scratch space: job workspaces, temp files, artifacts
    remote: Path  # the bare repository jobs check out and push to
    base_env: dict[str, str]  # the runner machine's environment (PATH, HOME, test glue)
    secrets: dict[str, str]
    variables: dict[str, str]
    repository: str = "octo/schedules"
    node: str | None = None  # Node.js for github-script steps; None skips them
    github_db: Path | None = None  # the fake GitHub's data (github_script.js)
    counter: int = 0  # job instances started, for workspace names
    run_id: int = 1000  # GITHUB_RUN_ID, one per workflow run
    runs: list[WorkflowRun] = field(default_factory=list)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    # -- workflows and jobs ------------------------------------------------------------------

    def run_workflow(self, path: Path, event: Event) -> WorkflowRun:
        """Run every job of the workflow at ``path`` for ``event``, like one GitHub run."""
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        self.run_id += 1
        name = str(data.get("name") or path.stem)
        run = WorkflowRun(name, [])
        results: dict[str, dict[str, Any]] = {}
        pending = dict(data["jobs"])
        while pending:
            ready = [
                job_id
                for job_id, job in pending.items()
                if all(need in results for need in _needs(job))
            ]
            if not ready:
                raise ValueError(f"{path}: jobs {sorted(pending)} wait on each other")
            for job_id in ready:
                job = pending.pop(job_id)
                instances = self._run_job(data, name, job_id, job, event, results)
                run.jobs.extend(instances)
                failed = any(i.result == "failure" for i in instances)
                skipped = all(i.result == "skipped" for i in instances)
                outputs = instances[-1].outputs if instances else {}
                results[job_id] = {
                    "result": "failure" if failed else "skipped" if skipped else "success",
                    "outputs": outputs,
                }
        self.runs.append(run)
        return run

    def _github(self, workflow: str, event: Event, workspace: Path | None) -> dict[str, Any]:
        owner = self.repository.split("/")[0]
        return {
            "event_name": event.name,
            "event": event.payload,
            "ref_name": event.ref_name,
            "ref": f"refs/heads/{event.ref_name}",
            "sha": event.sha,
            "repository": self.repository,
            "repository_owner": owner,
            "workflow": workflow,
            "run_id": str(self.run_id),
            "server_url": "https://github.example",
            "workspace": str(workspace or ""),
            "token": self.secrets.get("GITHUB_TOKEN", ""),
        }

    def _run_job(
        self,
        data: dict[str, Any],
        workflow: str,
        job_id: str,
        job: dict[str, Any],
        event: Event,
        results: dict[str, dict[str, Any]],
    ) -> list[JobRun]:
        needs = {need: results[need] for need in _needs(job)}
        contexts: dict[str, Any] = {
            "github": self._github(workflow, event, None),
            "needs": needs,
            "vars": self.variables,
            "inputs": event.inputs,
            "env": {},
        }
        # Jobs whose needs did not all succeed are skipped unless the condition says otherwise.
        status = {
            "always": lambda: True,
            "cancelled": lambda: False,
            "success": lambda: all(n["result"] == "success" for n in needs.values()),
            "failure": lambda: any(n["result"] == "failure" for n in needs.values()),
        }
        if not condition(job.get("if"), contexts, status):
            return [JobRun(workflow, job_id, {}, Path(), result="skipped", note="if: false")]
        strategy = job.get("strategy") or {}
        entries: list[dict[str, Any]] = [{}]
        if "matrix" in strategy:
            matrix = render(strategy["matrix"], contexts)
            if set(matrix) != {"include"}:
                raise ValueError(f"{workflow}/{job_id}: only include-matrices are modelled")
            entries = list(matrix["include"])
            if not entries:
                raise ValueError(f"{workflow}/{job_id}: empty matrix (GitHub fails the run)")
        if "max-parallel" in strategy:
            limit = render(strategy["max-parallel"], contexts)
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f"{workflow}/{job_id}: max-parallel evaluates to {limit!r}")
        # Matrix jobs run in parallel on GitHub; here in lockstep, one step of each in turn, so
        # that e.g. every instance checks out before any pushes (the state-commit race).
        started = [
            self._start_instance(data, workflow, job_id, job, event, needs, entry)
            for entry in entries
        ]
        active = [steps for _, steps in started]
        while active:
            for steps in list(active):
                if next(steps, None) is None:
                    active.remove(steps)
        return [run for run, _ in started]

    def _start_instance(
        self,
        data: dict[str, Any],
        workflow: str,
        job_id: str,
        job: dict[str, Any],
        event: Event,
        needs: dict[str, Any],
        matrix: dict[str, Any],
    ) -> tuple[JobRun, Iterator[StepRun]]:
        self.counter += 1
        workspace = self.root / f"{self.counter:02d}-{workflow}-{job_id}" / "work"
        workspace.mkdir(parents=True)
        (workspace.parent / "temp").mkdir()
        run = JobRun(workflow, job_id, matrix, workspace)
        return run, self._steps(run, data, job, event, needs)

    def _steps(
        self,
        run: JobRun,
        data: dict[str, Any],
        job: dict[str, Any],
        event: Event,
        needs: dict[str, Any],
    ) -> Iterator[StepRun]:
        """Run the job's steps one at a time, yielding each step's record."""
        workflow, matrix, workspace = run.workflow, run.matrix, run.workspace
        temp = workspace.parent / "temp"
        contexts: dict[str, Any] = {
            "github": self._github(workflow, event, workspace),
            "needs": needs,
            "vars": self.variables,
            "inputs": event.inputs,
            "secrets": self.secrets,
            "matrix": matrix,
            "strategy": {},
            "runner": {"os": "Linux", "temp": str(temp)},
            "job": {"status": "success"},
            "steps": {},
            "env": {},
        }
        env: dict[str, str] = {}
        for level in (data.get("env") or {}, job.get("env") or {}):
            for key, value in level.items():
                contexts["env"] = dict(env)
                env[key] = to_string(render(value, contexts))
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or (
            (data.get("defaults") or {}).get("run") or {}
        ).get("shell")
        status = {
            "always": lambda: True,
            "cancelled": lambda: False,
            "success": lambda: run.result == "success",
            "failure": lambda: run.result == "failure",
        }
        for step in job["steps"]:
            name = step_name(step)
            step_id = step.get("id")
            contexts["env"] = dict(env)
            started = time.monotonic()
            if not condition(step.get("if"), contexts, status):
                record = StepRun(name, step_id, "skipped", note="if: false")
            else:
                step_env = dict(env)
                for key, value in (step.get("env") or {}).items():
                    contexts["env"] = dict(step_env)
                    step_env[key] = to_string(render(value, contexts))
                contexts["env"] = dict(step_env)
                if "run" in step:
                    record = self._run_script(run, step, name, step_env, shell, event, temp)
                else:
                    inputs = {
                        key: to_string(render(value, contexts))
                        for key, value in (step.get("with") or {}).items()
                    }
                    record = self._run_action(run, step, name, inputs, step_env, event, temp)
                if record.outcome == "failure" and not step.get("continue-on-error"):
                    run.result = "failure"
            record.seconds = time.monotonic() - started
            run.steps.append(record)
            yield record
            if step_id:
                contexts["steps"][step_id] = {
                    "outputs": record.outputs,
                    "outcome": record.outcome,
                    "conclusion": record.outcome,
                }
        contexts["env"] = dict(env)
        run.outputs = {
            key: to_string(render(value, contexts))
            for key, value in (job.get("outputs") or {}).items()
        }

    # -- steps -------------------------------------------------------------------------------

    def _process_env(
        self, run: JobRun, step_env: Mapping[str, str], event: Event, temp: Path
    ) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKFLOW": run.workflow,
                "GITHUB_JOB": run.job,
                "GITHUB_EVENT_NAME": event.name,
                "GITHUB_REF_NAME": event.ref_name,
                "GITHUB_REF": f"refs/heads/{event.ref_name}",
                "GITHUB_SHA": event.sha,
                "GITHUB_REPOSITORY": self.repository,
                "GITHUB_RUN_ID": str(self.run_id),
                "GITHUB_SERVER_URL": "https://github.example",
                "GITHUB_WORKSPACE": str(run.workspace),
                "RUNNER_TEMP": str(temp),
                "RUNNER_OS": "Linux",
            }
        )
        env.update(step_env)
        return env

    def _run_script(
        self,
        run: JobRun,
        step: dict[str, Any],
        name: str,
        step_env: dict[str, str],
        shell: str | None,
        event: Event,
        temp: Path,
    ) -> StepRun:
        script = str(step["run"])
        if "${{" in script:
            raise ValueError(f"{run.workflow}/{run.job}/{name}: ${{{{ }}}} in run: (injection)")
        note = ""
        if INSTALL_STEP.search(script):
            note = "replaced: the tool under test is already installed (on PATH)"
            script = "command -v reconciler"
        shell = step.get("shell") or shell
        if shell == "bash":
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
        elif shell is None:
            argv = ["bash", "-e"]
        else:
            raise ValueError(f"{run.workflow}/{run.job}/{name}: shell {shell!r} not modelled")
        files = {
            kind: temp / f"{kind}-{len(run.steps)}" for kind in ("output", "summary", "env", "path")
        }
        for file in files.values():
            file.write_text("", encoding="utf-8")
        script_file = temp / f"step-{len(run.steps)}.sh"
        script_file.write_text(script, encoding="utf-8")
        env = self._process_env(run, step_env, event, temp)
        env.update(
            GITHUB_OUTPUT=str(files["output"]),
            GITHUB_STEP_SUMMARY=str(files["summary"]),
            GITHUB_ENV=str(files["env"]),
            GITHUB_PATH=str(files["path"]),
        )
        done = subprocess.run(
            [*argv, str(script_file)],
            cwd=run.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        for kind in ("env", "path"):
            if files[kind].read_text(encoding="utf-8"):
                raise ValueError(f"{name} writes $GITHUB_{kind.upper()}: not modelled here")
        run.summary += files["summary"].read_text(encoding="utf-8")
        return StepRun(
            name,
            step.get("id"),
            "success" if done.returncode == 0 else "failure",
            command=script,
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            outputs=parse_output_file(files["output"].read_text(encoding="utf-8")),
            note=note,
        )

    def _run_action(
        self,
        run: JobRun,
        step: dict[str, Any],
        name: str,
        inputs: dict[str, str],
        step_env: dict[str, str],
        event: Event,
        temp: Path,
    ) -> StepRun:
        uses = str(step["uses"])
        action = uses.split("@", 1)[0]
        record = StepRun(name, step.get("id"), "success", command=uses)
        if action == "actions/checkout":
            self._checkout(run, inputs, event)
            record.note = "replaced: git clone of the local remote"
        elif action == "actions/setup-python":
            if not inputs.get("python-version"):
                raise ValueError(f"{run.workflow}/{run.job}: setup-python without a version")
            record.note = f"replaced: the test's Python stands in for {inputs['python-version']}"
        elif action == "actions/upload-artifact":
            self._upload(run, inputs, record)
        elif action == "actions/github-script":
            self._github_script(run, inputs, step_env, event, temp, record)
        else:
            raise ValueError(f"{run.workflow}/{run.job}: action {uses} is not modelled")
        return record

    def _checkout(self, run: JobRun, inputs: dict[str, str], event: Event) -> None:
        """What actions/checkout leaves: the ref in a shallow clone with ``origin`` set."""
        ref = inputs.get("ref") or ""
        detach = False
        if not ref:
            # GitHub checks out the event's commit: the pull request's merge commit (here its
            # head branch, based on the tip of the base branch) or the pushed commit.
            ref, detach = event.ref_name, event.name == "pull_request"

        def checkout_git(*args: str) -> str:
            return git(*args, cwd=run.workspace, env=self.base_env)

        uri = self.remote.as_uri()
        checkout_git("clone", "-q", "--depth=1", "--no-tags", "--branch", ref, uri, ".")
        if detach:
            checkout_git("checkout", "-q", "--detach")
        if not inputs.get("ref"):
            head = checkout_git("rev-parse", "HEAD").strip()
            assert head == event.sha, f"checkout of {ref} gave {head}, the event is {event.sha}"

    def _upload(self, run: JobRun, inputs: dict[str, str], record: StepRun) -> None:
        target = self.artifacts / inputs["name"]
        found = []
        for line in inputs.get("path", "").splitlines():
            pattern = line.strip()
            if not pattern:
                continue
            for source in sorted(run.workspace.glob(pattern)):
                destination = target / source.relative_to(run.workspace)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
                found.append(source.relative_to(run.workspace).as_posix())
        record.outputs = {"files": " ".join(found)}
        record.note = f"replaced: copied {found} to {target}"
        if not found and inputs.get("if-no-files-found", "warn") == "error":
            record.outcome = "failure"
            record.note = "no files found, if-no-files-found: error"

    def _github_script(
        self,
        run: JobRun,
        inputs: dict[str, str],
        step_env: dict[str, str],
        event: Event,
        temp: Path,
        record: StepRun,
    ) -> None:
        if self.node is None or self.github_db is None:
            record.outcome = "skipped"
            record.note = "skipped: Node.js is not installed, the fake GitHub cannot run"
            return
        owner, repo = self.repository.split("/")
        pull = event.payload.get("pull_request") or {}
        context = {
            "repo": {"owner": owner, "repo": repo},
            "issue": {"owner": owner, "repo": repo, "number": pull.get("number")},
            "payload": event.payload,
            "eventName": event.name,
            "sha": event.sha,
            "ref": f"refs/heads/{event.ref_name}",
            "serverUrl": "https://github.example",
            "runId": self.run_id,
        }
        env = self._process_env(run, step_env, event, temp)
        env.update(
            GITHUB_SCRIPT=inputs["script"],
            FAKE_GITHUB_DB=str(self.github_db),
            FAKE_GITHUB_CONTEXT=json.dumps(context),
        )
        done = subprocess.run(
            [self.node, str(GITHUB_SCRIPT_JS)],
            cwd=run.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        record.returncode = done.returncode
        record.stdout, record.stderr = done.stdout, done.stderr
        record.outcome = "success" if done.returncode == 0 else "failure"
        record.note = "replaced: github-script's script run by Node.js against a fake GitHub"


def step_name(step: dict[str, Any]) -> str:
    """The name GitHub shows for a step: its name, else "Run <first line>" or the action."""
    if step.get("name"):
        return str(step["name"])
    if "run" in step:
        return "Run " + (str(step["run"]).strip().splitlines() or [""])[0]
    return str(step["uses"])


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def tool_shims(directory: Path, python: str) -> Path:
    """``python`` and ``reconciler`` commands running ``python`` (the test's interpreter)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, command in (("python", ""), ("python3", ""), ("reconciler", " -m reconciler")):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec "{python}"{command} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return directory


def load_fake_github(path: Path | None) -> dict[str, Any]:
    """The fake GitHub's data (comments, issues, labels); empty when nothing was written."""
    if path is None or not path.exists():
        return {"comments": [], "issues": [], "labels": []}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def node_binary() -> str | None:
    """Node.js 18 or later on PATH, else None."""
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run(
        [node, "-e", "process.exit(+process.versions.node.split('.')[0] >= 18 ? 0 : 1)"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return node if done.returncode == 0 else None


__all__ = [
    "Event",
    "JobRun",
    "Runner",
    "StepRun",
    "WorkflowRun",
    "git",
    "load_fake_github",
    "node_binary",
    "step_name",
    "tool_shims",
]
