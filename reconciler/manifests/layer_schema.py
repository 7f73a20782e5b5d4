"""The JSON Schemas of the layered files: a manifest (with ``extends``), a defaults or base
file, and an overlay file (``validate --schema``, docs/layers.md).
"""

from __future__ import annotations

from typing import Any

from reconciler.manifests.layer_files import EXTENDS
from reconciler.manifests.models import manifest_json_schema
from reconciler.manifests.overlays import SHIFT, SHIFT_HELP, SHIFT_PATTERN

SCHEMA_KINDS = ("manifest", "defaults", "overlay")


def layered_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a manifest (with ``extends``), of a defaults or base file (every key
    optional, no ``name``), or of an overlay file (schedule name -> patch with ``shift``)."""
    schema = manifest_json_schema()
    extends = {
        "type": "string",
        "description": "a base file (name starting with '_') merged under this manifest, "
        "relative to this file, inside the manifest directory",
    }
    schema["properties"][EXTENDS] = extends
    if kind == "manifest":
        return schema
    partial: dict[str, Any] = _optional(schema)
    partial["properties"].pop("name", None)
    partial["title"] = "EngageLab schedule defaults or base file"
    partial["description"] = (
        "Values merged under the manifests: _defaults.yaml under every manifest of its "
        "directory and below, a base file under the manifests that name it in `extends`"
    )
    if kind == "defaults":
        return dict(partial)
    patch = {k: v for k, v in partial.items() if k not in ("$schema", "$defs", "title")}
    patch["properties"] = {k: v for k, v in patch["properties"].items() if k != EXTENDS}
    patch["properties"][SHIFT] = {
        "type": ["string", "null"],
        "pattern": SHIFT_PATTERN.pattern,
        "description": f"moves the trigger's date-times: {SHIFT_HELP}; null: no shift (under "
        "a schedule's name, cancels the '*' patch's shift)",
    }
    patch["description"] = "merged over the schedule of this name ('*': every schedule)"
    return {
        "$schema": schema["$schema"],
        "$defs": partial["$defs"],
        "title": "EngageLab environment overlay file",
        "description": "schedule name -> patch merged over that manifest",
        "type": "object",
        "additionalProperties": patch,
    }


def _optional(node: Any) -> Any:
    """A copy of a schema with no ``required`` anywhere (a layer gives only some values)."""
    if isinstance(node, dict):
        return {k: _optional(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_optional(v) for v in node]
    return node
