"""Fault injection: the ``Faults`` switches and the seeded dice and token buckets that apply them.

Faults exist so the client's retry, rate-limit and recovery paths can be exercised against a real
server. All randomness comes from one ``random.Random`` seeded by ``Faults.seed``, and all rate
budgets from an injectable monotonic clock, so a fault scenario is reproducible in tests.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

CommitFault = Literal["hang", "drop"]
MAX_RETRY_AFTER = 86_400  # a tiny rate would otherwise ask for years (or overflow)
RateLimitShape = Literal["429", "28100"]
RATE_LIMIT_SHAPES: tuple[RateLimitShape, ...] = ("429", "28100")
# Global batch errors the ``batch_error`` fault may answer (all HTTP 400, docs/emulator.md).
BATCH_ERRORS = (21038, 21043, 23009, 21009, 23008)


@dataclass(frozen=True)
class Faults:
    """Which faults the emulator injects; the defaults inject none.

    - ``latency_ms`` / ``jitter_ms``: every API request waits ``latency_ms + uniform(0, jitter)``.
    - ``error_rate``: fraction of API requests answered 500/28200 or 503/28203 (half each),
      before anything is applied.
    - ``commit_then_timeout_rate``: fraction of successful writes (POST/PUT/DELETE) that are
      applied but whose answer is delayed by ``hang_seconds`` (> 0) or, with ``hang_seconds``
      0, never sent: the connection is dropped.
    - ``rate_limit``: schedule requests per second; beyond it the answer ``rate_limit_shape``
      names: ``"429"`` (HTTP 429 with ``Retry-After``) or ``"28100"`` (the vendor page's shape:
      HTTP 400, code 28100, message "rate limit exceeded", no ``Retry-After``).
    - ``no_target_rate``: fraction of valid schedule creates and updates answered 404/28105
      ("no push target for the scheduled time"), nothing applied.
    - ``batch_error``: a global batch error code (21038, 21043, 23009, 21009 or 23008) answered
      with HTTP 400 to a fraction ``batch_error_rate`` of batch push calls, nothing sent.
    - ``batch_qps``: batch push targets per second; targets beyond it fail with 23008.
    - ``churn_per_page``: unmanaged ``churn_*`` tasks created or deleted after each list page.
    - ``fire_error_rate``: fraction of firings recorded as failed (code 1011) in msg-ids.
    - ``strip_names``: a create or update stores its name with surrounding whitespace removed
      (a server that normalises names; the answer to the create names the stored form).
    - ``seed``: seeds every random choice above.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    commit_then_timeout_rate: float = 0.0
    hang_seconds: float = 0.0
    rate_limit: float | None = None
    rate_limit_shape: RateLimitShape = "429"
    batch_qps: float | None = None
    no_target_rate: float = 0.0
    batch_error: int | None = None
    batch_error_rate: float = 1.0
    churn_per_page: int = 0
    fire_error_rate: float = 0.0
    strip_names: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number")
        for name in ("latency_ms", "jitter_ms", "hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        rates = ("error_rate", "commit_then_timeout_rate", "fire_error_rate", "no_target_rate")
        for name in (*rates, "batch_error_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a fraction between 0 and 1")
        for name in ("rate_limit", "batch_qps"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 (or null for no limit)")
        if self.churn_per_page < 0:
            raise ValueError("churn_per_page must be >= 0")
        if self.rate_limit_shape not in RATE_LIMIT_SHAPES:
            raise ValueError(f"rate_limit_shape must be one of {', '.join(RATE_LIMIT_SHAPES)}")
        if self.batch_error is not None and self.batch_error not in BATCH_ERRORS:
            raise ValueError(
                f"batch_error must be one of {', '.join(map(str, BATCH_ERRORS))} (or null)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from JSON; unknown keys and wrong types raise ``ValueError``."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(known)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None and key in ("rate_limit", "batch_qps", "batch_error"):
                values[key] = None
            elif key == "rate_limit_shape":
                if not isinstance(value, str):
                    raise ValueError(f"{key} must be a string")
                values[key] = value
            elif key == "strip_names":
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
                values[key] = value
            elif key in ("churn_per_page", "seed", "batch_error"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{key} must be an integer")
                values[key] = value
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} must be a number")
            else:
                try:
                    values[key] = float(value)
                except OverflowError:
                    raise ValueError(f"{key} is too large") from None
        return cls(**values)


class TokenBucket:
    """``rate`` tokens per second, holding at most one second's worth (at least one token)."""

    def __init__(self, rate: float, monotonic: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._monotonic = monotonic
        self._tokens = self.capacity
        self._stamp = monotonic()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self) -> bool:
        """Spend one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self) -> int:
        """Whole seconds until a token is available (``Retry-After`` wants an integer)."""
        self._refill()
        wait = (1.0 - self._tokens) / self.rate
        return max(1, math.ceil(wait)) if wait < MAX_RETRY_AFTER else MAX_RETRY_AFTER


class FaultDice:
    """The live fault state: one seeded RNG and the rate buckets, guarded by a lock."""

    def __init__(self, faults: Faults, monotonic: Callable[[], float]) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._requests = TokenBucket(faults.rate_limit, monotonic) if faults.rate_limit else None
        self._targets = TokenBucket(faults.batch_qps, monotonic) if faults.batch_qps else None

    def delay(self) -> float:
        """Seconds to wait before handling a request."""
        f = self.faults
        if not f.latency_ms and not f.jitter_ms:
            return 0.0
        with self._lock:
            jitter = self._rng.uniform(0.0, f.jitter_ms) if f.jitter_ms else 0.0
        return (f.latency_ms + jitter) / 1000.0

    def rate_limited(self) -> int | None:
        """``Retry-After`` seconds when this schedule request is over the budget, else None."""
        if self._requests is None:
            return None
        with self._lock:
            if self._requests.take():
                return None
            return self._requests.retry_after()

    def server_error(self) -> bool:
        return self._roll(self.faults.error_rate)

    def pick_unavailable(self) -> bool:
        """For a server error: True for 503/28203, False for 500/28200."""
        return self._roll(0.5)

    def commit_fault(self) -> CommitFault | None:
        if not self._roll(self.faults.commit_then_timeout_rate):
            return None
        return "hang" if self.faults.hang_seconds > 0 else "drop"

    def allow_target(self) -> bool:
        """Spend one batch target from the push QPS budget (docs/api.md section 6)."""
        if self._targets is None:
            return True
        with self._lock:
            return self._targets.take()

    def no_target(self) -> bool:
        """For a valid schedule write: answer 404/28105 instead (``no_target_rate``)."""
        return self._roll(self.faults.no_target_rate)

    def batch_error(self) -> int | None:
        """The global error code to answer this batch call with, if any."""
        code = self.faults.batch_error
        if code is None or not self._roll(self.faults.batch_error_rate):
            return None
        return code

    def fire_fails(self) -> bool:
        return self._roll(self.faults.fire_error_rate)

    def choice(self, n: int) -> int:
        """A seeded index in ``range(n)`` (churn picks which task to delete)."""
        with self._lock:
            return self._rng.randrange(n)

    def coin(self) -> bool:
        return self._roll(0.5)

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate
