"""Rendering: plans and drift reports for their readers, one module per format.

``text`` for a terminal (colour when :func:`use_color` says so), ``machine`` for scripts and CI
(JSON), ``markdown`` for pull-request comments; ``describe`` is what the three say alike about
an action, a drift item and the summary. Makes no decisions: everything shown comes from the
:class:`~reconciler.planning.artifact.Plan`.

A command picks a format by the user's ``--format``, so the entry points of every format are
named here, side by side.
"""

from reconciler.render.machine import render_drift_json, render_json
from reconciler.render.markdown import render_drift_markdown, render_markdown
from reconciler.render.text import render_drift_text, render_text, use_color

__all__ = [
    "render_drift_json",
    "render_drift_markdown",
    "render_drift_text",
    "render_json",
    "render_markdown",
    "render_text",
    "use_color",
]
