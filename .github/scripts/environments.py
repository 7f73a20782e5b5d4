"""List the environments of reconciler.yaml as a GitHub Actions job matrix.

Used by plan.yml, apply.yml and drift.yml: one matrix job per environment (one EngageLab app).
The file is read by the reconciler's own loader (``reconciler.environments``), so names, state
paths and errors are exactly those of the CLI; without a reconciler.yaml there is the one
environment ``default`` with its state in ``.reconciler/state.json``.

Prints the matrix as JSON and, inside GitHub Actions, writes ``matrix=<json>``, ``count=<n>``
and ``validate=<names>`` to ``$GITHUB_OUTPUT``; ``validate`` names one environment per distinct
(manifests directory, time zone), so ``validate`` checks every manifest once without repeating
the same annotation for environments that share a directory.

Checked here on top of the loader, because of what the workflows do with them: at most 256
environments (GitHub's matrix limit per workflow run), and credential variable names that can
be GitHub secret names and are safe to export.

    python .github/scripts/environments.py [--config reconciler.yaml] [--only a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from reconciler.environments import Environment, load_environments
from reconciler.errors import ConfigError

# GitHub starts at most 256 jobs from one matrix in one workflow run.
MATRIX_LIMIT = 256
# A GitHub secret name: letters, digits, underscores, not starting with a digit.
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names the workflows must not overwrite by exporting a credential under them.
RESERVED_PREFIXES = (
    "GITHUB_",
    "RUNNER_",
    "ACTIONS_",
    "INPUT_",
    "RECONCILER_",
    "CREDENTIAL_",
    "LD_",
)
RESERVED = frozenset(
    {"PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "PS4", "CI", "PYTHONPATH", "PYTHONHOME"}
)


def _credential_var(env: Environment, key: str, value: str) -> str:
    upper = value.upper()
    if not SECRET_NAME.match(value) or upper in RESERVED or upper.startswith(RESERVED_PREFIXES):
        raise ConfigError(
            f"environment {env.name!r}: {key} {value!r} cannot be used by the workflows: it is "
            "also the name of the GitHub secret they read and of the variable they export",
            hint="use a name such as PRODUCTION_ENGAGELAB_APP_KEY (not PATH, GITHUB_*, LD_*, "
            "RUNNER_*, RECONCILER_*, ...)",
        )
    return value


def matrix_entries(config: Path, only: str = "") -> list[dict[str, str]]:
    """One matrix entry per environment of ``config`` (restricted to ``only`` when given)."""
    envs = list(load_environments(config).environments)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    if wanted:
        known = [env.name for env in envs]
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ConfigError(
                f"unknown environment(s) {', '.join(unknown)} in {config}",
                hint=f"known: {', '.join(known)}",
            )
        envs = [env for env in envs if env.name in wanted]
    if len(envs) > MATRIX_LIMIT:
        raise ConfigError(
            f"{config} has {len(envs)} environments, but one workflow run starts at most "
            f"{MATRIX_LIMIT} matrix jobs",
            hint="split the environments over several reconciler files, one workflow each "
            "(docs/github.md, 'Hundreds of apps')",
        )
    return [
        {
            "name": env.name,
            "state_file": env.state.as_posix(),
            "app_key_env": _credential_var(env, "app_key_env", env.app_key_env),
            "master_secret_env": _credential_var(env, "master_secret_env", env.master_secret_env),
        }
        for env in envs
    ]


def validate_names(config: Path, names: list[str]) -> list[str]:
    """One of ``names`` per distinct (manifests, timezone) pair, in file order."""
    seen: set[tuple[str, str]] = set()
    chosen = []
    for env in load_environments(config).environments:
        key = (env.manifests.as_posix(), env.timezone)
        if env.name in names and key not in seen:
            seen.add(key)
            chosen.append(env.name)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("RECONCILER_CONFIG") or "reconciler.yaml"),
        help="environments file (default: $RECONCILER_CONFIG or reconciler.yaml)",
    )
    parser.add_argument("--only", default="", help="comma-separated environment names")
    args = parser.parse_args(argv)
    try:
        entries = matrix_entries(args.config, args.only)
        to_validate = validate_names(args.config, [e["name"] for e in entries])
    except ConfigError as exc:
        text = f"{exc.message}\nhint: {exc.hint}" if exc.hint else exc.message
        if os.environ.get("GITHUB_ACTIONS") == "true":
            # One annotation; %0A is a line break inside a workflow command.
            print("::error::" + text.replace("%", "%25").replace("\n", "%0A"), file=sys.stderr)
        else:
            print(f"error: {text}", file=sys.stderr)
        return 1
    matrix = json.dumps({"include": entries}, separators=(",", ":"))
    print(matrix)
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(f"matrix={matrix}\ncount={len(entries)}\nvalidate={' '.join(to_validate)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
