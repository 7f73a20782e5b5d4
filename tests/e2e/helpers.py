"""Helpers for the end-to-end tests: a project driver and what the emulator was sent.

A ``Project`` is a temporary repository (``schedules/`` + ``.reconciler/``) and the emulator the
CLI talks to. ``Project.run`` invokes ``reconciler`` through click's ``CliRunner`` with the
emulator's current time as the hidden ``--now``, so the planner and the server agree on the time.
``Project.writes`` lists the write calls (POST/PUT/DELETE under ``/v4/``) from the emulator's
request log: every safety test asserts it is empty after a refusal.
"""

from __future__ import annotations

import copy
import io
import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from reconciler.cli import cli
from reconciler.config import session
from reconciler.config.environments import Environment
from reconciler.config.session import Target
from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET, Emulator, RequestRecord
from reconciler.options import GlobalOptions
from tests.kit.bodies import body
from tests.kit.emulator import RecordingEmulator

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})
SECTIONS = ("name", "enabled", "trigger", "push")


# -- the emulator ------------------------------------------------------------------------------


def embedded_with(emulator: Emulator) -> Callable[..., Target]:
    """``resolve_target`` whose embedded emulator is ``emulator`` instead of a fresh one.

    The commands then take the production path of the embedded default (in-process through
    ``httpx.ASGITransport``, no sockets) while the test can read the emulator's request log.
    Install it as ``reconciler.ops.observe.resolve_target``.
    """
    real = session.resolve_target

    def resolve(
        options: GlobalOptions, env: Environment, environ: Mapping[str, str] | None = None
    ) -> Target:
        target = real(options, env, environ)
        return target if target.emulator is None else replace(target, emulator=emulator)

    return resolve


def writes(emulator: Emulator) -> list[RequestRecord]:
    """The write calls the emulator received (POST/PUT/DELETE on the vendor API)."""
    return [
        r for r in emulator.request_log if r.method in WRITE_METHODS and r.path.startswith("/v4/")
    ]


def write_summary(emulator: Emulator) -> list[tuple[str, str]]:
    """(method, path) of every write call, in order."""
    return [(r.method, r.path) for r in writes(emulator)]


# -- the project -------------------------------------------------------------------------------


def _yaml_text(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


class Project:
    """A temporary repository driven through the CLI against one emulator."""

    def __init__(
        self, root: Path, emulator: RecordingEmulator, url: str | None, *, config: bool = False
    ) -> None:
        self.root = root
        self.emulator = emulator
        self.url = url  # served emulator (``--endpoint``); None: the embedded default
        self.schedules = root / "schedules"
        self.schedules.mkdir(exist_ok=True)
        self.state_path = root / ".reconciler" / "state.json"
        # With ``config`` the commands find the project through --config (paths in the file are
        # relative to it), so the test need not change the working directory.
        self.config: Path | None = None
        if config:
            self.config = root / "reconciler.yaml"
            self.config.write_text(
                "environments:\n  default:\n    manifests: schedules\n"
                "    state: .reconciler/state.json\n",
                encoding="utf-8",
            )

    # ---- manifests

    def write(
        self,
        name: str,
        *,
        protected: bool | None = None,
        file: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Write the manifest ``name`` (to ``schedules/<name>.yaml``); returns its body."""
        data = body(name, **kwargs)
        self.write_body(data, protected=protected, file=file)
        return data

    def write_body(
        self, data: Mapping[str, Any], *, protected: bool | None = None, file: str | None = None
    ) -> Path:
        doc = dict(copy.deepcopy(data))
        if protected is not None:
            doc["lifecycle"] = {"prevent_destroy": protected}
        path = self.schedules / (file or f"{data['name']}.yaml")
        path.write_text(_yaml_text(doc), encoding="utf-8")
        return path

    def remove(self, name: str) -> None:
        (self.schedules / f"{name}.yaml").unlink()

    # ---- commands

    def args(self, *args: str, now: datetime | None = None) -> list[str]:
        moment = now if now is not None else self.emulator.now()
        # The client paces requests to 50/s by default (the vendor's budget); loopback has none.
        head = ["--now", moment.isoformat(), "--rate-limit", "10000"]
        if self.url is not None:
            head += ["--endpoint", self.url]
        if self.config is not None:
            head += ["--config", str(self.config)]
        return [*head, *args]

    def run(self, *args: str, now: datetime | None = None, input: str | None = None) -> Result:
        """``reconciler --now <emulator time> [--endpoint URL] ARGS`` in the project directory."""
        runner = CliRunner()
        return runner.invoke(cli, self.args(*args, now=now), input=input, catch_exceptions=False)

    def apply(self, *args: str) -> Result:
        return self.run("apply", "--auto-approve", *args)

    # ---- looking at the outcome

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        return data

    def state_ids(self) -> dict[str, str]:
        """name -> schedule_id of the state file's entries."""
        return {n: e["schedule_id"] for n, e in self.state()["entries"].items()}

    def remote(self) -> dict[str, list[dict[str, Any]]]:
        """The emulator's active tasks by name (full bodies with schedule_id)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for task in self.emulator.schedules():
            out.setdefault(task["name"], []).append(task)
        return out

    def remote_ids(self) -> dict[str, str]:
        """name -> schedule_id of the active tasks (names must be unique)."""
        out = {}
        for name, tasks in self.remote().items():
            assert len(tasks) == 1, f"{len(tasks)} remote tasks named {name!r}"
            out[name] = tasks[0]["schedule_id"]
        return out

    def writes(self) -> list[RequestRecord]:
        return writes(self.emulator)

    def api(self) -> httpx.Client:
        """A client of the served emulator with the demo credentials: "someone else" editing
        the app out of band (call ``mark`` afterwards so it does not count as our writes)."""
        assert self.url is not None, "out-of-band edits need the served emulator"
        return httpx.Client(base_url=self.url, auth=(DEMO_APP_KEY, DEMO_MASTER_SECRET))

    def out_of_band_create(self, data: Mapping[str, Any]) -> str:
        with self.api() as api:
            answer = api.post("/v4/schedules", json=dict(data))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["schedule_id"])

    def out_of_band_update(self, schedule_id: str, data: Mapping[str, Any]) -> None:
        with self.api() as api:
            answer = api.put(f"/v4/schedules/{schedule_id}", json=dict(data))
        assert answer.status_code == 200, answer.text

    def out_of_band_delete(self, schedule_id: str) -> None:
        with self.api() as api:
            answer = api.delete(f"/v4/schedules/{schedule_id}")
        assert answer.status_code == 200, answer.text

    def write_summary(self) -> list[tuple[str, str]]:
        return write_summary(self.emulator)

    def mark(self) -> None:
        """Forget the request log so far (the next assertions count from here)."""
        self.emulator.clear_log()
        self.emulator.bodies.clear()


def pasted(output: str, command: str) -> list[str]:
    """The arguments of the first suggested `reconciler ... COMMAND ...` in ``output``, split
    as a shell splits a pasted line (the global options left out: ``Project.run`` adds them)."""
    (line,) = [p for p in output.split("`") if p.startswith("reconciler ") and command in p][:1]
    words = shlex.split(line)
    return words[words.index(command.split()[0]) :]
