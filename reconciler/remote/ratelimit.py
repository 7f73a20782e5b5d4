"""Pace outgoing requests at the server's pace: a rate that adapts, and a window sized from it.

``RateController`` decides that rate, and how many requests may be in flight, from the answers.
It starts at the ceiling (``--rate-limit``), or at the limit an earlier run found (``pacefile``),
and
* on a refusal for the rate (429, 400/28100 "rate limit exceeded", 23008) cuts the rate to a
  tenth at once, then, when the answers of the requests already in flight have arrived (one
  round trip), settles at 90 % of the rate the server was seen to accept once its allowance
  ran out (the requests from the first refused one on): the requests sent at the old rate are
  lost anyway, but the ones behind them do not join them (a plain halving still sends at
  several times a slow server's limit for a few round trips: a storm);
* on a 5xx or a timeout halves it, at most once per second: an overloaded server gets air, a
  server with occasional errors does not drive the rate to its floor;
* otherwise grows it: with a limit known, on a cubic curve in the time since the last settle
  (as TCP CUBIC): back to the limit in four seconds, flat around it, then above it ever
  faster; without one, back quickly to the last rate known to be accepted, then 5 % per
  second, up to the ceiling.

The window of requests in flight follows Little's law: the rate times the measured round-trip
time, with headroom for its variation. A fixed ``--concurrency`` overrides it.

``limiter`` applies both to the client's requests (a slot of the window, then a token); the
reasoning and the measured behaviour are in docs/rate-control.md.

The clock is a parameter so that tests check the pacing without waiting for it. No asyncio here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Clock = Callable[[], float]

# What an answer says about the pace: "refused" (the rate is too high), "overloaded" (5xx or
# no answer in time), "ok" (a 2xx), "other" (anything else: no signal about the pace).
Outcome = Literal["ok", "refused", "overloaded", "other"]

CUT = 0.1  # share of the rate kept for the round trip after a refusal
SETTLE = 0.9  # then: this share of the rate the server accepted during that round trip
MIN_SAMPLE = 4  # fewer answers from that round trip: halve instead of estimating from them
CLEAR_SAMPLE = 8  # answers enough to trust a measured share over a known limit
FAST_CLIMB = 1.0  # below the last accepted rate: regain this share of the ceiling per second
SLOW_CLIMB = 0.05  # above it, with no limit known: add this share of the current rate per second
# With a limit known (the rate the server was last found to accept), the rate follows a cubic
# curve in the time since the last settle, as TCP CUBIC does: from SETTLE x limit back to the
# limit in RETURN seconds, flat around it, then probing above it ever faster (10 % above after
# twice RETURN, 80 % after three times). A sawtooth of linear growth would spend its seconds
# just below and above the limit, and every crossing costs refusals.
RETURN = 4.0
CUBIC = (1.0 - SETTLE) / RETURN**3
MIN_CYCLE = 1.0  # seconds of answers needed to measure the limit from a cycle's successes
NEAR = 1.25  # a refusal at up to this multiple of the known limit: the limit moved a little
# A remembered limit not yet confirmed by a refusal in this run is probed this many times
# faster: if the server's limit went up since, the run must not crawl at the old one.
HINT_PROBE = 8.0
OVERLOAD_FACTOR = 0.5  # a 5xx or a timeout multiplies the rate by this...
OVERLOAD_INTERVAL = 1.0  # ...at most once per this many seconds
MIN_RATE = 1.0  # requests per second; never slower (unless the ceiling is lower)

HEADROOM = 1.5  # window = rate x round trip x HEADROOM + EXTRA (round trips vary)
EXTRA = 2
INITIAL_WINDOW = 32  # before the first answer there is no round trip to size from
MAX_WINDOW = 64  # connections; at 500/s it sustains 85 ms per answer with the headroom
RTT_WEIGHT = 0.125  # smoothing of the measured round trip (as TCP's SRTT)


@dataclass(frozen=True)
class Ticket:
    """One request as sent: when, and at which rate (its answer is judged against both)."""

    sent_at: float
    rate: float


@dataclass
class _Episode:
    """A refusal being measured: the answers of the requests sent before the cut."""

    cut_at: float
    rate_before: float
    answers: list[tuple[Ticket, bool]] = field(default_factory=list)  # (ticket, refused)

    def count(self, ticket: Ticket, refused: bool) -> None:
        self.answers.append((ticket, refused))

    @property
    def size(self) -> int:
        return len(self.answers)

    def accepted_rate(self) -> float | None:
        """The rate the server accepted once its allowance ran out, or None (too few answers).

        Only requests sent from the first refused one on are the sample: the ones before it
        were accepted from the server's burst allowance (a token bucket holds about a second
        of its rate), and counting them would settle far above the server's sustained rate.
        """
        if len(self.answers) < MIN_SAMPLE:
            return None
        first = min(t.sent_at for t, refused in self.answers if refused)
        sample = [(t, refused) for t, refused in self.answers if refused or t.sent_at >= first]
        ok = sum(1 for _, refused in sample if not refused)
        mean_rate = sum(t.rate for t, _ in sample) / len(sample)
        return mean_rate * ok / len(sample)


class RateController:
    """The current rate and window, from the answers (module docstring); no asyncio in here."""

    def __init__(
        self,
        ceiling: float,
        *,
        concurrency: int | None = None,
        clock: Clock = time.monotonic,
        limit: float | None = None,
    ) -> None:
        if ceiling <= 0:
            raise ValueError(f"rate must be positive, got {ceiling}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.ceiling = ceiling
        self.fixed_concurrency = concurrency
        self.floor = min(MIN_RATE, ceiling)
        self._clock = clock
        self.rate = ceiling
        self.good = ceiling  # the highest rate the server is believed to accept
        self.srtt: float | None = None
        self._episode: _Episode | None = None
        self._quiet_until = -math.inf  # refusals of requests sent before this start no cut
        self._last_overload = -math.inf
        self._grown_at = clock()
        self.refusals = 0  # answers that said "too fast" (for benchmarks and tests)
        self.cuts = 0
        # The rate the server was last found to accept (None: never refused), and when the rate
        # last settled below it: the origin of the cubic curve back to it and above.
        self.limit: float | None = None
        self._epoch = self._cycle_start = self._grown_at
        self._cycle_ok = 0  # answers "ok" to requests sent since _cycle_start
        if limit is not None and limit > 0:
            # Remembered from an earlier run: start on the curve's plateau, at the limit, not
            # at the ceiling: the first refusals of a run cost one round trip at the excess
            # rate (at 500/s against 100/s and 50 ms, some 20 requests).
            self.limit = min(ceiling, max(self.floor, limit))
            self.rate = self.good = self.limit
            self._epoch = self._grown_at - RETURN

    @property
    def max_window(self) -> int:
        """The most requests that will ever be in flight (connection pools are sized by it)."""
        return self.fixed_concurrency or MAX_WINDOW

    @property
    def window(self) -> int:
        """Requests allowed in flight now: Little's law on the rate and the round trip."""
        if self.fixed_concurrency is not None:
            return self.fixed_concurrency
        if self.srtt is None:
            return INITIAL_WINDOW
        size = math.ceil(self.rate * self.srtt * HEADROOM) + EXTRA
        return max(1, min(MAX_WINDOW, size))

    def ticket(self) -> Ticket:
        """Stamp a request as it is sent."""
        return Ticket(self._clock(), self.rate)

    def answered(self, ticket: Ticket, outcome: Outcome) -> None:
        """An answer (any status) arrived for ``ticket``: learn the round trip and the pace."""
        now = self._clock()
        sample = max(0.0, now - ticket.sent_at)
        self.srtt = sample if self.srtt is None else self.srtt + RTT_WEIGHT * (sample - self.srtt)
        self._judge(ticket, outcome, now)

    def lost(self, ticket: Ticket, *, timed_out: bool) -> None:
        """No answer: a timeout says the server is overloaded, a refused connection nothing."""
        self._judge(ticket, "overloaded" if timed_out else "other", self._clock())

    def refused_share(self, share: float) -> None:
        """A batch answer refused ``share`` of its targets for the rate (23008).

        The rate counts requests, the server's quota counts targets, so the answer's own
        numbers say by how much to slow down: by that share, but at most by half per round trip
        (answers within a round trip of the last cut were sent before it).
        """
        now = self._clock()
        if share <= 0 or now - (self.srtt or 0.0) < self._quiet_until:
            return
        self.refusals += 1
        self.cuts += 1
        self._quiet_until = now
        self.rate = max(self.floor, self.rate * max(OVERLOAD_FACTOR, 1.0 - share))
        self.good = self.rate
        self.limit = None  # a share of targets says nothing about the request rate's limit
        self._grown_at = now

    def _judge(self, ticket: Ticket, outcome: Outcome, now: float) -> None:
        episode = self._episode
        if episode is not None:
            if ticket.sent_at < episode.cut_at:
                # Sent at the old rate: a sample of what the server accepted at it.
                if outcome in ("ok", "refused"):
                    episode.count(ticket, outcome == "refused")
                if outcome == "refused":
                    self.refusals += 1
                return
            self._settle(episode, now)  # the first answer to a request sent after the cut
        if outcome == "refused":
            self.refusals += 1
            if ticket.sent_at >= self._quiet_until:
                self._cut(ticket, now)
        elif outcome == "overloaded":
            if now - self._last_overload >= OVERLOAD_INTERVAL:
                self._last_overload = now
                self.rate = max(self.floor, self.rate * OVERLOAD_FACTOR)
                self._grown_at = now
        elif outcome == "ok":
            if ticket.sent_at >= self._cycle_start:
                self._cycle_ok += 1
            self._grow(now)

    def _cut(self, ticket: Ticket, now: float) -> None:
        self.cuts += 1
        self._episode = _Episode(cut_at=now, rate_before=self.rate)
        self._episode.count(ticket, refused=True)
        self._quiet_until = now
        self.rate = max(self.floor, self.rate * CUT)

    def _settle(self, episode: _Episode, now: float) -> None:
        self._episode = None
        # Requests sent during the cut met a server still drained by the ones before it: their
        # refusals say nothing about the settled rate.
        self._quiet_until = now
        before = episode.rate_before
        accepted = episode.accepted_rate()
        known = self.limit
        if accepted is not None and accepted < before * SETTLE and episode.size >= CLEAR_SAMPLE:
            limit = accepted  # a clear overshoot, measured: far above the limit (or it dropped)
        elif known is not None and before <= known * NEAR:
            # Refused near the known limit (probing above it, or the limit moved a little). A
            # round trip's answers are too few to measure a share from, and the rate of the
            # refusal overstates the limit: below the limit the server's allowance filled up,
            # and the probe above it spent that first. What the server accepted since the last
            # settle (its allowance empty then and empty now) is its limit.
            limit = before
            span = now - self._cycle_start
            if span >= MIN_CYCLE:
                measured = self._cycle_ok / span
                # Not below SETTLE x the refused rate: a cycle that sent less than it could
                # (no more requests to send for a while) measures the demand, not the server.
                limit = min(before, max(measured, before * SETTLE))
        elif accepted is not None:
            limit = accepted
        else:
            limit = None
        target = before * OVERLOAD_FACTOR if limit is None else limit * SETTLE
        # At most a tenth per round trip: a round trip with every request refused (a quota
        # spent for a while) says "much slower", not "zero".
        target = max(target, before * CUT)
        self.rate = max(self.floor, min(self.ceiling, target))
        self.limit = None if limit is None else max(self.rate, min(self.ceiling, limit))
        self.good = self.rate
        self._grown_at = self._epoch = self._cycle_start = now
        self._cycle_ok = 0

    def _grow(self, now: float) -> None:
        elapsed = now - self._grown_at
        self._grown_at = now
        if elapsed <= 0 or self.rate >= self.ceiling:
            return
        if self.limit is not None:
            # On the cubic curve: back to the limit in RETURN seconds, then above it; below the
            # curve (after a 5xx) regain it quickly.
            t = now - self._epoch - RETURN
            probe = CUBIC * (HINT_PROBE if self.cuts == 0 else 1.0)
            curve = min(self.ceiling, self.limit * (1.0 + probe * t**3))
            if self.rate < curve:
                self.rate = min(curve, self.rate + self.ceiling * FAST_CLIMB * elapsed)
            return
        if self.rate < self.good:
            self.rate = min(self.good, self.rate + self.ceiling * FAST_CLIMB * elapsed)
        else:
            self.rate += self.rate * SLOW_CLIMB * elapsed
        self.rate = min(self.ceiling, self.rate)

    def learned_limit(self) -> float | None:
        """The limit to remember for the next run: None when none is known or the server took
        the ceiling since (the next run then starts at the ceiling again). A remembered limit
        this run probed above without a refusal moves up to 90 % of the rate it reached."""
        if self.limit is None or self.rate >= self.ceiling:
            return None
        if self.cuts == 0:
            return max(self.limit, self.rate * SETTLE)
        return self.limit
