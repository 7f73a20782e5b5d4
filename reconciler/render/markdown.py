"""Plans and drift reports as Markdown for pull-request comments: a hidden marker line (which
comment to update), a counts table, then one ``<details>`` block per schedule with its diff.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from reconciler.planning import firing_changes
from reconciler.planning.actions import Action, DeleteAction, DriftItem, ReplaceAction, UpdateAction
from reconciler.planning.artifact import Plan
from reconciler.planning.diff import FieldChange
from reconciler.render.describe import (
    DRIFT_LOOK,
    LOOK,
    TWINS_TITLE,
    about_action,
    change_texts,
    detail_lines,
    drift_counts,
    drift_summary_line,
    fire_line,
    firing_rows,
    leaves,
    plan_zone,
    summary_line,
    twin_lines,
    value_text,
)


def _fence(body: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{body}\n{ticks}"


def _md_diff_lines(a: Action, plan: Plan) -> list[str]:
    lines: list[str] = []
    changes = a.changes if isinstance(a, UpdateAction | ReplaceAction) else []
    lines += _change_lines(changes)
    if not changes:
        for mark, text in detail_lines(a):
            lines.append(f"{'!' if mark == '~' else mark} {text}")
    if isinstance(a, DeleteAction):
        lines += [f"- {path}: {value_text(v)}" for path, v in leaves(a.old_body)]
    fires = fire_line(a, plan)
    if fires:
        lines.append(f"# {fires[1]}")
    return lines


def _change_lines(changes: Sequence[FieldChange]) -> list[str]:
    """A diff's lines of the changed fields: the old value, then the new one."""
    lines: list[str] = []
    for c in changes:
        old, new = change_texts(c.old, c.new)
        if c.old is not None:
            lines.append(f"- {c.path}: {old}")
        if c.new is not None:
            lines.append(f"+ {c.path}: {new}")
    return lines


def _md_counts_table(headers: list[str], values: list[int]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---:|" * len(headers),
        "| " + " | ".join(str(v) for v in values) + " |",
    ]


def _md_list(title: str, items: list[str], *, spans: bool = True) -> list[str]:
    if not items:
        return []
    shown = [_code_span(item) if spans else item for item in items]
    return ["", f"**{title}**", "", *(f"- {item}" for item in shown)]


def _words(text: str) -> str:
    """A name or a detail in an HTML block of the comment (a ``<summary>``): escaped, and in a
    ``<code>`` element when it holds an "@": GitHub turns "@team" in the text of a comment
    into a mention that notifies the team, also inside HTML, but not inside code. A server's
    task name or a detail quoting one can hold any text."""
    shown = html.escape(text)
    return f"<code>{shown}</code>" if "@" in text else shown


def _code_span(text: str) -> str:
    """``text`` as a code span: shown as it is, never read as Markdown. A warning or a violation
    quotes a server's words (a task's name, an error's message), and as Markdown they made
    links, images that load on sight, bold "approved" text and @-mentions that notify a team in
    the pull request's comment. The run of backticks is longer than any inside; the blanks
    either side are dropped by the renderer, and let the text start or end with a backtick."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {' '.join(text.splitlines())} {ticks}"


def _md_details(summary: str, body_lines: list[str]) -> list[str]:
    out = ["", "<details>", f"<summary>{summary}</summary>", ""]
    if body_lines:
        out += [_fence("\n".join(body_lines), "diff"), ""]
    out.append("</details>")
    return out


def render_markdown(plan: Plan, title: str, *, env: str = "default") -> str:
    """A PR comment: hidden marker line first, counts table, one <details> per schedule."""
    c = plan.counts()
    out = [f"<!-- reconciler-plan:{env} -->", f"### {html.escape(title, quote=False)}", ""]
    headers = ["create", "update", "replace", "delete", "expired", "conflict", "unmanaged", "skip"]
    values = [c["create"] + c["recreate"], c["update"] + c["refresh"], *(c[h] for h in headers[2:])]
    out += _md_counts_table(headers, values)
    out += ["", summary_line(plan) if plan.has_changes else "No changes."]
    out += _md_list(TWINS_TITLE, twin_lines(plan))
    out += _md_list("Safety violations — apply will refuse this plan:", plan.violations)
    out += _md_list("Warnings:", plan.warnings)
    # A manifest's name and the state's (both schedule names: letters, digits, _, Chinese
    # characters, blanks and hyphens), each in a code span of its own.
    renames = [f"`{old}` → `{new}`" for new, old in sorted(plan.renames.items())]
    out += _md_list(
        "Renames (the task is kept; its state entry follows the manifest):", renames, spans=False
    )
    # Before the schedules' details: a comment too long for GitHub keeps its beginning.
    tz = plan_zone(plan.timezone)
    rows = firing_rows(plan)
    if rows:
        out += firing_changes.markdown(rows, tz, firing_changes.window(plan)[0])
    for a in plan.actions:
        marker, _, verb = LOOK[a.kind]
        about = about_action(a)
        summary = f"<code>{html.escape(marker)}</code> {verb} <b>{_words(a.name)}</b>" + (
            f" — {_words(about)}" if about else ""
        )
        out += _md_details(summary, _md_diff_lines(a, plan))
    out.append("")
    out.append(f"<sub>planned at {plan.planned_at} · checksum <code>{plan.checksum}</code></sub>")
    return "\n".join(out) + "\n"


def render_drift_markdown(
    plan: Plan, title: str, *, env: str = "default", extra: Sequence[DriftItem] = ()
) -> str:
    """Drift as Markdown: hidden marker line first, counts table, one <details> per item."""
    items = [*plan.drift_items(), *extra]
    c = drift_counts(items)
    out = [f"<!-- reconciler-drift:{env} -->", f"### {html.escape(title, quote=False)}", ""]
    headers = ["remote edits", "remote deletions", "unmanaged", "unapplied"]
    values = [c["remote_edit"], c["remote_delete"], c["unmanaged"], c["unapplied"]]
    if c["policy"]:  # the column only when there is one: reports without policies keep theirs
        headers.append("policy violations")
        values.append(c["policy"])
    out += _md_counts_table(headers, values)
    out += ["", drift_summary_line(items)]
    out += _md_list("Warnings:", plan.warnings)
    for item in items:
        marker, _, verb = DRIFT_LOOK[item.kind]
        summary = (
            f"<code>{html.escape(marker)}</code> {verb} <b>{_words(item.name)}</b> "
            f"— {_words(item.detail)}"
        )
        out += _md_details(summary, _change_lines(item.changes))
    out += ["", f"<sub>checked at {plan.planned_at}</sub>"]
    return "\n".join(out) + "\n"
