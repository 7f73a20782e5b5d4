"""The adaptive request rate: it finds a server's limit, holds it, and gets out of trouble.

Traffic runs in virtual time (``tests/client/pace.py``): the real client, with default settings
(a 500 requests/s ceiling, the window sized by Little's law), against a server with a token
bucket like the emulator's, 50 ms from the client; nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.commands import GlobalOptions
from reconciler.config.connection import ClientSettings
from reconciler.config.environments import Environment
from reconciler.config.session import resolve_target
from reconciler.emulator import Emulator, Faults, create_app
from reconciler.remote.client import EngageLabClient
from reconciler.remote.inventory import read_inventory
from reconciler.remote.pacefile import HINT_MAX_AGE, read_remembered_limit, remember_limit
from reconciler.remote.ratelimit import INITIAL_WINDOW, MAX_WINDOW, RateController
from tests.client.helpers import CREDS, Script, client_for, reply, settings
from tests.client.pace import (
    RateLimitedServer,
    Shape,
    Traffic,
    VirtualLoop,
    commands,
    run_virtual,
    traffic,
)
from tests.kit import bodies
from tests.kit.clock import FakeClock

CEILING = 500.0
BASE_URL = "http://127.0.0.1:9"


# -- convergence against a server's limit ------------------------------------------------------


@pytest.mark.parametrize("shape", ["429", "400"])
def test_finds_a_server_limit_below_the_ceiling_within_ten_percent(shape: Shape) -> None:
    """Against a server allowing 100/s (a fifth of the ceiling), in either refusal shape (429
    with Retry-After, or 400/28100 "rate limit exceeded"), the accepted rate after the first
    seconds stays within 10 % of 100/s, nothing fails, the whole run is within 10 % of the
    time the server's limit allows, and the discovery costs no storm: under 2 % of all requests
    refused (about one round trip at the ceiling's excess: 400/s x 50 ms)."""
    t = traffic(limit=100, requests=2500, shape=shape)
    duration = t.finished - t.started
    assert t.failures == 0
    assert t.refused / t.requests < 0.02
    assert 90 <= t.accepted_rate(5, duration - 2) <= 110
    assert duration <= 1.1 * 2500 / 100


@pytest.mark.parametrize("limit", [CEILING, 2 * CEILING])
def test_at_or_above_the_ceiling_the_client_runs_at_the_ceiling_without_refusals(
    limit: float,
) -> None:
    """Against a server allowing exactly the ceiling, or twice it, the client runs at its
    ceiling (within 10 %) and is never refused: the ceiling is a promise to the server."""
    t = traffic(limit=limit, requests=2500)
    duration = t.finished - t.started
    assert t.refused == 0
    assert t.failures == 0
    assert 0.9 * CEILING <= t.accepted_rate(0.5, duration - 0.5) <= 1.01 * CEILING


@pytest.mark.parametrize(("limit", "requests"), [(100, 3000), (300, 6000)])
def test_fewer_than_two_percent_refused_at_steady_state(limit: float, requests: int) -> None:
    """Once the limit is found (after the first 3 s), fewer than 2 % of the requests the server
    sees are refused; over the whole run, including the discovery, fewer than 3 %."""
    t = traffic(limit=limit, requests=requests)
    duration = t.finished - t.started
    assert t.refused_share(3, duration) < 0.02
    assert t.refused / t.requests < 0.03


def test_the_emulators_own_rate_limit_is_found_in_both_shapes() -> None:
    """The emulator's ``rate_limit`` fault (its middleware, its bucket), in the 429 and in the
    400/28100 shape: a full inventory completes with few refusals and at close to the limit."""
    for shape in ("429", "28100"):

        async def go(loop: VirtualLoop, shape: str = shape) -> tuple[float, int, int]:
            em = Emulator(
                app_key=CREDS.app_key,
                master_secret=CREDS.master_secret,
                faults=Faults(rate_limit=40, rate_limit_shape=shape, latency_ms=50),
                sleep=asyncio.sleep,
                monotonic=loop.time,
            )
            trigger = bodies.single("2027-01-01 10:00:00")
            for i in range(600):
                em.add_schedule(bodies.body(f"task_{i:04d}", alert="hi", trigger=trigger))
            em.clear_log()
            async with EngageLabClient(
                settings(base_url="http://emulator", rate_limit=CEILING),
                transport=httpx.ASGITransport(create_app(em)),
                clock=loop.time,
                rng=random.Random(0),
            ) as client:
                started = loop.time()
                inventory = await read_inventory(client)
                assert inventory.complete
                assert len(inventory.schedules) == 600
            refused = sum(1 for r in em.request_log if r.fault == "rate_limit")
            return loop.time() - started, refused, len(em.request_log)

        duration, refused, requests = run_virtual(go)
        assert duration <= 1.15 * requests / 40  # the emulator's 40/s, burst included
        assert refused / requests < 0.05


# -- a quota counted per calendar second --------------------------------------------------------


def _read_then_write(
    make_server: Callable[[VirtualLoop], RateLimitedServer], idle: float, writes: int
) -> Traffic:
    """A command as ``apply`` of creates runs it, with default settings: one read, ``idle``
    seconds of planning and printing with nothing sent, then ``writes`` requests at once."""

    async def go(loop: VirtualLoop) -> Traffic:
        server = make_server(loop)
        client = EngageLabClient(
            ClientSettings(
                base_url="http://sim", credentials=CREDS, max_retries=50, retry_budget_min=10_000
            ),
            transport=server,
            clock=loop.time,
            rng=random.Random(0),
        )
        await asyncio.sleep(1.5)  # a second and more since anyone sent anything
        started = loop.time()
        async with client:
            await client.get_schedule("list")
            await asyncio.sleep(idle)
            results = await asyncio.gather(
                *(client.get_schedule(f"id{i}") for i in range(writes)), return_exceptions=True
            )
        failures = sum(1 for r in results if isinstance(r, BaseException))
        return Traffic(server, client, started, loop.time(), failures)

    return run_virtual(go)


@pytest.mark.parametrize("phase", [0.0, 0.2, 0.4, 0.6, 0.8])
def test_a_quota_counted_per_calendar_second_is_never_exceeded(phase: float) -> None:
    """The vendor's "500 requests per second" read literally: counted per calendar second (the
    seconds starting at ``phase``). A command that reads, plans for 0.25 s, then writes 1000
    is never refused, and no second ever sees more than the ceiling's worth (one more where a
    request lands on the boundary). A client that caught up on its planning time by sending
    faster afterwards was refused 27-41 times here in four phases of five, and cut its rate in
    two (docs/rate-control.md, "Why idle time is not made up")."""
    t = _read_then_write(lambda loop: RateLimitedServer(loop, CEILING, calendar=phase), 0.25, 1000)
    assert t.failures == 0
    assert t.refused == 0
    sent = sorted(a.at for a in t.server.arrivals)
    busiest = max(bisect.bisect_left(sent, s + 1.0) - i for i, s in enumerate(sent))
    assert busiest <= CEILING + 1


# -- 5xx and timeouts ----------------------------------------------------------------------------


def test_recovers_the_ceiling_within_a_second_after_a_burst_of_5xx() -> None:
    """Two seconds of 503s from a server with no limit: the client backs off (sends at most
    half the ceiling's worth per second during the burst, retries included) and is back at the
    ceiling within a second of the burst's end; nothing is lost."""
    t = traffic(limit=None, requests=4000, errors=[(1002.0, 1004.0)])
    errors = [a for a in t.server.arrivals if a.status == 503]
    assert len(errors) <= 1.5 * CEILING * 0.6  # 2 s at the ceiling would be 1000
    assert t.failures == 0
    assert t.accepted_rate(5, 7) >= 0.9 * CEILING


def test_a_timeout_halves_the_rate_at_most_once_a_second() -> None:
    """Timeouts are overload: the rate halves, but a second timeout within the same second does
    not halve it again (a server with occasional errors is not driven to the floor)."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    c.lost(c.ticket(), timed_out=True)
    c.lost(c.ticket(), timed_out=True)
    assert c.rate == CEILING / 2
    clock.now += 1.0
    c.lost(c.ticket(), timed_out=True)
    assert c.rate == CEILING / 4
    c.lost(c.ticket(), timed_out=False)  # a refused connection says nothing about the pace
    assert c.rate == CEILING / 4


# -- the decrease and the increase, step by step ---------------------------------------------


def test_a_round_trip_of_refusals_cuts_once_then_settles_below_the_accepted_rate() -> None:
    """Forty requests sent at 500/s, of which the server accepted a fifth: their refusals cut
    the rate once (to a tenth, at the first one); the first answer to a request sent after the
    cut settles it at 90 % of what the server accepted: 0.9 x 100 = 90/s."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    old = [c.ticket() for _ in range(40)]
    clock.now += 0.05
    for i, ticket in enumerate(old):
        c.answered(ticket, "ok" if i % 5 == 4 else "refused")
        assert c.rate == CEILING / 10
    assert c.cuts == 1
    clock.now += 0.01
    after = c.ticket()
    clock.now += 0.05
    c.answered(after, "ok")
    assert c.rate == pytest.approx(90.0)
    assert c.refusals == 32


def test_the_rate_grows_back_quickly_to_the_last_accepted_rate_then_slowly_to_the_ceiling() -> None:
    """After a 5xx halving the rate regains the ceiling's worth per second (back within a
    second); above a rate the server refused it probes by 5 % per second; never above the
    ceiling."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    c.answered(c.ticket(), "overloaded")
    assert c.rate == CEILING / 2
    clock.now += 0.25
    c.answered(c.ticket(), "ok")
    assert c.rate == pytest.approx(CEILING / 2 + CEILING * 0.25)
    clock.now += 10
    c.answered(c.ticket(), "ok")
    assert c.rate == CEILING
    # A refusal at the ceiling settles lower (too few answers to measure: half).
    c.answered(c.ticket(), "refused")
    clock.now += 0.1
    c.answered(c.ticket(), "ok")
    assert c.rate == CEILING / 2
    clock.now += 1.0
    c.answered(c.ticket(), "ok")
    assert c.rate == pytest.approx(CEILING / 2 * 1.05)


def test_a_batch_answer_with_refused_targets_slows_by_their_share() -> None:
    """23008 for a tenth of a batch's targets: the rate drops by a tenth; for all of them, by
    half at most; a second batch within the same round trip changes nothing more."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    c.answered(c.ticket(), "ok")  # a round trip of 0 s
    c.refused_share(0.1)
    assert c.rate == pytest.approx(0.9 * CEILING)
    clock.now += 1
    c.refused_share(1.0)
    assert c.rate == pytest.approx(0.45 * CEILING)


def test_a_batch_push_with_23008_targets_slows_the_client() -> None:
    """The client's batch push hands the 23008 share of its answer to the rate controller."""
    body = {
        "results": {
            "a": {"target": "a", "success": True, "msg_id": 1},
            "b": {
                "target": "b",
                "success": False,
                "error": {"code": 23008, "message": "API rate limit exceeded"},
            },
        },
        "rate_limit_info": {"message": "limited", "rate_limit_occurred": True},
    }
    script = Script([reply(200, body)])

    async def go() -> float:
        async with client_for(script, rate_limit=CEILING) as client:
            request = {"platform": "all", "message": {"msg_content": "x"}}
            await client.batch_push(
                "regid", [{"target": "a", **request}, {"target": "b", **request}]
            )
            return client.rate

    assert asyncio.run(go()) == pytest.approx(CEILING / 2)


# -- the window: Little's law --------------------------------------------------------------------


def test_the_window_is_the_rate_times_the_round_trip_with_headroom() -> None:
    """Before any answer the window is INITIAL_WINDOW; then rate x round trip x 1.5 + 2 (500/s
    at 20 ms: 17), capped at MAX_WINDOW for slow answers; a fixed --concurrency wins."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    assert c.window == INITIAL_WINDOW
    ticket = c.ticket()
    clock.now += 0.02
    c.answered(ticket, "ok")
    assert c.window == 17
    ticket = c.ticket()
    clock.now += 5.0
    c.answered(ticket, "ok")
    assert c.window == MAX_WINDOW
    assert RateController(CEILING, concurrency=7, clock=clock.monotonic).window == 7


def test_requests_in_flight_follow_the_rate_and_round_trip_not_a_fixed_number() -> None:
    """At 500/s and 50 ms per answer about 25 requests must be in flight: the default client
    keeps 20 to 40 in flight; with --concurrency 4 never more than 4."""
    t = traffic(limit=None, requests=1000)
    assert 20 <= t.client.max_in_flight <= 40
    fixed = traffic(limit=None, requests=200, concurrency=4)
    assert fixed.client.max_in_flight == 4


def test_refusals_of_requests_sent_before_a_cut_do_not_cut_again() -> None:
    """A request sent before the last cut (or during it) was refused at the old rate: its
    refusal is counted but does not cut again; one sent at the settled rate does."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    first, stale = c.ticket(), c.ticket()
    clock.now += 0.05
    c.answered(first, "refused")
    during = c.ticket()
    clock.now += 0.05
    c.answered(during, "ok")  # settles
    settled = c.rate
    c.answered(stale, "refused")
    assert c.rate == settled
    assert c.cuts == 1
    late = c.ticket()
    clock.now += 0.05
    c.answered(late, "refused")
    assert c.cuts == 2


# -- the first refusal's measurement, the cubic curve, and the limit kept between runs ---------


def test_the_first_refusal_measures_the_rate_after_the_servers_allowance_ran_out() -> None:
    """A server with a token bucket accepts a second's worth at any rate, then only its own
    rate. Forty-five requests at 500/s: the first twenty accepted from that allowance, then a
    fifth of the next twenty-five (100/s). The rate settles at 90 % of the 100/s measured from
    the first refused request on, not at 90 % of the 278/s the whole round trip would say."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    tickets = []
    for _ in range(45):
        tickets.append(c.ticket())
        clock.now += 1 / CEILING
    clock.now += 0.05
    outcomes = ["ok"] * 20 + ["ok" if i % 5 == 4 else "refused" for i in range(25)]
    for ticket, outcome in zip(tickets[20:], outcomes[20:], strict=True):
        c.answered(ticket, outcome)  # type: ignore[arg-type]
    for ticket in tickets[:20]:  # answers arrive in any order
        c.answered(ticket, "ok")
    after = c.ticket()
    clock.now += 0.05
    c.answered(after, "ok")
    assert c.rate == pytest.approx(90.0)
    assert c.limit == pytest.approx(100.0)


def test_after_settling_the_rate_returns_to_the_limit_and_stays_near_it_before_probing() -> None:
    """Once a limit is measured the rate follows a cubic curve: back to the limit in four
    seconds, within 2 % of it from three to five seconds, and only then above it, ever faster
    (10 % above at eight seconds), never above the ceiling."""
    clock = FakeClock(now=100.0)
    c = RateController(CEILING, clock=clock.monotonic)
    old = [c.ticket() for _ in range(40)]
    clock.now += 0.05
    for i, ticket in enumerate(old):
        c.answered(ticket, "ok" if i % 5 == 4 else "refused")
    after = c.ticket()
    clock.now += 0.05
    c.answered(after, "ok")
    settled_at = clock.now
    rates = {}
    while clock.now < settled_at + 20:
        clock.now += 0.01
        c.answered(c.ticket(), "ok")
        rates[round(clock.now - settled_at, 2)] = c.rate
    assert all(98 <= rates[t] <= 102 for t in (3.0, 4.0, 5.0))
    assert rates[8.0] == pytest.approx(110.0, rel=0.01)
    assert max(rates.values()) <= CEILING


@pytest.mark.parametrize("shape", ["429", "400"])
def test_commands_after_the_first_start_at_the_remembered_limit(
    shape: Shape, tmp_path: Path
) -> None:
    """The benchmark's failure: every command is a new process, and each paid for finding a
    100/s server's limit again (about one round trip at 500/s: 20 refusals, 2 % of a
    1000-request command). With the limit kept in the pace file, the commands after the first
    (1000, 2000 and 1000 requests, as plan, apply and drift) have fewer than 1 % refused and
    each takes at most 1.3 times the server's bound."""
    runs = commands(
        limit=100,
        requests=[1000, 1000, 2000, 1000],
        pace_file=tmp_path / "pace.json",
        shape=shape,
    )
    for t in runs[1:]:
        assert t.failures == 0
        assert t.refused / t.requests < 0.01
        assert t.finished - t.started <= 1.3 * (t.requests - t.refused) / 100
    first = runs[0]  # finding the limit: one round trip of refusals at the ceiling's excess
    assert first.refused <= (CEILING - 100) * 0.05 * 1.2


def test_a_remembered_limit_the_server_has_since_raised_is_left_behind(tmp_path: Path) -> None:
    """A limit remembered at 100/s against a server that now allows 500/s: the run probes
    above it without waiting for a refusal and the next run starts near what it reached, so
    one command crawls a little, not every command for an hour."""
    pace = tmp_path / "pace.json"
    remember_limit(pace, "http://sim", 100.0, now=time.time())
    first, second = commands(limit=500, requests=[1000, 1000], pace_file=pace)
    assert first.refused == second.refused == 0
    assert first.finished - first.started <= 1000 / 100
    assert second.finished - second.started <= 1.5 * 1000 / 500


def test_the_pace_file_is_best_effort_and_holds_numbers_only(tmp_path: Path) -> None:
    """A missing, malformed or other-version file, an entry for another endpoint or an entry
    older than an hour is no limit; a kept one reads back; forgetting removes it; the file
    holds the endpoint and numbers, never a credential; a directory that cannot be written
    is no error."""
    pace = tmp_path / "sub" / "pace.json"
    now = 1_800_000_000.0
    assert read_remembered_limit(pace, "https://api", now=now) is None
    remember_limit(pace, "https://api", 123.456, now=now)
    assert read_remembered_limit(pace, "https://api", now=now + 10) == pytest.approx(123.46)
    assert read_remembered_limit(pace, "https://other", now=now) is None
    assert read_remembered_limit(pace, "https://api", now=now + HINT_MAX_AGE + 1) is None
    text = pace.read_text(encoding="utf-8")
    assert CREDS.app_key not in text
    assert CREDS.master_secret not in text
    remember_limit(pace, "https://api", None, now=now)
    assert read_remembered_limit(pace, "https://api", now=now) is None
    for garbage in (
        "{",
        "[]",
        '{"version": 2, "endpoints": {}}',
        '{"version": 1}',
        '{"version": 1, "endpoints": {"https://api": {"limit": "x", "at": 1}}}',
        '{"version": 1, "endpoints": {"https://api": {"limit": 1e999, "at": 1}}}',
        "[" * 2000,  # 2 KB of nesting: RecursionError in the JSON decoder
        '{"version": 1, "x": ' + "9" * 5000 + "}",  # an int too long to convert
    ):
        pace.write_text(garbage, encoding="utf-8")
        assert read_remembered_limit(pace, "https://api", now=now) is None
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    remember_limit(blocked / "pace.json", "https://api", 50.0, now=now)  # no error


def test_a_pace_file_that_is_a_fifo_or_endless_is_no_limit(tmp_path: Path) -> None:
    """A FIFO without a writer or a link to /dev/zero in the pace file's place neither stalls
    nor exhausts the run: it is read as no limit."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert read_remembered_limit(fifo, "https://api", now=time.time()) is None
    endless = tmp_path / "endless.json"
    endless.symlink_to("/dev/zero")
    assert read_remembered_limit(endless, "https://api", now=time.time()) is None


def test_the_pace_file_lives_next_to_the_state_except_for_the_embedded_emulator(
    tmp_path: Path,
) -> None:
    """A served endpoint (and the real API) keeps its limit in ``pace.json`` beside the
    environment's state file; the embedded emulator, which has no limit, has no pace file."""
    env = Environment(
        name="staging", manifests=tmp_path / "schedules", state=tmp_path / "st" / "state.json"
    )
    served = resolve_target(GlobalOptions(endpoint="http://127.0.0.1:9"), env, environ={})
    assert served.pace_file == tmp_path / "st" / "pace.json"
    embedded = resolve_target(GlobalOptions(), env, environ={})
    assert embedded.pace_file is None


def test_a_run_under_a_lower_rate_limit_keeps_the_remembered_limit(tmp_path: Path) -> None:
    """A run with ``--rate-limit`` below the remembered limit runs at its own ceiling without a
    refusal; that says nothing about the server above it, so the remembered limit stays."""
    pace = tmp_path / "pace.json"
    remember_limit(pace, BASE_URL, 100.0, now=time.time())

    answer = reply(200, [{"schedule_id": "a", "name": "task_a"}])

    async def go() -> None:
        async with EngageLabClient(
            settings(base_url=BASE_URL, rate_limit=50),
            transport=httpx.MockTransport(lambda _r: answer),
            pace_file=pace,
        ) as client:
            assert client.rate == 50
            await client.get_schedule("a")

    asyncio.run(go())
    assert read_remembered_limit(pace, BASE_URL, now=time.time()) == 100.0
