"""The layering of the package, checked: the planning core does no I/O and imports none of it, the
layers below the command line do not import it, and each module's private names stay its own.

The contract is written out in docs/python-api.md ("The planning core"); these tests are what
keeps it true.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reconciler"

# The modules that turn manifests (already loaded), a remote read and the state into a Plan,
# check it and render it, and the pure data they need. Nothing here reads a file through YAML,
# talks HTTP or knows the command line.
PLANNING_CORE = (
    "reconciler.planning.actions",
    "reconciler.planning.canonical",
    "reconciler.planning.diff",
    "reconciler.errors",
    "reconciler.files",
    "reconciler.planning.firing_changes",
    "reconciler.planning.firings",
    "reconciler.apply.healing",
    "reconciler.limits",
    "reconciler.manifests.base",
    "reconciler.manifests.models",
    "reconciler.manifests.trigger",
    "reconciler.options",
    "reconciler.planning.artifact",
    "reconciler.planning.inputs",
    "reconciler.planning.planner",
    "reconciler.planning.renames",
    "reconciler.planning.writes",
    "reconciler.manifests.push",
    "reconciler.redact",
    "reconciler.remote.observed",
    "reconciler.render",
    "reconciler.render.describe",
    "reconciler.render.machine",
    "reconciler.render.markdown",
    "reconciler.render.text",
    "reconciler.remote.responses",
    "reconciler.planning.safety",
    "reconciler.settings",
    "reconciler.state.binding",
    "reconciler.state.edits",
    "reconciler.state.invariants",
    "reconciler.state.schema",
    "reconciler.planning.timing",
)

# What the core may not pull in: the HTTP stack, the YAML readers, the command line, the
# emulator's server, and the modules of the package that do I/O or drive a run.
FORBIDDEN_LIBRARIES = (
    "httpx",
    "httpcore",
    "h11",
    "yaml",
    "ruamel",
    "click",
    "starlette",
    "uvicorn",
)
FORBIDDEN_MODULES = (
    "reconciler.remote.answers",
    "reconciler.apply.executor",
    "reconciler.apply.writer",
    "reconciler.testsend",
    "reconciler.cli",
    "reconciler.remote.client",
    "reconciler.commands",
    "reconciler.config.connection",
    "reconciler.emulator",
    "reconciler.ops.observe",
    "reconciler.config.environments",
    "reconciler.remote.inventory",
    "reconciler.manifests.layers",
    "reconciler.manifests.layer_files",
    "reconciler.manifests.defaults",
    "reconciler.manifests.bases",
    "reconciler.manifests.overlays",
    "reconciler.manifests.load",
    "reconciler.remote.ratelimit",
    "reconciler.remote.limiter",
    "reconciler.remote.pacefile",
    "reconciler.remote.listing",
    "reconciler.remote.transport",
    "reconciler.remote.retries",
    "reconciler.remote.tls",
    "reconciler.config.session",
    "reconciler.testing",
    "reconciler.manifests.yamlread",
    "reconciler.manifests.yamlconvert",
    "reconciler.manifests.yamlscalars",
    "reconciler.manifests.find",
)
FORBIDDEN = FORBIDDEN_LIBRARIES + FORBIDDEN_MODULES

# The command line: the only modules that may import click's side of the package.
CLI_MODULES = ("reconciler.cli", "reconciler.__main__", "reconciler.commands")


def _module_path(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = PACKAGE / relative / "__init__.py"
    return package if package.is_file() else PACKAGE / relative.with_suffix(".py")


def _is_under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _imported_names(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every import statement of a file, at any depth (functions, ``TYPE_CHECKING`` blocks):
    (line, module, imported names)."""
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [alias.name for alias in node.names]
            out.append((node.lineno, node.module, names))
            if node.module == "reconciler":  # `from reconciler import apply` imports a module
                out += [(node.lineno, f"reconciler.{n}", []) for n in names]
    return out


def _package_modules() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_the_core_list_names_real_modules() -> None:
    """Guards the tests below: every core module exists, none is also forbidden."""
    for module in PLANNING_CORE:
        assert _module_path(module).is_file(), module
        assert not _is_under(module, FORBIDDEN), module


@pytest.mark.parametrize("module", PLANNING_CORE)
def test_importing_a_core_module_loads_no_io_module(module: str) -> None:
    """Importing a planning-core module in a fresh interpreter leaves no HTTP, YAML, CLI or
    server library, and no I/O module of the package, in ``sys.modules``."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(done.stdout)
    leaked = sorted(name for name in loaded if _is_under(name, FORBIDDEN))
    assert leaked == [], f"importing {module} loads {leaked}"


@pytest.mark.parametrize("module", PLANNING_CORE)
def test_a_core_module_has_no_hidden_io_import(module: str) -> None:
    """No import statement of a core module, not even inside a function or a ``TYPE_CHECKING``
    block, names a forbidden module: a lazy import would only hide the dependency."""
    found = [
        f"{module}:{line}: {name}"
        for line, name, _ in _imported_names(_module_path(module))
        if _is_under(name, FORBIDDEN)
    ]
    assert found == []


def test_only_the_command_line_imports_the_command_line_package() -> None:
    """engine, session, config, layers and every other module below the command line take their
    options as ``reconciler.options.GlobalOptions``, never from the click package."""
    found = [
        f"{module}:{line}: {name}"
        for module in _package_modules()
        if not _is_under(module, CLI_MODULES)
        for line, name, _ in _imported_names(_module_path(module))
        if _is_under(name, CLI_MODULES)
    ]
    assert found == []


def test_reading_and_planning_do_not_import_apply() -> None:
    """The journal's healing, which the read side (engine) needs before it plans, is a pure module
    of its own: only the two ways to apply (the command and the Python API, with the package's
    re-export of it) import the apply machinery."""
    allowed = (
        "reconciler",
        "reconciler.api",
        "reconciler.apply.executor",
        "reconciler.ops.apply",
    )
    found = [
        f"{module}:{line}"
        for module in _package_modules()
        if module not in allowed
        for line, name, _ in _imported_names(_module_path(module))
        if name == "reconciler.apply.executor"
    ]
    assert found == []


def test_no_module_uses_another_modules_private_names() -> None:
    """A ``_name`` is its module's own: another module neither imports it nor calls it as
    ``module._name`` (what two modules share is public, in the module that owns the fact)."""
    found: list[str] = []
    for module in _package_modules():
        path = _module_path(module)
        tree = ast.parse(path.read_text("utf-8"))
        aliases: set[str] = set()
        for line, name, names in _imported_names(path):
            if name.startswith("reconciler"):
                found += [f"{module}:{line}: {name}.{n}" for n in names if _private(n)]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "reconciler":
                aliases |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.asname}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                found.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# The operations under the commands (docs/design.md "Layout"): typed in, typed out, silent.
OPS = PACKAGE / "ops"
# Click's own plumbing (option classes, the decorators) mirrors click's ``Any`` signatures.
COMMANDS_WITH_CLICK_PLUMBING = ("__init__.py", "emulator.py", "flags.py")


def _names_any(path: Path) -> list[str]:
    """Every place a file imports or names ``typing.Any``."""
    tree = ast.parse(path.read_text("utf-8"))
    found = [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "Any")
        or (isinstance(node, ast.Attribute) and node.attr == "Any")
        or (isinstance(node, ast.alias) and node.name == "Any")
    ]
    # String annotations (``from __future__ import annotations`` keeps them as code, but a
    # quoted one would hide from the walk above).
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                inner = ast.parse(node.value, mode="eval")
            except SyntaxError:
                continue
            if any(isinstance(n, ast.Name) and n.id == "Any" for n in ast.walk(inner)):
                found.append(f"{path.name}:{node.lineno} (string)")
    return found


def test_operations_and_commands_use_no_any() -> None:
    """No operation under ``reconciler/ops/`` and no command module (but for click's plumbing)
    types anything ``Any``: requests, results and callbacks are named types, imported under
    ``TYPE_CHECKING`` where a lazy import keeps start-up light."""
    found = [hit for path in sorted(OPS.glob("*.py")) for hit in _names_any(path)]
    found += [
        hit
        for path in sorted((PACKAGE / "commands").glob("*.py"))
        if path.name not in COMMANDS_WITH_CLICK_PLUMBING
        for hit in _names_any(path)
    ]
    assert found == []


def test_operations_neither_print_nor_know_the_command_line() -> None:
    """An operation says what it has to say through the callbacks it is given (``Feedback``)
    and returns its result: no ``print``, no ``sys.stdout``/``sys.stderr``, no click."""
    found: list[str] = []
    for path in sorted(OPS.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "print":
                    found.append(f"{path.name}:{node.lineno}: print")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
                and node.attr in ("stdout", "stderr", "stdin")
            ):
                found.append(f"{path.name}:{node.lineno}: sys.{node.attr}")
        found += [
            f"{path.name}:{line}: {name}"
            for line, name, _ in _imported_names(path)
            if _is_under(name, ("click", *CLI_MODULES))
        ]
    assert found == []
