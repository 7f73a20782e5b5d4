"""Trusted helper of the GitHub action (action.yml): always runs from the action's own, pinned
checkout, never from a pull request. Reads pull-request files as data only.

Subcommands (each writes its results to ``$GITHUB_OUTPUT`` when set, and prints them):

``matrix``    the environments of reconciler.yaml as a job matrix; with ``--since-state DIR``
              only those whose manifests or settings changed since the commit each one was last
              applied at (``DIR/.reconciler-applied/<env>``; missing, unknown to git or left
              by an unfinished apply: changed), and refused when this run's commit is older
              than one of those (a re-run of an old run would roll the app back).
``pr``        decide whether a pull request may be planned with credentials, and build the
              planning workspace from the default branch's settings and the pull request's
              manifests and overlays (copied as plain files), its changes taken against the
              default branch. Outputs ``trusted``, ``reason``, ``matrix``.
``validate``  ``reconciler validate --format github`` of each environment's manifests.
``run``       run ``reconciler`` with the environment's credentials: the GitHub environment's
              fixed secrets ENGAGELAB_APP_KEY / ENGAGELAB_MASTER_SECRET, handed over under the
              variable names the (trusted) reconciler.yaml gives the environment.
``state-in``  copy an environment's state file from the state branch checkout into place.
``state-check`` refuse to apply when the committed state is not the last one a trusted apply
              run uploaded: a higher uploaded serial (a state push was lost), or another
              lineage, a higher committed serial or other content (changed outside the apply),
              printing how to restore it.
``same-plan`` whether two plan files are the same plan (``same=true``): equal in everything but
              ``planned_at`` and ``checksum``.

Errors are one ``::error::`` annotation and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from reconciler.config.environments import Environment, load_environments
from reconciler.errors import ConfigError
from reconciler.printable import escaped

# GitHub starts at most 256 jobs from one matrix in one workflow run.
MATRIX_LIMIT = 256
CONFIG = "reconciler.yaml"
# Settings that decide where requests go, with which credentials, or which files are read and
# written. A pull request changing one of them is never planned with credentials.
CONNECTION_FIELDS = (
    "endpoint",
    "data_center",
    "app_key_env",
    "master_secret_env",
    "state",
    "manifests",
    "overlay",
)
# Paths whose change alters the tool or the workflows themselves, or the state an apply starts
# from (a state committed on the default branch is used when the state branch has none).
TOOL_PATHS = (
    "reconciler/",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements/",
    ".github/",
    "action.yml",
    "action.yaml",
    ".ci/",
    ".reconciler/",
)
# The GitHub environments of a reconciler environment NAME are NAME (the apply, with required
# reviewers) and NAME + PLAN_SUFFIX (plans and drift: no reviewers, the same credentials).
PLAN_SUFFIX = "-plan"
APPLIED_DIR = ".reconciler-applied"
FIXED_KEY = "ENGAGELAB_APP_KEY"
FIXED_SECRET = "ENGAGELAB_MASTER_SECRET"  # noqa: S105 - a variable's name


class Refused(Exception):
    """A problem to report as one annotation."""


def output(**values: str) -> None:
    """Print ``values`` and write them to ``$GITHUB_OUTPUT``, each on one line: a control
    character (a carriage return as much as a line feed) in a value taken from a pull
    request's file names would end the line, and the rest be read as a workflow command or
    another output; each is spelled as an escape (``printable.escaped``)."""
    values = {key: escaped(value) for key, value in values.items()}
    path = os.environ.get("GITHUB_OUTPUT")
    for key, value in values.items():
        print(f"{key}={value}")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            for key, value in values.items():
                fh.write(f"{key}={value}\n")


def git(repo: Path, *args: str) -> str:
    """The output of a git command, as git wrote it: bytes decoded without newline translation
    (a carriage return in a file name stays one), a byte that is not UTF-8 as U+FFFD."""
    done = subprocess.run(  # noqa: S603 - fixed program, arguments are paths and refs
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as in every step
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        raise Refused(f"git {' '.join(args)} failed in {repo}: {error}")
    return done.stdout.decode("utf-8", "replace")


def raw_settings(text: str | None, where: str = CONFIG) -> dict[str, dict[str, Any]]:
    """``environments:`` of a reconciler.yaml as plain data (no file: one ``default``).

    Text that is not YAML is refused with the line of the error only: the parser's own message
    quotes the offending text, which may be a file of the runner a link pointed at."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if text is None:
        return {"default": {}}
    try:
        data = YAML(typ="safe", pure=True).load(text) or {}
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise Refused(f"{where} is not valid YAML{line}; fix its syntax") from None
    envs = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(envs, dict):
        return {"default": {}}
    return {str(k): dict(v or {}) for k, v in envs.items()}


def read_config(path: Path) -> str | None:
    """The text of a reconciler.yaml, never through a symbolic link (a pull request's link
    could point at any file of the runner); ``None`` when there is none."""
    if path.is_symlink():
        raise Refused(f"{path} is a symbolic link; {CONFIG} must be a plain file")
    if not path.exists():
        return None
    if not path.is_file():
        raise Refused(f"{path} is not a plain file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise Refused(f"{path} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{path} is not UTF-8 text") from None


def changed_files(repo: Path, *revisions: str) -> list[str]:
    """Paths changed between ``revisions``: NUL-separated (no quoting of unusual names) and
    without rename detection, so a move counts as a deletion of the old path and an addition
    of the new one (both sides matter: a file moved out of a watched directory changed it)."""
    out = git(repo, "diff", "-z", "--no-renames", "--name-only", *revisions)
    return [f for f in out.split("\0") if f]


def inside_without_links(root: Path, rel: Path) -> bool:
    """Whether ``root/rel`` lies inside ``root`` with no symbolic link on the way (a link as the
    manifests directory, or as one of its parents, would make the trusted job read files
    outside the pull request)."""
    current = root
    for part in rel.parts:
        if part in ("", "."):
            continue
        if part == "..":
            return False
        current = current / part
        if current.is_symlink():
            return False
    try:
        current.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def show(repo: Path, commit: str, path: str) -> str | None:
    done = subprocess.run(  # noqa: S603 - fixed program, arguments are a ref and a path
        ["git", "-C", str(repo), "show", f"{commit}:{path}"],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout if done.returncode == 0 else None


def relative(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
    except ValueError:
        return path.as_posix()


def read_dirs(env: Environment) -> list[tuple[str, Path]]:
    """The directories ``env``'s schedules are read from: its manifests, and its overlay."""
    found = [("manifests", env.manifests)]
    if env.overlay is not None:
        found.append(("overlay", env.overlay))
    return found


def touches(env: Environment, root: Path, files: Iterable[str]) -> bool:
    """Whether one of ``files`` (relative to ``root``) lies in a directory ``env`` reads."""
    prefixes = tuple(relative(d, root).rstrip("/") + "/" for _, d in read_dirs(env))
    return any(f.startswith(prefixes) for f in files)


def changed_envs(
    repo: Path, envs: Sequence[Environment], since: dict[str, str | None]
) -> list[Environment]:
    """The environments whose manifests or overlay directory or settings changed since their
    commit."""
    head_settings = raw_settings(show(repo, "HEAD", CONFIG), f"{CONFIG} at HEAD")
    chosen = []
    for env in envs:
        commit = since.get(env.name)
        if not commit:
            chosen.append(env)
            continue
        files = changed_files(repo, commit, "HEAD")
        before = raw_settings(show(repo, commit, CONFIG), f"{CONFIG} at {commit}").get(env.name)
        if before != head_settings.get(env.name) or touches(env, repo, files):
            chosen.append(env)
    return chosen


def entries(envs: Iterable[Environment], root: Path) -> list[dict[str, str]]:
    out = []
    for env in envs:
        if env.name.lower().endswith(PLAN_SUFFIX):
            # GitHub's environment names ignore case: `Production-Plan` is `production-plan`.
            raise Refused(
                f"environment {env.name}: a name ending in {PLAN_SUFFIX!r} would apply in the "
                f"GitHub environment {env.name} (the one without reviewers that holds the "
                f"credentials of {env.name[: -len(PLAN_SUFFIX)]} for plans); rename it"
            )
        state = Path(os.path.relpath(env.state.resolve(), root.resolve())).as_posix()
        if state.startswith("../"):
            raise Refused(
                f"environment {env.name}: its state file {env.state} is outside the "
                "repository; the state branch can only hold files inside it"
            )
        out.append({"name": env.name, "state_file": state})
    if len(out) > MATRIX_LIMIT:
        raise Refused(
            f"{len(out)} environments, but one workflow run starts at most "
            f"{MATRIX_LIMIT} matrix jobs; split them over several config files"
        )
    return out


def emit_matrix(envs: list[Environment], root: Path, config: Path) -> None:
    rows = entries(envs, root)
    seen: set[tuple[str, str]] = set()
    validate = []
    for env in envs:
        # An overlay changes what is validated: environments sharing manifests differ there.
        overlay = env.overlay.as_posix() if env.overlay is not None else ""
        key = (env.manifests.as_posix(), env.timezone, overlay)
        if key not in seen:
            seen.add(key)
            validate.append(env.name)
    output(
        matrix=json.dumps({"include": rows}, separators=(",", ":")),
        count=str(len(rows)),
        names=" ".join(r["name"] for r in rows),
        validate=" ".join(validate),
        config=config.as_posix(),
    )


def applied_at(state_dir: Path, env: Environment) -> tuple[str | None, bool]:
    """The commit ``env`` was last applied at, and whether that apply finished.

    The marker holds the commit, then ``unfinished`` when the apply failed or was cancelled
    (commit-state.sh): such an environment is planned whatever changed since, because the app
    may hold part of that commit (a revert of it changes no file since the last finished
    apply, yet the schedules it created are live)."""
    marker = state_dir / APPLIED_DIR / env.name
    words = marker.read_text(encoding="utf-8").split() if marker.is_file() else []
    return (words[0] if words else None), "unfinished" in words[1:]


def is_ancestor(repo: Path, older: str, newer: str) -> bool | None:
    """Whether ``older`` is an ancestor of (or equal to) ``newer``; None when git does not
    know one of them (history rewritten since)."""
    done = subprocess.run(  # noqa: S603 - fixed program, arguments are commits
        ["git", "-C", str(repo), "merge-base", "--is-ancestor", older, newer],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return {0: True, 1: False}.get(done.returncode)


def refuse_going_back(repo: Path, env: Environment, applied: str | None) -> None:
    """Refuse a run whose commit is older than the one ``env`` was last applied at.

    "Re-run all jobs" of an old apply run checks out that run's commit: planning it against
    the app would delete every schedule added since and bring back every one removed since,
    and the approver would read "manifest removed" of manifests main still holds."""
    if not applied or is_ancestor(repo, applied, "HEAD") is not False:
        return
    head = git(repo, "rev-parse", "HEAD").strip()
    if is_ancestor(repo, head, applied):
        raise Refused(
            f"environment {env.name} was last applied at {applied}, which comes after this "
            f"run's commit {head}: applying an older commit would roll the app back (undo "
            "every change merged since). Run the apply workflow on the default branch's tip "
            "instead of re-running an old run"
        )


def cmd_matrix(args: argparse.Namespace) -> None:
    root = Path(args.repo)
    config = Path(args.config)
    envs = list(load_environments(config).environments)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    if wanted:
        unknown = sorted(set(wanted) - {e.name for e in envs})
        if unknown:
            raise Refused(f"unknown environment(s) {', '.join(unknown)} in {config}")
        envs = [e for e in envs if e.name in wanted]
    if args.since_state:
        since: dict[str, str | None] = {}
        for env in envs:
            commit, unfinished = applied_at(Path(args.since_state), env)
            refuse_going_back(root, env, commit)
            known = commit is not None and is_ancestor(root, commit, commit) is not None
            # Unfinished or unknown to git (history rewritten): planned whatever changed.
            since[env.name] = commit if known and not unfinished else None
        if not wanted:
            envs = changed_envs(root, envs, since)
    emit_matrix(envs, root, config)


def regular_files(directory: Path) -> list[Path]:
    """Every file under ``directory``; a symlink or special file anywhere is refused (it could
    point the trusted job at a file outside the pull request, e.g. /proc/self/environ)."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise Refused(
                f"{escaped(str(path))} is a symbolic link or special file; manifests and "
                "overlays must be files"
            )
        if path.is_file():
            found.append(path)
    return found


def cmd_pr(args: argparse.Namespace) -> None:
    base, pr, out = Path(args.base), Path(args.pr), Path(args.out)
    reasons: list[str] = []
    if args.fork == "true":
        reasons.append("it comes from a fork")
    default = args.default_branch
    if not default:
        raise Refused("the repository's default branch is not known (--default-branch)")
    if args.base_ref != default:
        # Only a merge into the default branch is applied; the changes below are taken against
        # it, but a pull request is retargeted without a new push: it is planned again then
        # (the `edited` event), never trusted while it points elsewhere.
        reasons.append(
            f"its base branch is {args.base_ref!r}, not the default branch {default!r}; "
            f"change its base to {default!r} to have it planned"
        )
    # Against the default branch, whatever the base: the plan shows what the pull request's
    # head would change there, including commits of the base branch it carries.
    merge_base = git(pr, "merge-base", "HEAD", f"origin/{default}").strip()
    files = changed_files(pr, f"{merge_base}...HEAD")
    tool = sorted({f for f in files if f.startswith(TOOL_PATHS)})
    if tool:
        reasons.append("it changes the tool, the workflows or the state: " + ", ".join(tool[:10]))
    base_text = read_config(base / CONFIG)
    trusted_envs = raw_settings(base_text)
    pr_text: str | None = None
    pr_envs: dict[str, dict[str, Any]] = {}
    try:
        pr_text = read_config(pr / CONFIG)
        pr_envs = raw_settings(pr_text, f"the pull request's {CONFIG}")
    except Refused as exc:
        # Never planned, and its text never used: the workspace gets an empty config.
        reasons.append(str(exc))
        pr_text = None
    else:
        # A removed environment (or reconciler.yaml) is no longer applied, nor watched by drift.
        for name in trusted_envs:
            if name not in pr_envs:
                reasons.append(f"it removes the environment {name!r} from {CONFIG}")
    for name, settings in pr_envs.items():
        known = trusted_envs.get(name)
        if known is None:
            reasons.append(f"it adds the environment {name!r} to {CONFIG}")
            continue
        moved = [f for f in CONNECTION_FIELDS if settings.get(f) != known.get(f)]
        if moved:
            reasons.append(f"it changes {', '.join(moved)} of {name!r} in {CONFIG}")
    # The planning workspace: the pull request's reconciler.yaml (equal to the default branch's
    # in everything that matters above) and its manifests, copied as plain files.
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # Always a file: a config named with --config must exist (empty: the one default environment).
    (out / CONFIG).write_text(pr_text or "", encoding="utf-8")
    envs: list[Environment] = []
    try:
        envs = list(load_environments(out / CONFIG).environments)
    except ConfigError as exc:
        reasons.append(f"its {CONFIG} is invalid: {exc.message}")
    # A state file committed on the default branch is used when the state branch has none
    # (its backup and lock beside it too), wherever `state:` puts it.
    states = tuple(relative(env.state, out) for env in envs)
    held = sorted({f for f in files if f.startswith(states) and f not in tool})
    if held:
        reasons.append("it changes a state file: " + ", ".join(held[:10]))
    copied: set[Path] = set()
    for env, (what, directory) in ((e, d) for e in envs for d in read_dirs(e)):
        rel = Path(os.path.relpath(directory.resolve(), out.resolve()))
        if rel.as_posix() == ".." or rel.as_posix().startswith("../") or rel.is_absolute():
            reasons.append(f"the {what} of {env.name!r} lie outside the repository")
            continue
        if not inside_without_links(pr, rel):
            reasons.append(
                f"the {what} directory {rel.as_posix()} of {env.name!r} is (or "
                "lies under) a symbolic link, or resolves outside the pull request"
            )
            continue
        if rel in copied or not (pr / rel).is_dir():
            continue
        copied.add(rel)
        try:
            sources = regular_files(pr / rel)
        except Refused as exc:
            reasons.append(str(exc))
            continue
        for source in sources:
            target = out / source.relative_to(pr)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    chosen: list[Environment] = []
    if envs:
        try:
            base_envs = raw_settings(show(pr, merge_base, CONFIG), f"{CONFIG} at {merge_base}")
        except Refused as exc:
            reasons.append(str(exc))
            base_envs = {}
        for env in envs:
            if pr_envs.get(env.name) != base_envs.get(env.name) or touches(env, out, files):
                chosen.append(env)
    trusted = not reasons
    rows = entries(chosen, out) if trusted else []
    output(
        trusted=str(trusted).lower(),
        reason="; ".join(reasons).replace("\n", " "),
        matrix=json.dumps({"include": rows}, separators=(",", ":")),
        count=str(len(rows)),
        names=" ".join(e.name for e in envs),
        merge_base=merge_base,
    )


def cmd_run(args: argparse.Namespace) -> int:
    env = load_environments(Path(args.config)).select(args.env)
    environ = dict(os.environ)
    key, secret = environ.pop(FIXED_KEY, ""), environ.pop(FIXED_SECRET, "")
    if key or secret:
        environ[env.app_key_env] = key
        environ[env.master_secret_env] = secret
    # From the config's directory: paths in plans and reports read as in the repository
    # (schedules/x.yaml, not plan-ws/schedules/x.yaml), so a pull request's plan and the merge's
    # plan of the same change are the same file.
    config = Path(args.config)
    argv = ["reconciler", "--config", config.name, "--env", env.name, *args.rest]
    done = subprocess.run(argv, env=environ, cwd=config.parent, check=False)  # noqa: S603
    return done.returncode


def cmd_validate(args: argparse.Namespace) -> int:
    """``reconciler validate --format github`` of each named environment's manifests directory,
    from the config's directory, so annotations name the files as the repository does."""
    config = Path(args.config)
    root = config.parent
    status = 0
    for name in args.names.split():
        env = load_environments(config).select(name)
        manifests = os.path.relpath(env.manifests.resolve(), root.resolve())
        argv = [
            "reconciler",
            "--config",
            config.name,
            "--env",
            name,
            "validate",
            "--format",
            "github",
            manifests,
        ]
        done = subprocess.run(argv, cwd=root, check=False)  # noqa: S603 - our CLI
        status = status or done.returncode
    return 1 if status else 0


def cmd_state_in(args: argparse.Namespace) -> None:
    source = Path(args.branch_dir) / args.state_file
    target = Path(args.state_file)
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(f"state of {args.env}: {args.state_file} from the state branch")
    else:
        print(f"state of {args.env}: none on the state branch yet (first apply)")


def load_state(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Refused(f"{path} is not a state file: {exc}") from None
    if not isinstance(data, dict):
        raise Refused(f"{path} is not a state file: not a JSON object")
    return data


def serial_of(data: dict[str, Any] | None) -> int:
    if data is None:
        return -1
    try:
        return int(data.get("serial", 0))
    except (TypeError, ValueError) as exc:
        raise Refused(f"a state file has no valid serial: {exc}") from None


def cmd_state_check(args: argparse.Namespace) -> None:
    """Compare the state branch's file with the last state a trusted apply run uploaded (the
    artifact). Only the apply's commit step may update the state branch (docs/github.md), but
    what can be checked here is checked: the branch must hold exactly what that run uploaded,
    or a later state of the same lineage never seen by an apply would be trusted (an entry
    bound to a foreign task would make the next apply delete that task)."""
    committed_data = load_state(Path(args.branch_dir) / args.state_file)
    # upload-artifact stores a single file without its directories.
    uploaded_data = load_state(Path(args.last_dir) / Path(args.state_file).name)
    committed, uploaded = serial_of(committed_data), serial_of(uploaded_data)
    run = args.last_run or "RUN_ID"
    restore = (
        f"gh run download {run} --name state-{args.env} --dir restore && "
        f"git fetch origin {args.branch} && git switch {args.branch} && "
        f"cp restore/{Path(args.state_file).name} {args.state_file} && "
        f"git add -f {args.state_file} && "
        f"git commit -m 'reconciler: restore state of {args.env}' && "
        f"git push origin {args.branch}"
    )
    if uploaded > committed:
        raise Refused(
            f"the state of {args.env} uploaded by apply run {run} has serial {uploaded}, the "
            f"state branch {args.branch} holds serial {committed}: that run's state push was "
            "lost, and applying now would work from an old state (schedules it created would "
            f"be unknown). Restore it, then re-run this workflow:  {restore}"
        )
    if uploaded_data is not None and committed_data is not None:
        lineage = (committed_data.get("lineage"), uploaded_data.get("lineage"))
        if lineage[0] != lineage[1]:
            problem = f"has lineage {lineage[0]}, the one apply run {run} uploaded {lineage[1]}"
        elif committed != uploaded:
            problem = (
                f"has serial {committed}, newer than the serial {uploaded} apply run {run} uploaded"
            )
        elif committed_data != uploaded_data:
            problem = f"differs from the one apply run {run} uploaded at the same serial"
        else:
            problem = ""
        if problem:
            raise Refused(
                f"the state of {args.env} on the state branch {args.branch} {problem}: it was "
                "changed outside the apply workflow (only its commit step may update that "
                "branch), and an apply from it could delete or change tasks it was pointed at. "
                "Check the branch's history (git log -p origin/"
                f"{args.branch} -- {args.state_file}); to go on from the last applied state, "
                f"restore it, then re-run this workflow:  {restore}"
            )
    print(f"state of {args.env}: committed serial {committed}, last uploaded {uploaded}: ok")


def cmd_same_plan(args: argparse.Namespace) -> None:
    def key(path: Path) -> Any:
        # The whole plan but when it was made and its checksum: anything else (renames,
        # violations, counts) is part of what the apply does, so a file differing in it is
        # not the plan this run computed, whoever uploaded it.
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a plan")
        return {k: v for k, v in data.items() if k not in ("planned_at", "checksum")}

    try:
        same = key(Path(args.a)) == key(Path(args.b))
    except (OSError, ValueError):
        same = False
    print(f"same={str(same).lower()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("matrix")
    p.add_argument("--config", default=os.environ.get("RECONCILER_CONFIG") or CONFIG)
    p.add_argument("--repo", default=".")
    p.add_argument("--only", default="")
    p.add_argument("--since-state", default="")
    p = sub.add_parser("pr")
    p.add_argument("--base", default=".")
    p.add_argument("--pr", required=True)
    p.add_argument("--base-ref", required=True)
    p.add_argument("--default-branch", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fork", default="false")
    p = sub.add_parser("validate")
    p.add_argument("--config", required=True)
    p.add_argument("--names", default="")
    p = sub.add_parser("run")
    p.add_argument("--config", required=True)
    p.add_argument("--env", required=True)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("state-in")
    p.add_argument("--env", required=True)
    p.add_argument("--state-file", required=True)
    p.add_argument("--branch-dir", required=True)
    p = sub.add_parser("state-check")
    p.add_argument("--env", required=True)
    p.add_argument("--state-file", required=True)
    p.add_argument("--branch-dir", required=True)
    p.add_argument("--branch", required=True)
    p.add_argument("--last-dir", required=True)
    p.add_argument("--last-run", default="")
    p = sub.add_parser("same-plan")
    p.add_argument("a")
    p.add_argument("b")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            if args.rest[:1] == ["--"]:
                args.rest = args.rest[1:]
            return cmd_run(args)
        if args.command == "validate":
            return cmd_validate(args)
        handler = {
            "matrix": cmd_matrix,
            "pr": cmd_pr,
            "state-in": cmd_state_in,
            "state-check": cmd_state_check,
            "same-plan": cmd_same_plan,
        }[args.command]
        handler(args)
    except (Refused, ConfigError) as exc:
        text = exc.message if isinstance(exc, ConfigError) else str(exc)
        if isinstance(exc, ConfigError) and exc.hint:
            text += f"\nhint: {exc.hint}"
        # The annotation's message on one line: %, CR and LF as GitHub escapes them, the other
        # control characters spelled out (a path from a pull request may hold any of them).
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print("::error::" + escaped(text), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
