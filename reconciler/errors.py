"""The whole exception tree of the reconciler, in one place.

Every failure a user can cause or meet is one of these. ``cli.main`` is the only place that turns
them into a message and an exit code; nothing else prints tracebacks or calls ``sys.exit``.

    ReconcilerError                  root: .message (what and where) and .hint (what to do)
    ├── UsageError                   a flag or argument combination that cannot work
    ├── ConfigError                  reconciler.yaml, environment, endpoint settings
    │   └── CredentialsError         AppKey / Master Secret missing or malformed
    ├── ManifestError                one or more manifest problems (file, line, column, text)
    ├── RemoteError                  anything that went wrong talking to the API
    │   ├── ApiError                 the server answered with an error body (status, code)
    │   │   ├── AuthError            401 / 28101 / 21004: wrong AppKey or Master Secret
    │   │   ├── NotFoundError        404 / 28104: no such schedule (or already sent)
    │   │   ├── RateLimitError       429 / 28100 "rate exceeded" / 23008
    │   │   ├── ServerError          5xx / 28200 / 28203: retryable server trouble
    │   │   └── RequestRejectedError 4xx validation errors: never retried
    │   ├── MalformedResponseError   an answer that is not JSON or not of the documented shape
    │   ├── ConnectionFailedError    no answer at all after the retry budget was spent
    │   ├── ServerStormError         not sent: the server refused or failed everything lately
    │   ├── AmbiguousCreateError     a create whose outcome is unknown: look it up before retry
    │   └── AmbiguousPushError       a batch push whose outcome is unknown: never re-sent blindly
    ├── InventoryError               the remote list could not be read completely
    ├── StateError                   the state file
    │   ├── StateCorruptError        unreadable / wrong schema (points at the .backup)
    │   ├── StateBindingError        bound to another app or endpoint
    │   ├── StateInvariantError      parses, but names, ids or journal contradict each other
    │   └── StateLockedError         another apply holds the lock
    ├── PlanError
    │   ├── UnsafePlanError          safety rules refused the plan (all reasons listed)
    │   └── StalePlanError           a saved plan no longer matches the world
    └── ApplyError                   one or more actions failed during apply

Messages never contain credentials: no exception here stores request headers, and the client
scrubs AppKey and Master Secret from anything it copies out of a response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.printable import escaped


class ReconcilerError(Exception):
    """Root of every expected failure; carries a one-line hint for the user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(ReconcilerError):
    """A command-line flag or argument combination that cannot work."""


class ConfigError(ReconcilerError):
    """reconciler.yaml, an environment setting or an endpoint is wrong."""


class CredentialsError(ConfigError):
    """AppKey or Master Secret missing or malformed (checked before any call)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious) in a manifest, with its location."""

    path: str
    line: int | None
    col: int | None
    message: str
    severity: str = "error"  # "error" | "warning"

    def where(self) -> str:
        # A problem's line starts with its path: one starting with "::" (a directory named so,
        # a `manifests:` path of reconciler.yaml) would be a workflow command in a CI log. The
        # same path with "./" before it.
        path = f"./{self.path}" if self.path.lstrip().startswith("::") else self.path
        if self.line is None:
            return path
        if self.col is None:
            return f"{path}:{self.line}"
        return f"{path}:{self.line}:{self.col}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.severity}: {self.message}"

    def located(self) -> str:
        """The place and the message, without the severity: for a line its caller already
        marks ("warning: " before it)."""
        return f"{self.where()}: {self.message}"

    def strictly(self) -> Problem:
        """The problem as ``--strict`` sees it: a warning is an error, marked once."""
        if self.severity != "warning":
            return self
        mark = "" if "--strict" in self.message else " (--strict)"
        return Problem(self.path, self.line, self.col, f"{self.message}{mark}", "error")


class ManifestError(ReconcilerError):
    """One or more manifest problems, all collected before failing."""

    def __init__(self, problems: Sequence[Problem], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        count = sum(1 for p in self.problems if p.severity == "error")
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(
            f"{count} problem(s) in the manifests:\n{lines}",
            hint=hint or "fix the manifests at the places above, then run `reconciler validate`",
        )


class RemoteError(ReconcilerError):
    """Anything that went wrong talking to the EngageLab API."""


class ApiError(RemoteError):
    """The server answered with an error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        method: str = "",
        path: str = "",
        hint: str | None = None,
    ) -> None:
        where = f"{method} {path}".strip()
        code_text = f", code {code}" if code is not None else ""
        full = f"{where}: HTTP {status}{code_text}: {message}" if where else message
        super().__init__(full, hint=hint)
        self.status = status
        self.code = code
        self.vendor_message = message
        self.method = method
        self.path = path


class AuthError(ApiError):
    """Wrong AppKey or Master Secret (401 / 28101 / 21004)."""


class NotFoundError(ApiError):
    """No such schedule, or it was already sent (404 / 28104)."""


class RateLimitError(ApiError):
    """The server asked us to slow down."""


class ServerError(ApiError):
    """5xx / 28200 / 28203: server-side trouble worth a retry."""


class RequestRejectedError(ApiError):
    """A 4xx validation error: the request itself is wrong, never retried."""


class MalformedResponseError(RemoteError):
    """An answer that is not JSON or not of the documented shape."""


class ConnectionFailedError(RemoteError):
    """No usable answer after the retry budget was spent."""


class ServerStormError(RemoteError):
    """Not sent: requests in a row gave up with the retry budget spent (nothing was written)."""


class AmbiguousCreateError(RemoteError):
    """A create whose outcome is unknown: it may or may not exist on the server.

    Never retried blindly: the caller looks the task up by ``name`` and ``fingerprint`` first.
    """

    def __init__(self, message: str, *, name: str, fingerprint: str) -> None:
        super().__init__(
            message,
            hint="re-run the command: the reconciler looks the task up by name before creating",
        )
        self.name = name
        self.fingerprint = fingerprint


class AmbiguousPushError(RemoteError):
    """A batch push whose outcome is unknown: some or all targets may have been sent to.

    Never retried by the client: re-sending could push twice to real users.
    """

    def __init__(self, message: str, *, targets: Sequence[str]) -> None:
        super().__init__(
            message,
            hint="check the message ids / delivery report before sending to these targets again",
        )
        self.targets = tuple(targets)


class InventoryError(ReconcilerError):
    """The remote schedule list could not be read completely."""


class StateError(ReconcilerError):
    """Something is wrong with the state file."""


class StateCorruptError(StateError):
    """The state file cannot be parsed or has the wrong schema."""


class StateBindingError(StateError):
    """The state file belongs to another app or endpoint."""


class StateInvariantError(StateError):
    """A state file that parses but contradicts itself; each problem comes with its repair.

    Raised on load, before any request: acting on such a file can leave two live tasks of one
    schedule or delete a task no name manages.
    """

    def __init__(self, path: object, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(
            f"  - {message}\n    repair: {repair}" for message, repair in self.problems
        )
        super().__init__(
            f"the state file {path} is inconsistent ({len(self.problems)} problem(s)); nothing "
            f"was sent:\n{lines}",
            hint="run the repair commands above (with the same --config / --env as this "
            "command); each keeps the previous file as the .backup",
        )


class StateLockedError(StateError):
    """Another process holds the state lock."""


class PlanError(ReconcilerError):
    """A plan cannot be made or used."""


class UnsafePlanError(PlanError):
    """Safety rules refused the plan; every reason is listed."""

    def __init__(
        self, reasons: Sequence[str], *, hint: str | None = None, shown: bool = False
    ) -> None:
        self.reasons = list(reasons)
        if shown:  # `plan` printed them with the plan (and applies nothing anyway)
            message = (
                f"the plan breaks {len(self.reasons)} safety rule(s), listed with it above; "
                "apply would refuse it"
            )
        else:
            # Spelled out: a saved plan's reasons come from a file anyone can edit.
            text = "\n".join(f"  - {escaped(r)}" for r in self.reasons)
            message = f"the plan is unsafe and was not applied:\n{text}"
        super().__init__(message, hint=hint)


class StalePlanError(PlanError):
    """A saved plan whose inputs no longer match the world."""


class ApplyError(ReconcilerError):
    """One or more actions failed during apply (the others were carried out)."""

    def __init__(self, failures: Sequence[str], *, hint: str | None = None) -> None:
        self.failures = list(failures)
        text = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(f"{len(self.failures)} action(s) failed:\n{text}", hint=hint)
