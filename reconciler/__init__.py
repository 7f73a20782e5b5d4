"""Schedule-as-code for EngageLab Push.

Keeps an app's scheduled push notifications as YAML manifests in git and reconciles the live app
with them through a plan/apply engine. The ``reconciler`` command is the main surface; scripts
use the small Python API exported here (docs/python-api.md): ``load_manifests``,
``read_inventory``, ``make_plan``, ``apply_plan``, ``Plan`` and ``EngageLabClient`` with its
settings. How data flows between the modules is in docs/design.md "Data flow".
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Not from `typing`, which would make `import reconciler` alone three times slower (1.2 ms to
# 3.9 ms, -X importtime); mypy treats any constant of this name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from reconciler.api import apply_plan, load_manifests, load_state, make_plan, read_inventory
    from reconciler.apply.executor import ApplyReport
    from reconciler.config.connection import ClientSettings, Credentials
    from reconciler.errors import ReconcilerError
    from reconciler.planning.artifact import Plan
    from reconciler.planning.inputs import Desired
    from reconciler.planning.safety import PlanOptions
    from reconciler.remote.client import EngageLabClient
    from reconciler.remote.observed import Inventory, RemoteSchedule
    from reconciler.state.schema import State


def lazy_names(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``name`` comes from the submodule
    ``homes[name]`` on first use and is kept in ``namespace`` (the package's globals), so later
    uses are plain reads. Also serves ``reconciler.emulator``; it lives here, not in a module of
    its own, so that ``import reconciler`` stays one module. Not part of the Python API (not in
    ``__all__``): the package's own plumbing."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__


# Loaded on first use: `reconciler --help` imports this package and must not pay for the
# planner, pydantic or the HTTP client (tests/test_python_api.py checks it does not).
_HOMES = {
    "apply_plan": "api",
    "load_manifests": "api",
    "load_state": "api",
    "make_plan": "api",
    "read_inventory": "api",
    "ApplyReport": "apply.executor",
    "EngageLabClient": "remote.client",
    "ClientSettings": "config.connection",
    "Credentials": "config.connection",
    "ReconcilerError": "errors",
    "Desired": "planning.inputs",
    "Plan": "planning.artifact",
    "PlanOptions": "planning.safety",
    "Inventory": "remote.observed",
    "RemoteSchedule": "remote.observed",
    "State": "state.schema",
}


if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays an error there
    __getattr__ = lazy_names(__name__, _HOMES, globals())


__all__ = [
    "ApplyReport",
    "ClientSettings",
    "Credentials",
    "Desired",
    "EngageLabClient",
    "Inventory",
    "Plan",
    "PlanOptions",
    "ReconcilerError",
    "RemoteSchedule",
    "State",
    "__version__",
    "apply_plan",
    "load_manifests",
    "load_state",
    "make_plan",
    "read_inventory",
]
