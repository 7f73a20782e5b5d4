"""The adaptive request rate: it finds a server's limit, holds it, and gets out of trouble.

Traffic runs in virtual time (``tests/client/pace.py``): the real client, with default settings
(a 500 requests/s ceiling, the window sized by Little's law), against a server with a token
bucket like the emulator's, 50 ms from the client; nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from reconciler.client import EngageLabClient
from reconciler.emulator import Emulator, Faults, create_app
from reconciler.inventory import read_inventory
from reconciler.ratelimit import INITIAL_WINDOW, MAX_WINDOW, RateController
from tests.client.helpers import CREDS, Script, client_for, reply, settings
from tests.client.pace import Shape, VirtualLoop, run_virtual, traffic

CEILING = 500.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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
            for i in range(600):
                em.add_schedule(_body(f"task_{i:04d}"))
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
    clock = Clock()
    c = RateController(CEILING, clock=clock)
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
    clock = Clock()
    c = RateController(CEILING, clock=clock)
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


def test_the_rate_grows_back_quickly_to_the_last_accepted_rate_then_slowly_to_the_ceiling() -> (
    None
):
    """After a 5xx halving the rate regains the ceiling's worth per second (back within a
    second); above a rate the server refused it probes by 5 % per second; never above the
    ceiling."""
    clock = Clock()
    c = RateController(CEILING, clock=clock)
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
    clock = Clock()
    c = RateController(CEILING, clock=clock)
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
    clock = Clock()
    c = RateController(CEILING, clock=clock)
    assert c.window == INITIAL_WINDOW
    ticket = c.ticket()
    clock.now += 0.02
    c.answered(ticket, "ok")
    assert c.window == 17
    ticket = c.ticket()
    clock.now += 5.0
    c.answered(ticket, "ok")
    assert c.window == MAX_WINDOW
    assert RateController(CEILING, concurrency=7, clock=clock).window == 7


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
    clock = Clock()
    c = RateController(CEILING, clock=clock)
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


def _body(name: str) -> dict[str, object]:
    return {
        "name": name,
        "enabled": True,
        "trigger": {"single": {"time": "2027-01-01 10:00:00", "zone_type": 1}},
        "push": {
            "from": "push",
            "to": "all",
            "body": {"platform": "all", "notification": {"alert": "hi"}},
        },
    }

