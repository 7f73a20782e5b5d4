"""Trusted helper of the GitHub action (action.yml): always runs from the action's own, pinned
checkout, never from a pull request. Reads pull-request files as data only.

Subcommands (each writes its results to ``$GITHUB_OUTPUT`` when set, and prints them):

``matrix``    the environments of reconciler.yaml as a job matrix; with ``--since-state DIR``
              only those whose manifests or settings changed since the commit each one was last
              applied at (``DIR/.reconciler-applied/<env>``; missing, unknown to git or left
              by an unfinished apply: changed), and refused when this run's commit is older
              than one of those (a re-run of an old run would roll the app back). With
              ``--records FILE`` (what the apply workflow's own runs uploaded, per environment:
              the run's commit and conclusion), a marker is used only as far as such a record
              confirms it: the state branch can be pushed by others.
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
              printing how to restore it; and when no such run uploaded one (the first apply of
              an adopted state, an expired artifact, or a state pushed by someone else) unless
              the run accepts it (``--accept``, the apply workflow's ``accept-state`` input).
              ``--mode report`` only says so (pull-request plans, drift), in ``--note``.
``same-plan`` whether two plan files are the same plan (``same=true``): equal in everything but
              ``planned_at`` and ``checksum``.

Errors are one ``::error::`` annotation and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.errors import ConfigError
from reconciler.printable import OTHER_BLANKS, SPELLED_IN_WORDS, escaped, spelled

if TYPE_CHECKING:
    from reconciler.config.environments import Environment, EnvironmentSet

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


def load_environments(path: Path) -> EnvironmentSet:
    """reconciler.yaml's environments. Imported here, not at the top: reading the settings
    takes most of the tool's modules, which the subcommands that only copy or compare files
    (state-in, state-check, same-plan: every apply job runs them) need not start with."""
    from reconciler.config.environments import load_environments as load

    return load(path)


def annotate(kind: str, text: str, *, stream: TextIO | None = None) -> None:
    """One workflow command, ``::kind::text``, its text on one line: %, CR and LF as GitHub
    escapes them, the other control characters spelled out and ``##[`` made inert
    (``printable.escaped``). The text can hold what a pull request or the state branch wrote:
    a path, a lineage, a marker's commit."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::{kind}::" + escaped(text), file=stream or sys.stdout)


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


def load_records(path: str) -> dict[str, dict[str, Any]] | None:
    """The apply workflow's own record of each environment (``--records``): the run of the
    default branch's apply workflow that last uploaded ``state-<env>``, as github-report.js's
    ``trustedStates`` writes it: ``{"<env>": {"run_id", "head_sha", "conclusion"}}``. ``None``
    without the option (the command line: markers are taken as they are)."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Refused(f"the apply runs' records {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise Refused(f"the apply runs' records {path} are not a JSON object")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def verified_marker(
    env: Environment, marker: tuple[str | None, bool], record: dict[str, Any] | None
) -> tuple[str | None, bool]:
    """The commit ``env`` was last applied at and whether that apply finished, as far as the
    apply workflow's own record confirms the state branch's marker.

    The marker is a file on a branch others may push: a forged one could leave a merged
    change unapplied (the commit of this run, finished) or stop every apply (a commit after
    it). So the commit is the record's (the run that last uploaded the environment's state),
    finished only when that run succeeded and the marker agrees; a marker no record confirms
    (none: the first apply, an adopted state, an artifact expired after 90 days) only makes
    the environment planned. Adding ``unfinished`` only ever plans more, so it is kept."""
    commit, unfinished = marker
    if record is None:
        if commit is not None:
            annotate(
                "warning",
                f"environment {env.name}: the state branch says it was applied at "
                f"{commit}, but no apply run of the default branch has a state of it on record "
                "(its first apply, or its last state artifact expired after 90 days): that "
                "marker is not used, the environment is planned",
            )
        return None, True
    head = str(record.get("head_sha") or "")
    finished = record.get("conclusion") == "success"
    if commit != head:
        annotate(
            "warning",
            f"environment {env.name}: the state branch says it was applied at "
            f"{commit or '(nothing)'}, but the apply run {record.get('run_id')} that last "
            f"uploaded its state ran at {head}: the marker was changed outside the apply "
            "workflow (or that run's state push was lost); the run's commit is used and the "
            "environment is planned",
        )
        return head or None, True
    return head or None, unfinished or not finished


def cmd_matrix(args: argparse.Namespace) -> None:
    root = Path(args.repo)
    config = Path(args.config)
    envs = list(load_environments(config).environments)
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    accepted = names_of(args.accept)
    unknown = sorted((set(wanted) | accepted) - {e.name for e in envs})
    if unknown:
        raise Refused(f"unknown environment(s) {', '.join(unknown)} in {config}")
    if wanted:
        envs = [e for e in envs if e.name in wanted or e.name in accepted]
    if args.since_state:
        records = load_records(args.records)
        since: dict[str, str | None] = {}
        for env in envs:
            marker = applied_at(Path(args.since_state), env)
            if records is not None:
                marker = verified_marker(env, marker, records.get(env.name))
            commit, unfinished = marker
            refuse_going_back(root, env, commit)
            known = commit is not None and is_ancestor(root, commit, commit) is not None
            # Unfinished or unknown to git (history rewritten): planned whatever changed.
            since[env.name] = commit if known and not unfinished else None
        if not wanted:
            envs = changed_envs(root, envs, since)
            # An environment whose state this run accepts is planned, changed or not.
            chosen = {e.name for e in envs} | accepted
            envs = [e for e in load_environments(config).environments if e.name in chosen]
    emit_matrix(envs, root, config)


def names_of(text: str) -> set[str]:
    """Environment names from a comma- or space-separated list (a dispatch input)."""
    return {n for n in text.replace(",", " ").split() if n}


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


def bindings(data: dict[str, Any] | None) -> dict[str, str]:
    """Manifest name -> remote task id of a state file."""
    found = (data or {}).get("entries")
    if not isinstance(found, dict):
        return {}
    return {
        str(name): str((entry or {}).get("schedule_id", "")) if isinstance(entry, dict) else ""
        for name, entry in found.items()
    }


def bindings_table(data: dict[str, Any] | None, trusted: dict[str, Any] | None) -> str:
    """What accepting ``data`` means, for the approver: each binding it holds, marked where it
    differs from the last applied state ``trusted`` (when there is one)."""
    mine, theirs = bindings(data), bindings(trusted)
    rows = []
    for name in sorted(set(mine) | set(theirs)):
        now, before = mine.get(name), theirs.get(name)
        if trusted is None:
            change = ""
        elif before is None:
            change = "added"
        elif now is None:
            change = f"removed (was {table_code(before)})"
        elif now != before:
            change = f"changed (was {table_code(before)})"
        else:
            continue
        rows.append(f"| {table_code(name)} | {table_code(now or '')} | {change} |")
    if not rows:
        return "The state binds no manifest name to a task.\n" if trusted is None else ""
    limit = 200
    shown = rows[:limit]
    more = f"\n…and {len(rows) - limit} more\n" if len(rows) > limit else ""
    header = "| manifest name | task id | compared with the last applied state |\n|---|---|---|\n"
    return header + "\n".join(shown) + "\n" + more


# What a cell spells out: controls, every blank but the space (a no-break or an ideographic
# space reads as one), the braille blank, and what shows nothing (``printable.UNSEEN_IN_WORDS``).
_CELL_ODD = re.compile(f"{OTHER_BLANKS.pattern}|{SPELLED_IN_WORDS.pattern}")


def table_code(text: str) -> str:
    """``text`` from the state branch as a code span in a table's cell of the step summary: its
    controls, blanks other than the space and what shows nothing spelled out (a line break
    would end the row, "mine" with a zero-width space would read as "mine", an id "1001" with
    a no-break space after it as "1001"), a run of backticks longer than any in it (else a
    name closes the span and writes links, images and @-mentions), and "|" escaped (GitHub
    splits a row at it even inside a code span)."""
    shown = _CELL_ODD.sub(lambda m: spelled(m.group()), text).replace("|", "\\|")
    if not shown:
        return ""
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", shown)), default=0) + 1)
    # A blank either side, which the renderer drops, only where a backtick or a blank there
    # needs one: a plain name looks as it did.
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""
    return f"{ticks}{pad}{shown}{pad}{ticks}"


def append_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)


def cmd_state_check(args: argparse.Namespace) -> None:
    """Compare the state branch's file with the last state a trusted apply run uploaded (the
    artifact). Only the apply's commit step should update the state branch (docs/github.md),
    but that branch is a ref others may be able to push: the branch must hold exactly what
    that run uploaded, or a state never seen by an apply would be trusted (an entry bound to a
    foreign task would make the next apply change or delete that task). Without any upload to
    compare with (the first apply of an adopted state, or the last apply's artifact expired
    after 90 days) a committed state is not trusted either, unless this run accepts it
    (``--accept``: the apply workflow's ``accept-state`` input, approved by the environment's
    reviewers, who see its bindings in the summary).

    ``--mode report`` (pull-request plans, drift) never fails: it says what is wrong on the
    output, in the summary and in ``--note`` (a markdown note put above the plan or report)."""
    if args.accepted_out:
        # Only this run may write it: a file of that name in the checkout (committed to the
        # repository) would otherwise be uploaded with the plan as the state it accepted.
        Path(args.accepted_out).unlink(missing_ok=True)
    state_name = Path(args.state_file).name
    committed_data = load_state(Path(args.branch_dir) / args.state_file)
    # upload-artifact stores a single file without its directories.
    uploaded_data = load_state(Path(args.last_dir) / state_name)
    committed, uploaded = serial_of(committed_data), serial_of(uploaded_data)
    run = args.last_run or "RUN_ID"
    branch, env = args.branch, args.env
    accepted = env in names_of(args.accept)
    report = args.mode == "report"
    restore = (
        f"gh run download {run} --name state-{env} --dir restore && "
        f"git fetch origin {branch} && git switch {branch} && "
        f"cp restore/{state_name} {args.state_file} && "
        f"git add -f {args.state_file} && "
        f"git commit -m 'reconciler: restore state of {env}' && "
        f"git push origin {branch}"
    )
    accept = (
        f"gh workflow run apply.yml --ref <default branch> -f environments={env} "
        f"-f accept-state={env}"
    )
    inspect = f"git log -p origin/{branch} -- {args.state_file}"
    if uploaded > committed:
        problem = (
            f"the state of {env} uploaded by apply run {run} has serial {uploaded}, the "
            f"state branch {branch} holds serial {committed}: that run's state push was "
            "lost, and applying now would work from an old state (schedules it created would "
            f"be unknown). Restore it, then re-run this workflow:  {restore}"
        )
        # Accepting the older state would lose what that run created: restore it instead.
        finish(args, report, "lost", problem, note=f"its last applied state (run {run}) was lost")
        return
    kind, problem = "", ""
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
        if problem:
            kind = "changed"
            problem = (
                f"the state of {env} on the state branch {branch} {problem}: it was "
                "changed outside the apply workflow (only its commit step should update that "
                "branch), and an apply from it could change or delete the tasks it was pointed "
                f"at. Check the branch's history ({inspect}); to go on from the last applied "
                f"state, restore it, then re-run this workflow:  {restore}  — or, if the "
                f"change is right, accept it in a run a reviewer of {env} approves:  {accept}"
            )
    elif committed_data is not None:
        kind = "unverified"
        problem = (
            f"the state of {env} on the state branch {branch} was not written by the apply "
            f"workflow as far as can be checked: no apply run of the default branch has a "
            f"state of {env} on record (the first apply after adopting existing tasks with "
            "`reconciler import`, or the last apply was more than 90 days ago and its artifact "
            "expired), so nothing shows who wrote it, and an apply from it could change or "
            f"delete any task it binds. Check it ({inspect}); if it is right, accept it in a "
            f"run a reviewer of {env} approves after reading its bindings:  {accept}"
        )
    if not problem:
        print(f"state of {env}: committed serial {committed}, last uploaded {uploaded}: ok")
        output(verified="true", problem="")
        return
    if accepted and not report:
        if args.accepted_in:
            # The apply job: the state accepted must be the one the approver was shown (the
            # plan job's copy, in the reviewed plan artifact), not whatever the branch holds
            # now: it may have been pushed again while the approval waited.
            shown = load_state(Path(args.accepted_in))
            if shown != committed_data:
                raise Refused(
                    f"the state of {env} on the state branch {branch} is not the one this run's "
                    "plan job accepted and showed the approver (it changed since, or the plan "
                    "job accepted none): nothing is applied. Check the branch's history "
                    f"({inspect}), then dispatch the acceptance again"
                )
        if args.accepted_out:
            Path(args.accepted_out).write_text(
                json.dumps(committed_data, indent=1, sort_keys=True), encoding="utf-8"
            )
        actor = os.environ.get("GITHUB_ACTOR", "")
        who = f" (dispatched by @{actor})" if actor else ""
        why = (
            "it differs from the state the last apply uploaded"
            if kind == "changed"
            else "no apply run has a state of it on record"
        )
        annotate("warning", f"state of {env} accepted by this run{who}: {problem}")
        output(verified="accepted", problem=kind)
        append_summary(
            f"\n> [!WARNING]\n> **This run accepts the state of `{env}`{who}**, which the "
            f"apply workflow did not write: {why}. Approve only if every task below belongs "
            "to this environment: the apply updates or deletes the tasks these names are "
            "bound to.\n\n" + bindings_table(committed_data, uploaded_data)
        )
        return
    note = (
        "it differs from the last applied state (changed outside the apply workflow)"
        if kind == "changed"
        else "no apply run has written it (an adopted state, an expired record, or pushed "
        "by someone else)"
    )
    finish(args, report, kind, problem, note=note)


def finish(args: argparse.Namespace, report: bool, kind: str, problem: str, note: str) -> None:
    """Refuse (enforce), or say so and go on (report)."""
    output(verified="false", problem=kind)
    if not report:
        raise Refused(problem)
    annotate("warning", problem)
    text = (
        f"> [!WARNING]\n> **Unverified state.** The state of `{args.env}` on "
        f"`{args.branch}` is read as it is, but {note}: the names it binds to tasks are not "
        "known to be this environment's. An apply refuses it until it is restored or "
        "accepted (the apply workflow's `accept-state` input; docs/github.md, \"The state "
        'branch").\n\n'
    )
    if args.note:  # put above the plan or drift report, which goes to the summary
        Path(args.note).write_text(text, encoding="utf-8")
    else:
        append_summary(text)


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
    p.add_argument("--records", default="")
    p.add_argument("--accept", default="")
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
    p.add_argument("--accept", default="", help="environments whose state this run accepts")
    p.add_argument("--mode", choices=("enforce", "report"), default="enforce")
    p.add_argument("--note", default="", help="report: where to write the markdown note")
    p.add_argument("--accepted-out", default="", help="where to keep the state accepted")
    p.add_argument("--accepted-in", default="", help="the state the plan job accepted")
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
        annotate("error", text, stream=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
