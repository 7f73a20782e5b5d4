"""``validate --explain NAME``: a manifest's merged body, each value with the file and line of
the layer it came from.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from reconciler.manifests.layers import Stack
from reconciler.manifests.yamlpaths import PathKey
from reconciler.printable import columns, json_string, padded, shown_json

if TYPE_CHECKING:
    from reconciler.manifests.load import ManifestSet


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def explain(stack: Stack) -> str:
    """The merged body as YAML, each value followed by ``# file:line`` of where it was written."""
    rows: list[tuple[str, str]] = []

    def scalar(value: Any) -> str:
        return shown_json(json.dumps(value, ensure_ascii=False))

    def label(key: Any) -> str:
        # A key that is not a plain word is written as a JSON string (YAML reads it so): raw,
        # "k\n::error ..." would start a line GitHub Actions runs, "::error ..." would be one.
        text = str(key)
        return text if _PLAIN_KEY.fullmatch(text) else json_string(text)

    def walk(value: Any, path: PathKey, indent: str, lead: str) -> None:
        # ``lead`` is "key: " or "- ": what goes before the value on its first line
        if isinstance(value, dict) and value:
            rows.append((f"{indent}{lead}".rstrip(), stack.origin(path) if path else ""))
            inner = indent + "  "
            for key, item in value.items():
                walk(item, (*path, key), inner, f"{label(key)}: ")
        elif isinstance(value, list) and value:
            rows.append((f"{indent}{lead}".rstrip(), stack.origin(path)))
            for n, item in enumerate(value):
                walk(item, (*path, n), indent + "  ", "- ")
        else:
            text = scalar(value)  # also {} and []: JSON is YAML's flow style
            rows.append((f"{indent}{lead}{text}", stack.origin(path)))

    for key, item in stack.data.items():
        walk(item, (key,), "", f"{label(key)}: ")
    width = max((columns(text) for text, _ in rows), default=0)
    return "\n".join(
        f"{padded(text, width)}  # {origin}" if origin else text for text, origin in rows
    )


def explain_text(result: ManifestSet, name: str) -> tuple[str, bool]:
    """``validate --explain NAME``: the merged body of ``name`` and whether it was found."""
    for manifest in result.manifests:
        if manifest.name == name:
            stack = manifest.stack or Stack({}, [])
            sources = list(dict.fromkeys(layer.display for layer in stack.layers))
            head = f"# {name}: merged from {', '.join(sources)} (lowest first)"
            return f"{head}\n{explain(stack)}\n", True
    return (
        f"# {name}: no valid schedule has this name (its problems, if any, are listed below)\n",
        False,
    )
