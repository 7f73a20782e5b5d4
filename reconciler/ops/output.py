"""Output files of the operations (a plan, a drift report, a calendar): written whole, with
the configured credentials redacted as on the terminal (the files are uploaded, posted on
pull requests and kept as artifacts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler import files, redact
from reconciler.errors import UsageError
from reconciler.printable import never_raw

if TYPE_CHECKING:
    from reconciler.planning.artifact import Plan


def write_output(path: str, text: str, what: str, *, scrub: bool = True) -> None:
    """Write an output file (``--out``, ``--report``); a failure is a message naming the path.

    ``scrub``: redact the credentials in ``text`` and write what reorders a line or starts a
    terminal's sequence as escapes (a report for people, ``printable.never_raw``); a plan file is
    redacted where it only shows values (``plan_file_text``), its checksum kept true.
    """
    if scrub:
        text = never_raw(redact.output_scrubber()(text))
    try:
        files.write_regular(path, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(
            f"cannot write the {what} to {path}: {files.reason(exc)}",
            hint="check that its directory exists and is writable",
        ) from exc


def plan_file_text(plan: Plan) -> str:
    """The plan file of ``plan``, with the credentials redacted in what it only shows.

    The old and new values of each change, a deleted task's last body and the warnings come
    from remote tasks (a manifest holding a credential is refused): they are shown, never sent,
    so a redacted copy (checksummed again) applies exactly as the plan would. The bodies to
    send are left as they are: were one to hold a credential, the saved plan would no longer
    match its manifests and apply would refuse it.
    """
    scrub = redact.output_scrubber()

    def holds(value: object) -> bool:
        found: list[redact.Where] = []
        redact.scrub_tree(value, scrub, found)
        return bool(found)

    touched = any(
        holds([[c.path, c.old, c.new] for c in getattr(a, "changes", ())])
        or holds(getattr(a, "old_body", None))
        for a in plan.actions
    ) or holds(list(plan.warnings))
    if not touched:
        return plan.to_json()
    data = plan.model_dump(mode="json")  # redacted whole, then read back as the file's plan
    for action in data["actions"]:
        for key in ("changes", "old_body"):
            if key in action:
                action[key] = redact.scrub_tree(action[key], scrub)
    data["warnings"] = redact.scrub_tree(data["warnings"], scrub)
    redacted = type(plan).model_validate(data)
    return redacted.model_copy(update={"checksum": redacted.compute_checksum()}).to_json()
