"""Writing manifests for remote tasks: the text of one file and a safe, unique file name.

One job: turn a remote task's body into a manifest a person would have written by hand (block
style, date-times quoted, keys in the order the docs list them, values in their normal form, the
JSON-Schema modeline, a comment saying where it came from). Pure apart from ruamel.yaml's
emitter, which is imported on first use (no other command pays for it).
"""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler import printable, redact
from reconciler.planning import canonical

# The order the manifest reference lists keys in; keys not listed follow in the body's order.
_ORDER: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("name", "enabled", "trigger", "push"),
    ("trigger",): canonical.TRIGGER_KINDS,
    ("trigger", "single"): ("time", "zone_type"),
    ("trigger", "periodical"): (
        "start",
        "end",
        "time",
        "time_unit",
        "point",
        "frequency",
        "zone_type",
    ),
    ("trigger", "intelligent"): ("backup_time",),
    ("push",): ("from", "to", "body", "request_id", "custom_args"),
    ("push", "to"): (
        "registration_id",
        "alias",
        "tag",
        "tag_and",
        "tag_not",
        "seg",
        "live_activity_id",
    ),
    ("push", "body"): ("platform", "notification", "message", "live_activity", "voip", "options"),
    ("push", "body", "notification"): ("alert", "android", "ios", "hmos"),
    ("push", "body", "message"): ("msg_content", "title", "content_type", "extras"),
}

# Strings a YAML reader could take for something else (a number, a boolean, null, a date), and
# the API's date-times: written in double quotes, as the manifest reference shows them.
_QUOTE = re.compile(
    r"""^(?:
        $                                              # empty
      | [-+]?(?:\d[\d_]*)?\.?\d[\d_:.eE+-]*            # numbers in any YAML version's forms
      | 0[xXoObB][0-9a-fA-F_]+
      | [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
      | (?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE
          |on|On|ON|off|Off|OFF|null|Null|NULL|~)
      | \d{4}-\d\d-\d\d(?:[ Tt].*)?                    # dates and date-times
      | \d\d:\d\d(?::\d\d)?                            # times of day
    )$""",
    re.VERBOSE,
)

# Characters YAML readers take for line breaks besides LF and CR: in a plain or single-quoted
# scalar the emitter writes them as they are, and the reader folds them with the next line's
# indentation into spaces (an alert's text changed on its way back); in double quotes they
# are escaped.
_BREAKS = re.compile("[\x85\u2028\u2029]")

# What a reviewer cannot see (``printable.UNSEEN``: the bidirectional controls and marks, the
# zero-width characters) is written in double quotes as `\u202e` escapes, which load back as the
# same character; a plain scalar has no escapes.
_UNSEEN = printable.UNSEEN


def _spelled(text: str) -> str:
    """``text`` with the C1 controls and the characters of ``_UNSEEN`` written as escapes."""
    text = printable.never_raw(text)
    return _UNSEEN.sub(lambda m: printable.spelled(m.group()), text)


_SLUG_DROP = re.compile(r"[^A-Za-z0-9_-]+")

# Windows reserves these device names with any extension: git cannot check out a `con.yaml`
# there ("invalid path"), so a schedule named so gets the id appended like a lossy name.
_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"{d}{n}" for d in ("com", "lpt") for n in range(10))}
)


def manifest_text(
    body: Mapping[str, Any],
    *,
    schedule_id: str,
    exported_at: datetime,
    schema_ref: str | None,
    problems: Sequence[str] = (),
) -> str:
    """The YAML of one manifest for a remote task's ``body`` (``schedule_id`` left out).

    ``problems`` (what the manifest models reject in it) are written at the top as comments,
    so the file is never dropped silently and the next ``validate`` points at it.
    """
    lines: list[str] = []
    if schema_ref:
        lines += [f"# yaml-language-server: $schema={schema_ref}", "#"]
    lines.append(
        f"# Exported by `reconciler export` from remote task {schedule_id} "
        f"on {exported_at.isoformat(timespec='seconds')}."
    )
    if problems:
        lines.append("#")
        lines.append("# NEEDS ATTENTION: the reconciler cannot manage this manifest as written:")
        # One comment line each, whatever a message quotes: a line break in one would end
        # the comment, and what follows it would be read as the manifest's YAML.
        lines += [f"#   {printable.escaped(p)}" for p in problems]
        # A manifest of another name is another schedule: applied, it fired beside this task.
        lines.append(
            "# Fix it, then run `reconciler validate`. A problem with the name: rename the "
            "remote task\n# (import adopts a task under its own name only); a manifest of "
            "another name is another\n# schedule, created beside this task, and both fire."
        )
    return _spelled("\n".join(lines)) + "\n" + dump_yaml(normal_form(body))


def normal_form(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as a manifest writes it: canonical values, keys in the documented order."""
    ordered: dict[str, Any] = _ordered(canonical.canonicalize(body), ())
    return ordered


def _ordered(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        if path and path[-1] in canonical.PASSTHROUGH_KEYS:
            return dict(value)  # the vendor's open objects stay as they are
        order = _ORDER.get(path, ())
        keys = [k for k in order if k in value] + [k for k in value if k not in order]
        return {k: _ordered(value[k], (*path, str(k))) for k in keys}
    if isinstance(value, list):
        return [_ordered(item, path) for item in value]
    return value


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Block-style YAML of ``data``: two-space indents, lists indented under their key."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    # Never fold a long text over lines: an alert stays on its line, and no folded line can
    # start with a word of the text (a "::error ..." after a blank would begin a line).
    yaml.width = sys.maxsize
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(_styled(data), out)
    # Every string holding such a character is double-quoted (``_styled``); the emitter
    # escapes the C1 controls there itself, but writes these as they are.
    return _spelled(out.getvalue())


def _styled(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[_styled(key) if isinstance(key, str) else key] = _styled(item)
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_styled(item) for item in value)
        if not value:
            seq.fa.set_flow_style()  # `point: []`, not a dangling key
        return seq
    if isinstance(value, Redacted):
        return _redacted(value)
    if isinstance(value, str) and (
        _QUOTE.match(value)
        or _BREAKS.search(value)
        or _UNSEEN.search(value)
        or "::" in value
        or "##[" in value
    ):
        # "::": a key (or a list item of a flow) written plain starts its line with it, and
        # GitHub Actions runs a line starting "::error ..." (after blanks) as a workflow
        # command: `remote show`, `export` and `validate --explain` print these files. "##[":
        # the output writes it "#\u0023[" (``printable.inert``), which reads back as "##[" in
        # double quotes only.
        return DoubleQuotedScalarString(value)
    return value


class Redacted(str):
    """A key or text ``without_credentials`` changed: written with the ``!redacted`` tag, which
    the manifest reader refuses, so the placeholder can never reach users as a push's text."""

    __slots__ = ()


def _redacted(value: str) -> Any:
    from ruamel.yaml.comments import TaggedScalar

    from reconciler.redact import REDACTED_TAG

    return TaggedScalar(value=str(value), style='"', tag=REDACTED_TAG)


def file_stem(name: str, schedule_id: str, taken: Iterable[str]) -> str:
    """A file name stem for a schedule: readable, safe on every file system, not in ``taken``.

    ASCII letters, digits, ``_`` and ``-`` of the name, lower-cased; a name that loses
    characters (Chinese, spaces) or collides gets the first characters of its id appended.
    ``taken`` holds stems already in use, compared case-insensitively (macOS, Windows). A
    Windows device name (``con``, ``aux``, ``com1``...) is never a stem on its own.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("_", ascii_name).strip("_-").lower()[:80]
    used = {t.lower() for t in taken}
    lossless = slug == name.lower() and slug not in _DEVICES
    safe_id = _SLUG_DROP.sub("", schedule_id).lower()
    candidates = [slug] if slug and lossless else []
    candidates += [f"{slug or 'schedule'}-{safe_id[:n]}" for n in (8, 16, len(safe_id))]
    for stem in candidates:
        if stem and stem.lower() not in used:
            return stem
    n = 2
    while f"{candidates[-1]}-{n}" in used:
        n += 1
    return f"{candidates[-1]}-{n}"


def without_credentials(
    body: Mapping[str, Any], scrub: Callable[[str], str]
) -> tuple[dict[str, Any], list[str]]:
    """``body`` with ``scrub`` applied to every key and string in it, and where it changed any.

    ``scrub`` replaces the configured credentials (``redact.output_scrubber``): a task whose
    name or alert holds the AppKey or Master Secret must not put it into a manifest (a file
    that is committed) nor into the file's name.
    """
    where: list[redact.Where] = []
    cleaned: dict[str, Any] = redact.scrub_tree(body, scrub, where, mark=Redacted)
    found = [
        f"a key under {_dotted(path[:-1]) or 'the body'}" if key else _dotted(path) or "the body"
        for path, key in where
    ]
    return cleaned, found


def _dotted(path: tuple[Any, ...]) -> str:
    """``a.b[0].c`` for the path ("a", "b", 0, "c")."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out
