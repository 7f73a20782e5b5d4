"""The binding of a state file to one app on one endpoint.

A state file's schedule ids mean something only on the app that issued them; the binding (a hash
of endpoint and AppKey, so the AppKey itself is never written) keeps a file from being used
against another app.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from reconciler.errors import StateBindingError
from reconciler.state.schema import State


def binding_for(endpoint: str, app_key: str) -> str:
    """The binding of a state file to one app on one endpoint: ``sha256:<hex>``.

    A one-way hash, so the AppKey never appears in the file; the prefix separates this use of
    the hash from any other.
    """
    material = f"engagelab-reconciler/binding/v1\n{endpoint.strip().rstrip('/')}\n{app_key}"
    return "sha256:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def check_binding(state: State, binding: str, *, path: Path | None = None) -> State:
    """``state`` bound to ``binding``: binds an unbound state, refuses one bound elsewhere.

    Returns the (possibly newly bound) state; the caller saves it with its next write.
    """
    if state.binding is None:
        return state.model_copy(update={"binding": binding})
    if state.binding == binding:
        return state
    where = f"the state file {path}" if path is not None else "this state file"
    raise StateBindingError(
        f"{where} belongs to another app or endpoint (its binding {state.binding[:19]}… does not "
        "match this AppKey and endpoint); refusing to use it, since its schedule ids mean "
        "nothing on this app",
        hint="select the matching environment with --env, or check the AppKey variable and "
        "--endpoint / --data-center; to manage this app from scratch, point `state:` in "
        "reconciler.yaml at a new file and adopt existing tasks with "
        "`reconciler import --all-matching`",
    )
