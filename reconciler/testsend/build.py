"""Test sends, the pure half: a manifest's push into batch push requests (docs/api.md section 6).

It refuses content a batch request cannot carry, maps the platform, drops what only makes
sense for the schedule's audience, deduplicates and checks the targets and splits them into
batches of at most 500 requests (and at most ``MAX_BATCH_BYTES`` of JSON); ``send`` sends them.
No call is made here: whatever cannot work is a ``UsageError`` before the first one.

What a test send carries, and what it refuses or leaves out (docs/test-send.md says the
same for users):

* **Refused** (no call is made; every reason is listed):
  ``body.live_activity`` and ``body.voip`` (a batch request has no field for them);
  ``notification`` together with ``message`` unless ``content`` picks one (a batch request
  carries exactly one of them); ``custom_args`` given as text that is not a JSON object (the
  batch API takes an object).
* **Ignored**, with a note: the whole audience ``to`` (``all``, registration_id, alias, tag,
  tag_and, tag_not, seg, live_activity_id): a test send goes only to the listed targets;
  ``from`` and ``request_id`` (no such fields in a batch request);
  ``options.big_push_duration`` (paces delivery to a large audience over minutes, a test goes
  out now); ``options.cid`` (a push's idempotency key: repeated in every request it breaks the
  batch's "target or cid unique" rule, and it could make the server drop the real campaign as
  a duplicate of the test).
* **Mapped**: ``platform`` becomes the smallest batch platform covering it: ``android`` and
  ``ios`` stay, anything else (``all``, ``hmos``, a list of several) becomes ``all``. Only the
  listed devices receive the push, so a wider platform reaches nobody else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.errors import UsageError
from reconciler.printable import has_control, is_utf8

__all__ = [
    "MAX_BATCH",
    "MAX_BATCH_BYTES",
    "BatchContent",
    "SendPlan",
    "batch_platform",
    "build_batches",
    "check_targets",
    "dedupe",
    "parse_targets",
    "plan_send",
    "prepare",
    "refusal_reasons",
]

By = Literal["regid", "alias"]
ContentKind = Literal["notification", "message"]
BatchPlatform = Literal["android", "ios", "all"]

MAX_BATCH = 500  # docs/api.md section 6: 1..500 requests per call
# Not published by the vendor: the emulator's bound on a request body (128 KiB) less a margin
# for JSON encoders that escape more than httpx does.
MAX_BATCH_BYTES = 120 * 1024
_ENVELOPE_BYTES = len(b'{"requests":[]}')
ALIAS_MAX_BYTES = 40  # docs/api.md section 5: aliases are at most 40 bytes

# Push options that belong to a campaign's audience, not to its content (see module docstring).
_AUDIENCE_OPTIONS: dict[str, str] = {
    "big_push_duration": "options.big_push_duration (delivery pacing for a large audience; "
    "a test send goes out now)",
    "cid": "options.cid (a push idempotency key: it would repeat in every request of the batch "
    "and could make the server drop the real campaign as a duplicate)",
}


@dataclass(frozen=True)
class BatchContent:
    """What every request of a test send carries, plus the notes on what was left out."""

    platform: BatchPlatform
    kind: ContentKind
    content: dict[str, Any]
    options: dict[str, Any] | None = None
    custom_args: dict[str, Any] | None = None
    ignored: tuple[str, ...] = ()

    def request(self, target: str) -> dict[str, Any]:
        """One batch request (docs/api.md section 6) for ``target``."""
        item: dict[str, Any] = {"target": target, "platform": self.platform}
        item[self.kind] = self.content
        if self.options:
            item["options"] = self.options
        if self.custom_args is not None:
            item["custom_args"] = self.custom_args
        return item


def batch_platform(platform: Any) -> BatchPlatform:
    """The smallest batch platform (android, ios or all) that covers a push's platform.

    The batch API names only android, ios and all (docs/api.md section 6); HarmonyOS and several
    platforms therefore become ``all``, which reaches no one else since targets are explicit.
    """
    names = [platform] if isinstance(platform, str) else list(platform or [])
    if names == ["android"]:
        return "android"
    if names == ["ios"]:
        return "ios"
    return "all"


def refusal_reasons(push: Mapping[str, Any], content: ContentKind | None = None) -> list[str]:
    """Every reason the push cannot go out as a batch request; empty when it can."""
    body = push.get("body")
    if not isinstance(body, Mapping):
        return ["push.body is missing"]
    reasons: list[str] = []
    if body.get("live_activity") is not None:
        reasons.append(
            "push.body.live_activity: a batch request cannot carry an iOS Live Activity "
            "(only notification or message, docs/api.md section 6)"
        )
    if body.get("voip") is not None:
        reasons.append(
            "push.body.voip: a batch request cannot carry a VoIP push "
            "(only notification or message, docs/api.md section 6)"
        )
    present = [k for k in ("notification", "message") if body.get(k) is not None]
    if content is not None and content not in present:
        reasons.append(f"--content {content}: the push has no {content}")
    elif content is None and len(present) == 2:
        reasons.append(
            "push.body has both notification and message; a batch request carries one of them "
            "(docs/api.md section 6): choose with --content notification or --content message"
        )
    elif not present and not reasons:
        reasons.append("push.body has neither notification nor message")
    custom_args = push.get("custom_args")
    if custom_args is not None and _custom_args_object(custom_args) is None:
        reasons.append(
            "push.custom_args is text that is not a JSON object; the batch API takes an object "
            "(docs/api.md section 6)"
        )
    return reasons


def prepare(
    push: Mapping[str, Any], *, name: str, content: ContentKind | None = None
) -> BatchContent:
    """The batch form of a schedule's ``push``; ``UsageError`` listing every refusal reason."""
    reasons = refusal_reasons(push, content)
    if reasons:
        lines = "\n".join(f"  - {r}" for r in reasons)
        raise UsageError(
            f"schedule {name!r} cannot be test-sent through the batch push API:\n{lines}",
            hint="nothing was sent; test-send covers notification and message pushes only",
        )
    body: Mapping[str, Any] = push["body"]
    kind: ContentKind = content or (
        "notification" if body.get("notification") is not None else "message"
    )
    ignored: list[str] = []
    if push.get("to") is not None:
        ignored.append("push.to (the schedule's audience: only the listed targets receive a test)")
    for key in ("from", "request_id"):
        if push.get(key) is not None:
            ignored.append(f"push.{key} (not part of a batch request)")
    other = "message" if kind == "notification" else "notification"
    if body.get(other) is not None:
        ignored.append(f"push.body.{other} (--content {kind})")
    options: dict[str, Any] | None = None
    raw_options = body.get("options")
    if isinstance(raw_options, Mapping):
        options = {}
        for key, value in raw_options.items():
            if key in _AUDIENCE_OPTIONS:
                ignored.append(_AUDIENCE_OPTIONS[key])
            else:
                options[key] = value
    raw_args = push.get("custom_args")
    return BatchContent(
        platform=batch_platform(body.get("platform")),
        kind=kind,
        content=dict(body[kind]),
        options=options or None,
        custom_args=_custom_args_object(raw_args) if raw_args is not None else None,
        ignored=tuple(ignored),
    )


def _custom_args_object(value: Any) -> dict[str, Any] | None:
    """``custom_args`` as the object the batch API wants (docs/api.md 5: text in some examples)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def parse_targets(text: str, source: str) -> list[tuple[str, int]]:
    """Targets of a targets file with their line numbers: one per line.

    Blank lines and lines starting with ``#`` are skipped; `` #`` after a target starts a
    comment (a label such as ``# Anna's test phone``). Whitespace inside a target is kept so
    that ``check_targets`` can refuse it with its line.

    Lines end at a newline only: ``str.splitlines`` also ends one at a form feed, a file
    separator (``\x1c``) or a NEL, and would cut a target holding one into two targets to send.
    """
    found: list[tuple[str, int]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for marker in (" #", "\t#"):
            cut = line.find(marker)
            if cut != -1:
                line = line[:cut].rstrip()
        found.append((line, number))
    return found


def dedupe(targets: Iterable[str]) -> tuple[list[str], int]:
    """The targets without repeats (first occurrence kept, order kept) and how many repeated."""
    seen: dict[str, None] = {}
    total = 0
    for target in targets:
        total += 1
        seen.setdefault(target, None)
    return list(seen), total - len(seen)


def check_targets(by: By, targets: Sequence[tuple[str, str]]) -> list[str]:
    """Problems with ``(target, where)`` pairs: empty, whitespace, control characters, text
    that is not UTF-8, aliases over 40 bytes. Targets are shown escaped (``repr``)."""
    problems: list[str] = []
    for target, where in targets:
        if not target:
            problems.append(f"{where}: an empty target")
        elif has_control(target):
            # No id or alias holds one (a tab or a form feed included); sent, it would come
            # back in the report and reach the terminal as an escape sequence (an ESC starting
            # an OSC), or cut its line.
            problems.append(f"{where}: {target!r} contains a control character")
        elif any(c.isspace() for c in target):
            problems.append(f"{where}: {target!r} contains whitespace")
        elif not is_utf8(target):
            # A command-line argument in another encoding (its bytes kept as lone surrogates):
            # a request body cannot carry it.
            problems.append(f"{where}: {target!r} is not UTF-8 text")
        elif by == "alias" and len(target.encode("utf-8")) > ALIAS_MAX_BYTES:
            problems.append(
                f"{where}: alias {target!r} is longer than {ALIAS_MAX_BYTES} bytes (docs/api.md 5)"
            )
    return problems


def build_batches(
    content: BatchContent, targets: Sequence[str], *, max_bytes: int | None = None
) -> list[list[dict[str, Any]]]:
    """One request per target, in target order, cut into batches of at most 500 (docs/api.md 6).

    A batch is also cut before its JSON body would pass ``max_bytes`` (``MAX_BATCH_BYTES``):
    the vendor publishes no body limit, but 500 requests of 4000-byte content would make a
    2 MB body that gateways (and the emulator, at 128 KiB) refuse. Smaller calls cost nothing,
    since the push quota counts targets, not calls. ``targets`` must already be unique.
    """
    budget = MAX_BATCH_BYTES if max_bytes is None else max_bytes
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = _ENVELOPE_BYTES
    for target in targets:
        request = content.request(target)
        extra = _json_size(request) + (1 if current else 0)  # the comma between requests
        if current and (len(current) == MAX_BATCH or size + extra > budget):
            batches.append(current)
            current, size = [], _ENVELOPE_BYTES
            extra -= 1
        current.append(request)
        size += extra
    if current:
        batches.append(current)
    return batches


def _json_size(value: Any) -> int:
    """Bytes of ``value`` as the client sends it (httpx: compact separators, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True)
class SendPlan:
    """Everything decided before a test send: endpoint, content, unique targets and batches."""

    name: str
    by: By
    content: BatchContent
    targets: list[str]
    duplicates: int  # targets given more than once (sent once)
    batches: list[list[dict[str, Any]]]

    @property
    def path(self) -> str:
        return f"/v4/batch/push/{self.by}"


def plan_send(
    name: str,
    push: Mapping[str, Any],
    by: By,
    targets: Sequence[tuple[str, str]],
    *,
    content: ContentKind | None = None,
) -> SendPlan:
    """The whole pure side of a test send; ``UsageError`` before any call when it cannot work.

    ``targets`` are ``(target, where)`` pairs, ``where`` naming the flag or file line.
    """
    prepared = prepare(push, name=name, content=content)
    if not targets:
        raise UsageError(
            "no targets to send to",
            hint="give --regid ID, --alias ALIAS (repeatable) or --targets-file FILE",
        )
    problems = check_targets(by, targets)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise UsageError(
            f"{len(problems)} invalid target(s); nothing was sent:\n{lines}",
            hint="a target is one registration id or alias, without spaces or control characters",
        )
    unique, duplicates = dedupe(t for t, _ in targets)
    return SendPlan(
        name=name,
        by=by,
        content=prepared,
        targets=unique,
        duplicates=duplicates,
        batches=build_batches(prepared, unique),
    )
