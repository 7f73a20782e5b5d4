"""A minimal local runner for our GitHub Actions workflows, for the rehearsal test.

It reads a workflow file with ruamel.yaml and runs its jobs the way GitHub would, in ``needs``
order, one job instance per matrix entry (the instances of a matrix in lockstep, one step of
each in turn, as the parallel jobs they are), each in a fresh checkout of a local bare remote:
``if:`` conditions (with the implicit ``success()``), ``env:`` at workflow, job and step level,
``defaults.run.shell``, ``$GITHUB_OUTPUT`` / ``$GITHUB_STEP_SUMMARY``, step outputs and
outcomes, job outputs and ``fromJSON`` matrices are all evaluated from the YAML (see
``expressions.py``). The ``run:`` scripts are executed verbatim with bash.

What GitHub decides around the steps is modelled too, because the attacks on a GitOps set-up
go through it:

- the event: ``pull_request`` runs the pull request's own workflow files at its head commit
  (secrets only for same-repository pull requests), ``pull_request_target`` runs the default
  branch's files with ``github.ref`` on the base branch and the base tip checked out by default
  (secrets even for forks); ``Runner.trigger`` picks the workflows an event starts, read from the
  remote at that commit, a pull request's event only for the activity types (``action``) a
  workflow's ``types:`` lists (``opened``, ``synchronize``, ``reopened`` when it lists none);
- GitHub environments (``Runner.environments``): their secrets join the repository's for a job
  that names the environment; ``branches`` limits which ``github.ref_name`` may use one, and
  ``reviewers`` calls ``Runner.approver`` before the job starts, with what the approver can see
  then (the summaries and artifacts of the run so far), recorded in ``Runner.approvals``;
- the job token: one per job, its ``permissions:`` recorded in the file ``$HARNESS_TOKENS``;
  ``actions/checkout`` writes it into ``.git/config`` (as the real action's ``extraheader``)
  unless ``persist-credentials: false``; the remote's pre-receive hook (``install_hook``)
  accepts a push only with a token in ``GH_TOKEN`` allowed ``contents: write``, and never to a
  protected branch (pull requests required) unless the pusher is a maintainer;
- composite actions (``uses: ./`` and the published reference of this project's action) run
  their steps with ``inputs``, ``github.action_path`` and their declared outputs.

Only what cannot run here is replaced, each replacement recorded on the step (``note``):

- ``actions/checkout``: a ``git clone`` of the bare remote at the ref GitHub would check out
  (``path``, ``ref``, ``fetch-depth: 0`` for the whole history);
- ``actions/setup-python``: nothing (the test's interpreter is first on ``PATH``);
- ``actions/upload-artifact`` / ``download-artifact``: files copied to and from
  ``artifacts/runs/<run id>/<name>/`` (the least common ancestor of the paths as the root, as
  the real action), each upload also listed in the fake GitHub's artifacts;
- ``actions/github-script``: the step's ``script:`` runs under Node.js against a fake GitHub
  (``github_script.js``), or is skipped with the reason when Node.js is missing;
- every ``run:`` script with ``pip install``: replaced by ``command -v reconciler``, since the
  tool under test is already on ``PATH`` (``tool_shims``) and installing into the shared
  virtual environment would be slow and unsafe.

Not modelled: ``concurrency``, ``timeout-minutes`` beyond a generous subprocess timeout.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.workflows.expressions import condition, render, to_string

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
GITHUB_SCRIPT_JS = HERE / "github_script.js"
SERVER_URL = "https://github.example"
# `uses:` of this project's published action (in a user's repository) runs this checkout's.
PROJECT_ACTION = re.compile(r"^[\w.-]+/engagelab-reconciler@")
INSTALL_STEP = re.compile(r"\bpip install\b")
STEP_TIMEOUT = 120.0


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def load_yaml(text: str) -> Any:
    """``text`` read as the workflows' YAML, a fresh copy each time. Parsed once per text: a
    rehearsal reads action.yml at every step that uses the action, and the same workflow files
    at every trigger (the pure-Python reader took about half of a rehearsal's time)."""
    return copy.deepcopy(_parsed(text))


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
    tokens: list[str] = field(default_factory=list)  # job tokens the step's process could read
    secrets: list[str] = field(default_factory=list)  # secrets (by name) in its environment


class CheckoutError(RuntimeError):
    """actions/checkout of a ref the remote does not have."""


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
    environment: str | None = None

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

    name: str  # "pull_request", "pull_request_target", "push", "schedule", "workflow_dispatch"
    ref_name: str  # the branch the run belongs to (pull_request: "<number>/merge")
    sha: str  # the commit the run's workflow files and default checkout come from
    payload: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        if self.name == "pull_request":
            return f"refs/pull/{self.ref_name}"
        return f"refs/heads/{self.ref_name}"

    @property
    def fork(self) -> bool:
        pull = self.payload.get("pull_request") or {}
        head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
        base = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
        return bool(pull) and head != base


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
    # GitHub environments: name -> {"secrets": {...}, "reviewers": bool, "branches": [...]}
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Called before a job of an environment with reviewers starts; False rejects the job.
    approver: Callable[[dict[str, Any]], bool] | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    default_branch: str = "main"
    current: WorkflowRun | None = None  # the run in progress

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def tokens_file(self) -> Path:
        return self.root / "tokens.json"

    def mint_token(self, permissions: dict[str, str]) -> str:
        """A job token with these permissions, as the remote's hook will look it up."""
        tokens = json.loads(self.tokens_file.read_text()) if self.tokens_file.exists() else {}
        token = f"ghs_job{self.run_id}x{self.counter}x{os.urandom(6).hex()}"
        tokens[token] = permissions
        self.root.mkdir(parents=True, exist_ok=True)
        self.tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
        return token

    # -- events ------------------------------------------------------------------------------

    def trigger(self, event: Event) -> list[WorkflowRun]:
        """Run every workflow ``event`` starts, from the files GitHub reads for it: the pull
        request's own head for ``pull_request``, the default branch otherwise."""
        if event.name == "pull_request":
            commit = ((event.payload.get("pull_request") or {}).get("head") or {})["sha"]
        else:
            commit = git(
                "rev-parse", f"refs/heads/{self.default_branch}", cwd=self.remote, env=self.base_env
            ).strip()
        names = git(
            "ls-tree",
            "--name-only",
            f"{commit}:.github/workflows",
            cwd=self.remote,
            env=self.base_env,
        ).split()
        runs = []
        for name in sorted(names):
            if not name.endswith((".yml", ".yaml")):
                continue
            text = git(
                "show", f"{commit}:.github/workflows/{name}", cwd=self.remote, env=self.base_env
            )
            data = load_yaml(text)
            triggers = data.get("on") or data.get(True) or {}
            if isinstance(triggers, str):
                triggers = {triggers: None}
            elif isinstance(triggers, list):
                triggers = dict.fromkeys(triggers)
            if event.name not in triggers or not _of_type(triggers[event.name], event):
                continue
            path = self.root / "workflow-files" / f"{self.run_id + 1}-{name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            runs.append(self.run_workflow(path, event, f".github/workflows/{name}"))
        return runs

    # -- workflows and jobs ------------------------------------------------------------------

    def run_workflow(self, path: Path, event: Event, workflow_path: str = "") -> WorkflowRun:
        """Run every job of the workflow at ``path`` for ``event``, like one GitHub run."""
        data = load_yaml(path.read_text(encoding="utf-8"))
        self.run_id += 1
        name = str(data.get("name") or path.stem)
        run = WorkflowRun(name, [])
        self.current = run
        self._record_run(data, event, workflow_path or f".github/workflows/{path.name}")
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
        self._record_run_conclusion(
            "failure" if any(j.result == "failure" for j in run.jobs) else "success"
        )
        return run

    # -- the runs as GitHub's API lists them (provenance of artifacts) ------------------------

    def _record_run(self, data: dict[str, Any], event: Event, workflow_path: str) -> None:
        """List the run in the fake GitHub as the API shows it (actions.getWorkflowRun): the
        workflow file, the event, the branch and repository of the head, the run name: what a
        workflow can check before it trusts an artifact of the run."""
        if self.github_db is None:
            return
        pull = event.payload.get("pull_request") or {}
        head = pull.get("head") or {}
        if event.name == "pull_request":
            head_branch = str(head.get("ref", ""))
            head_repo = str((head.get("repo") or {}).get("full_name", self.repository))
        else:
            head_branch, head_repo = event.ref_name, self.repository
        title = data.get("run-name") or data.get("name") or workflow_path
        contexts = {
            "github": self._github(str(data.get("name") or ""), event, None),
            "inputs": event.inputs,
        }
        pulls = (
            []
            if not pull or event.fork
            else [
                {
                    "number": pull.get("number"),
                    "head": {"ref": head.get("ref"), "sha": head.get("sha")},
                    "base": {"ref": (pull.get("base") or {}).get("ref")},
                }
            ]
        )
        db = load_fake_github(self.github_db)
        db.setdefault("runs", []).insert(
            0,
            {
                "id": self.run_id,
                "path": workflow_path,
                "event": event.name,
                "head_branch": head_branch,
                "head_sha": event.sha,
                "head_repository": {"full_name": head_repo},
                "repository": {"full_name": self.repository},
                "display_title": to_string(render(title, contexts)),
                "status": "in_progress",
                "conclusion": None,
                "pull_requests": pulls,
            },
        )
        self.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")

    def _record_run_conclusion(self, conclusion: str) -> None:
        if self.github_db is None:
            return
        db = load_fake_github(self.github_db)
        for entry in db.get("runs", []):
            if entry["id"] == self.run_id:
                entry.update(status="completed", conclusion=conclusion)
        self.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")

    def _github(
        self, workflow: str, event: Event, workspace: Path | None, token: str = ""
    ) -> dict[str, Any]:
        owner = self.repository.split("/")[0]
        return {
            "event_name": event.name,
            "event": event.payload,
            "ref_name": event.ref_name,
            "ref": event.ref,
            "sha": event.sha,
            "repository": self.repository,
            "repository_owner": owner,
            "workflow": workflow,
            "run_id": str(self.run_id),
            "server_url": SERVER_URL,
            "workspace": str(workspace or ""),
            "token": token,
            "action_path": "",
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
        permissions = job.get("permissions", data.get("permissions"))
        if permissions is None:
            permissions = {"contents": "read"}  # the repository setting docs/github.md asks for
        token = self.mint_token(dict(permissions or {}))
        contexts: dict[str, Any] = {
            "github": self._github(workflow, event, workspace, token),
            "needs": needs,
            "vars": self.variables,
            "inputs": event.inputs,
            "secrets": {},
            "matrix": matrix,
            "strategy": {},
            "runner": {"os": "Linux", "temp": str(temp)},
            "job": {"status": "success"},
            "steps": {},
            "env": {},
        }
        secrets = {} if event.name == "pull_request" and event.fork else dict(self.secrets)
        if job.get("environment") is not None:
            environment = render(job["environment"], contexts)
            if isinstance(environment, dict):
                environment = environment.get("name")
            name = to_string(environment)
            conf = self.environments.get(name) or {}
            run.environment = name
            branches = conf.get("branches")
            if branches is not None and event.ref_name not in branches:
                run.result = "failure"
                run.note = (
                    f"branch {event.ref_name!r} may not use environment {name!r} "
                    "(deployment branch policy)"
                )
                return
            if conf.get("reviewers"):
                seen = self._visible()
                approved = self.approver(seen) if self.approver is not None else True
                self.approvals.append(
                    {
                        "environment": name,
                        "job": run.job,
                        "matrix": matrix,
                        "approved": approved,
                        "saw": seen,
                    }
                )
                if not approved:
                    run.result = "failure"
                    run.note = f"rejected by the reviewers of {name!r}"
                    return
            if not (event.name == "pull_request" and event.fork):
                secrets.update(conf.get("secrets") or {})
        secrets["GITHUB_TOKEN"] = token
        contexts["secrets"] = secrets
        env: dict[str, str] = {}
        for level in (data.get("env") or {}, job.get("env") or {}):
            for key, value in level.items():
                contexts["env"] = dict(env)
                env[key] = to_string(render(value, contexts))
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or (
            (data.get("defaults") or {}).get("run") or {}
        ).get("shell")
        yield from self._run_steps(run, job["steps"], contexts, env, shell, event, temp)
        contexts["env"] = dict(env)
        run.outputs = {
            key: to_string(render(value, contexts))
            for key, value in (job.get("outputs") or {}).items()
        }

    def _visible(self) -> dict[str, Any]:
        """What a reviewer can see before approving: the run's finished jobs' summaries and
        its artifacts so far."""
        summaries = {}
        if self.current is not None:
            for done in self.current.jobs:
                label = f"{done.job} {json.dumps(done.matrix, sort_keys=True)}"
                summaries[label] = done.summary
        artifacts: dict[str, dict[str, str]] = {}
        folder = self.artifacts / "runs" / str(self.run_id)
        if folder.is_dir():
            for artifact in sorted(folder.iterdir()):
                artifacts[artifact.name] = {
                    f.relative_to(artifact).as_posix(): f.read_text(errors="replace")
                    for f in sorted(artifact.rglob("*"))
                    if f.is_file()
                }
        return {"summaries": summaries, "artifacts": artifacts}

    def _run_steps(
        self,
        run: JobRun,
        steps: list[dict[str, Any]],
        contexts: dict[str, Any],
        env: dict[str, str],
        shell: str | None,
        event: Event,
        temp: Path,
        prefix: str = "",
    ) -> Iterator[StepRun]:
        status = {
            "always": lambda: True,
            "cancelled": lambda: False,
            "success": lambda: run.result == "success",
            "failure": lambda: run.result == "failure",
        }
        for step in steps:
            name = prefix + step_name(step)
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
                    record = self._run_script(
                        run,
                        step,
                        name,
                        step_env,
                        step.get("shell") or shell,
                        event,
                        temp,
                        contexts["github"],
                    )
                else:
                    inputs = {
                        key: to_string(render(value, contexts))
                        for key, value in (step.get("with") or {}).items()
                    }
                    record = self._run_action(
                        run, step, name, inputs, step_env, event, temp, contexts
                    )
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

    def _composite(
        self,
        run: JobRun,
        action_dir: Path,
        name: str,
        inputs: dict[str, str],
        step_env: dict[str, str],
        event: Event,
        temp: Path,
        outer: dict[str, Any],
    ) -> StepRun:
        """A composite action's steps, run in the job's workspace like GitHub does."""
        spec = load_yaml((action_dir / "action.yml").read_text("utf-8"))
        if (spec.get("runs") or {}).get("using") != "composite":
            raise ValueError(f"{action_dir}: only composite actions are modelled")
        values = {
            key: inputs.get(key, to_string((decl or {}).get("default", "")))
            for key, decl in (spec.get("inputs") or {}).items()
        }
        unknown = set(inputs) - set(values)
        if unknown:
            raise ValueError(f"{run.workflow}/{run.job}/{name}: unknown inputs {sorted(unknown)}")
        github = dict(outer["github"], action_path=str(action_dir))
        contexts: dict[str, Any] = {
            **outer,
            "github": github,
            "inputs": values,
            "steps": {},
            "env": dict(step_env),
        }
        env = dict(step_env, GITHUB_ACTION_PATH=str(action_dir))
        result_before = run.result
        run.result = "success"
        records = list(
            self._run_steps(
                run, spec["runs"]["steps"], contexts, env, None, event, temp, prefix=f"{name} > "
            )
        )
        failed = run.result == "failure"
        run.result = "failure" if failed or result_before == "failure" else result_before
        # Steps of the action's other commands are skipped by their `if:`: left out of the log.
        run.steps = [r for r in run.steps if not (r in records and r.outcome == "skipped")]
        outputs = {
            key: to_string(render((decl or {}).get("value", ""), contexts))
            for key, decl in (spec.get("outputs") or {}).items()
        }
        ran = [r.name for r in records if r.outcome != "skipped"]
        return StepRun(
            name,
            None,
            "failure" if failed else "success",
            command=str(action_dir),
            outputs=outputs,
            note=f"composite: ran {ran}",
        )

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
                "GITHUB_REF": event.ref,
                "GITHUB_SHA": event.sha,
                "GITHUB_REPOSITORY": self.repository,
                "GITHUB_RUN_ID": str(self.run_id),
                "GITHUB_SERVER_URL": SERVER_URL,
                "GITHUB_WORKSPACE": str(run.workspace),
                "RUNNER_TEMP": str(temp),
                "RUNNER_OS": "Linux",
                "HARNESS_TOKENS": str(self.tokens_file),
            }
        )
        env.update(step_env)
        return env

    def reachable_tokens(self, run: JobRun, env: Mapping[str, str]) -> list[str]:
        """Job tokens a process of this step could read: in its environment or persisted in a
        ``.git/config`` of the workspace (what actions/checkout leaves without
        ``persist-credentials: false``)."""
        if not self.tokens_file.exists():
            return []
        tokens = list(json.loads(self.tokens_file.read_text(encoding="utf-8")))
        texts = [v for k, v in env.items() if k != "HARNESS_TOKENS"]
        texts += [p.read_text(errors="replace") for p in run.workspace.rglob(".git/config")]
        joined = "\n".join(texts)
        found = []
        for token in tokens:
            header = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            if token in joined or header in joined:
                found.append(token)
        return found

    def secrets_in(self, env: Mapping[str, str]) -> list[str]:
        """Names of the repository's and environments' secrets whose value is in ``env``."""
        known = dict(self.secrets)
        for name, conf in self.environments.items():
            for key, value in (conf.get("secrets") or {}).items():
                known[f"{name}/{key}"] = value
        values = list(env.values())
        return sorted(n for n, v in known.items() if v and any(v in text for text in values))

    def _run_script(
        self,
        run: JobRun,
        step: dict[str, Any],
        name: str,
        step_env: dict[str, str],
        shell: str | None,
        event: Event,
        temp: Path,
        github: dict[str, Any],
    ) -> StepRun:
        script = str(step["run"])
        if "${{" in script:
            raise ValueError(f"{run.workflow}/{run.job}/{name}: ${{{{ }}}} in run: (injection)")
        note = ""
        if INSTALL_STEP.search(script):
            note = "replaced: the tool under test is already installed (on PATH)"
            script = "command -v reconciler"
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
        reachable = self.reachable_tokens(run, env)
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
            command=str(step["run"]),
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            outputs=parse_output_file(files["output"].read_text(encoding="utf-8")),
            note=note,
            tokens=reachable,
            secrets=self.secrets_in(env),
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
        contexts: dict[str, Any],
    ) -> StepRun:
        uses = str(step["uses"])
        action = uses.split("@", 1)[0]
        record = StepRun(name, step.get("id"), "success", command=uses)
        if uses.startswith("./") or PROJECT_ACTION.match(uses):
            where = (run.workspace / uses).resolve() if uses.startswith("./") else PROJECT
            composite = self._composite(run, where, name, inputs, step_env, event, temp, contexts)
            composite.id = step.get("id")
            return composite
        if action == "actions/checkout":
            try:
                self._checkout(run, inputs, event, contexts["github"]["token"])
            except CheckoutError as exc:
                record.outcome, record.stderr = "failure", str(exc)
                return record
            record.note = "replaced: git clone of the local remote"
        elif action == "actions/setup-python":
            if not inputs.get("python-version"):
                raise ValueError(f"{run.workflow}/{run.job}: setup-python without a version")
            record.note = f"replaced: the test's Python stands in for {inputs['python-version']}"
        elif action == "actions/upload-artifact":
            self._upload(run, inputs, record)
        elif action == "actions/download-artifact":
            self._download(run, inputs, record)
        elif action == "actions/github-script":
            self._github_script(run, inputs, step_env, event, temp, record)
        else:
            raise ValueError(f"{run.workflow}/{run.job}: action {uses} is not modelled")
        return record

    def _checkout(self, run: JobRun, inputs: dict[str, str], event: Event, token: str) -> None:
        """What actions/checkout leaves: the ref in a clone with ``origin`` set, shallow unless
        ``fetch-depth: 0`` (then every branch too), and the job token in ``.git/config`` unless
        ``persist-credentials: false``."""
        ref = inputs.get("ref") or ""
        if not ref:
            # The event's commit: the pull request's merge commit (here its head, based on the
            # tip of the base branch), the pushed commit, or the base tip (pull_request_target).
            ref = event.sha
        target = (run.workspace / inputs.get("path", "")).resolve()
        if not target.is_relative_to(run.workspace.resolve()):
            raise ValueError(f"checkout path {inputs.get('path')} leaves the workspace")
        target.mkdir(parents=True, exist_ok=True)

        def checkout_git(*args: str) -> str:
            return git(*args, cwd=target, env=self.base_env)

        checkout_git("init", "-q")
        checkout_git("remote", "add", "origin", self.remote.as_uri())
        full = inputs.get("fetch-depth") == "0"
        depth = [] if full else ["--depth=1"]
        wanted = (
            ref
            if re.fullmatch(r"[0-9a-f]{40}", ref) or ref.startswith("refs/")
            else (f"refs/heads/{ref}")
        )
        refspecs = [wanted]
        if full:
            refspecs.append("+refs/heads/*:refs/remotes/origin/*")
        try:
            checkout_git("fetch", "-q", "--no-tags", *depth, "origin", *refspecs)
        except RuntimeError as exc:
            raise CheckoutError(f"checkout of {ref!r} failed: no such ref") from exc
        checkout_git("checkout", "-q", "--detach", "FETCH_HEAD")
        if not ref.startswith("refs/") and not re.fullmatch(r"[0-9a-f]{40}", ref):
            checkout_git("checkout", "-q", "-B", ref)
        if inputs.get("persist-credentials", "true") != "false":
            header = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            checkout_git(
                "config",
                "--local",
                f"http.{SERVER_URL}/.extraheader",
                f"AUTHORIZATION: basic {header}",
            )

    def _artifact_dir(self, run_id: int | str, name: str) -> Path:
        return self.artifacts / "runs" / str(run_id) / name

    def _upload(self, run: JobRun, inputs: dict[str, str], record: StepRun) -> None:
        found: list[Path] = []
        for line in inputs.get("path", "").splitlines():
            pattern = line.strip()
            if not pattern:
                continue
            found += [p for p in sorted(run.workspace.glob(pattern)) if p.is_file()]
        record.outputs = {"files": " ".join(p.relative_to(run.workspace).as_posix() for p in found)}
        if not found:
            if inputs.get("if-no-files-found", "warn") == "error":
                record.outcome = "failure"
            record.note = "no files found"
            return
        # The least common ancestor of the files is the artifact's root (upload-artifact v4).
        root = Path(os.path.commonpath([str(p.parent) for p in found]))
        targets = [self._artifact_dir(self.run_id, inputs["name"]), self.artifacts / inputs["name"]]
        for target in targets:
            if target.exists():
                shutil.rmtree(target)
            for source in found:
                destination = target / source.relative_to(root)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        record.note = f"replaced: copied {[p.name for p in found]} to {targets[0]}"
        if self.github_db is not None:
            db = load_fake_github(self.github_db)
            this = next((r for r in db.get("runs", []) if r["id"] == self.run_id), {})
            db.setdefault("artifacts", []).insert(
                0,
                {
                    "id": len(db.get("artifacts", [])) + 1,
                    "name": inputs["name"],
                    "workflow_run": {
                        "id": self.run_id,
                        "head_branch": this.get("head_branch"),
                        "head_sha": this.get("head_sha"),
                    },
                },
            )
            self.github_db.write_text(json.dumps(db, indent=1), encoding="utf-8")

    def _download(self, run: JobRun, inputs: dict[str, str], record: StepRun) -> None:
        source = self._artifact_dir(inputs.get("run-id") or self.run_id, inputs["name"])
        if not source.is_dir():
            record.outcome = "failure"
            record.note = f"artifact {inputs['name']} not found"
            return
        target = run.workspace / inputs.get("path", "")
        shutil.copytree(source, target, dirs_exist_ok=True)
        record.note = f"replaced: copied {source} to {target}"

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
            "ref": event.ref,
            "serverUrl": SERVER_URL,
            "runId": self.run_id,
        }
        env = self._process_env(run, step_env, event, temp)
        output = temp / f"output-{len(run.steps)}"
        output.write_text("", encoding="utf-8")
        env.update(
            GITHUB_OUTPUT=str(output),
            GITHUB_SCRIPT=inputs["script"],
            FAKE_GITHUB_DB=str(self.github_db),
            FAKE_GITHUB_CONTEXT=json.dumps(context),
            FAKE_GITHUB_REMOTE=str(self.remote),
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
        record.outputs = parse_output_file(output.read_text(encoding="utf-8"))
        record.secrets = self.secrets_in(env)
        record.note = "replaced: github-script's script run by Node.js against a fake GitHub"


# The activity types GitHub starts a pull_request(_target) workflow for when `types:` is not given.
DEFAULT_PULL_TYPES = ("opened", "synchronize", "reopened")


def _of_type(trigger: Any, event: Event) -> bool:
    """Whether ``event`` is of an activity type the trigger lists (``types:``); events of other
    kinds than pull requests have no types here."""
    if event.name not in ("pull_request", "pull_request_target"):
        return True
    types = (trigger or {}).get("types") if isinstance(trigger, dict) else None
    return event.payload.get("action") in (types or DEFAULT_PULL_TYPES)


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
    """``python`` and ``reconciler`` commands running ``python`` (the test's interpreter).

    ``reconciler`` gets the hidden ``--now`` from ``TEST_RECONCILER_NOW`` when that is set: the
    CLI itself reads no "now" from the environment (a stray variable would defeat the fire
    guard), and the workflows under test do not pass it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = '${TEST_RECONCILER_NOW:+--now "$TEST_RECONCILER_NOW"}'
    for name, command in (("python", ""), ("python3", ""), ("reconciler", f" -m reconciler {now}")):
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
