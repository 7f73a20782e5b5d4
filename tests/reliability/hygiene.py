"""What no run may ever leave behind, whatever it was doing: tracebacks, the credentials in use
(in any form, in its output or in any file), and writes to tasks the reconciler does not own.

Shared by the crash campaign and its variants; ``check`` adds the counts to a campaign's
figures and returns what it found, as text for the assertion.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.emulator import DEMO_APP_KEY, DEMO_MASTER_SECRET
from reconciler.emulator.core import RequestRecord
from tests.reliability.campaign import Figures
from tests.reliability.world import writes

TRACEBACK = "Traceback (most recent call last)"


def _secret_forms() -> dict[str, str]:
    pair = f"{DEMO_APP_KEY}:{DEMO_MASTER_SECRET}"
    forms = {
        "AppKey": DEMO_APP_KEY,
        "Master Secret": DEMO_MASTER_SECRET,
        "Basic token": base64.b64encode(pair.encode()).decode(),
        "URL-encoded pair": urllib.parse.quote(pair, safe=""),
        "base64 Master Secret": base64.b64encode(DEMO_MASTER_SECRET.encode()).decode(),
        "base64 AppKey": base64.b64encode(DEMO_APP_KEY.encode()).decode(),
    }
    return forms


SECRET_FORMS = _secret_forms()


def leaks_in(text: str) -> list[str]:
    """The credential forms ``text`` holds (the emulator's pair, which every run here uses)."""
    return [what for what, value in SECRET_FORMS.items() if value in text]


def files_text(roots: Iterable[Path]) -> dict[str, str]:
    """Every file under ``roots`` except run logs (those are outputs, searched as such)."""
    out: dict[str, str] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.suffix != ".log":
                out[str(path)] = path.read_text("utf-8", "replace")
    return out


def foreign(log: Iterable[RequestRecord], unmanaged: set[str]) -> int:
    """PUT/DELETE requests on a task the reconciler does not own (an unmanaged task)."""
    return sum(
        1 for r in writes(log) if r.method != "POST" and r.path.rsplit("/", 1)[-1] in unmanaged
    )


def check(
    figures: Figures,
    outputs: Sequence[str],
    log: Iterable[RequestRecord],
    unmanaged: set[str],
    roots: Sequence[Path],
) -> list[str]:
    """Count tracebacks, leaks and foreign writes into ``figures``; describe each found."""
    problems: list[str] = []
    for i, text in enumerate(outputs):
        if TRACEBACK in text:
            problems.append(f"run {i}: traceback")
        problems.extend(f"run {i}: {what} in the output" for what in leaks_in(text))
    file_leaks = [
        f"{path}: {what}" for path, text in files_text(roots).items() for what in leaks_in(text)
    ]
    problems.extend(f"credential in {f}" for f in file_leaks)
    foreign_writes = foreign(log, unmanaged)
    if foreign_writes:
        problems.append(f"{foreign_writes} write(s) to tasks the reconciler does not manage")
    figures.hygiene_counted = True
    figures.tracebacks += sum(t.count(TRACEBACK) for t in outputs)
    figures.leaks += len(file_leaks) + sum(len(leaks_in(t)) for t in outputs)
    figures.foreign_writes += foreign_writes
    return problems
