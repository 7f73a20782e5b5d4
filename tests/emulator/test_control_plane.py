"""The control plane under /_emulator/: clock, faults, reset, state, request log (no auth)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from reconciler.emulator import Emulator, Faults
from tests.emulator.helpers import START, create, single


def test_clock_shows_now_and_time_zone(anon: httpx.Client) -> None:
    """GET /_emulator/clock answers the emulator time (ISO 8601) and its zone, without auth."""
    body = anon.get("/_emulator/clock").json()
    assert datetime.fromisoformat(body["now"]) == START
    assert body["timezone"] == "UTC"


def test_clock_set_now(anon: httpx.Client, emulator: Emulator) -> None:
    """POST {"now": ...} jumps the clock there."""
    response = anon.post("/_emulator/clock", json={"now": "2027-02-01T10:00:00+01:00"})
    assert response.status_code == 200
    assert emulator.now() == datetime(2027, 2, 1, 9, tzinfo=UTC)


def test_clock_advance_fires_due_tasks(api: httpx.Client, emulator: Emulator) -> None:
    """POST {"advance": seconds} moves the clock and fires what became due."""
    sid = create(api, single(time="2027-01-04 12:00:00"))
    response = api.post("/_emulator/clock", json={"advance": 3 * 3600})
    assert datetime.fromisoformat(response.json()["now"]) == datetime(2027, 1, 4, 12, tzinfo=UTC)
    assert api.get(f"/v4/schedules/{sid}/msg-ids").json()["count"] == 1


@pytest.mark.parametrize(
    "body",
    [{"now": "2027-02-01 10:00:00"}, {"now": "yesterday"}, {"advance": "1h"}, {}, [1]],
    ids=["naive", "not-a-date", "advance-not-number", "empty", "not-object"],
)
def test_clock_rejects_bad_input(anon: httpx.Client, emulator: Emulator, body: object) -> None:
    """A naive or unparsable time, or a non-numeric advance, is 400 and leaves the clock."""
    response = anon.post("/_emulator/clock", json=body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert emulator.now() == START


def test_faults_put_replaces_and_get_shows(anon: httpx.Client, emulator: Emulator) -> None:
    """PUT /_emulator/faults sets the faults (unspecified ones back to defaults); GET shows them."""
    emulator.faults = Faults(latency_ms=50)
    response = anon.put("/_emulator/faults", json={"error_rate": 0.25, "rate_limit": 10})
    assert response.status_code == 200
    assert emulator.faults == Faults(error_rate=0.25, rate_limit=10)
    assert anon.get("/_emulator/faults").json() == Faults(error_rate=0.25, rate_limit=10).to_dict()


@pytest.mark.parametrize(
    "body",
    [
        {"eror_rate": 0.1},
        {"error_rate": 2},
        {"latency_ms": "slow"},
        {"seed": 1.5},
        {"strip_names": 1},
    ],
    ids=["unknown-key", "out-of-range", "not-a-number", "seed-not-int", "switch-not-bool"],
)
def test_faults_put_rejects_bad_values(
    anon: httpx.Client, emulator: Emulator, body: object
) -> None:
    """Unknown switches and impossible values are 400; the faults stay as they were."""
    response = anon.put("/_emulator/faults", json=body)
    assert response.status_code == 400
    assert emulator.faults == Faults()


def test_strip_names_fault_stores_names_stripped(api: httpx.Client, emulator: Emulator) -> None:
    """With ``strip_names`` a create of " promo " is stored, answered and listed as "promo"."""
    emulator.faults = Faults(strip_names=True)
    created = api.post("/v4/schedules", json=single(" promo "))
    assert created.status_code == 200, created.text
    assert created.json()["name"] == "promo"
    assert [row["name"] for row in api.get("/v4/schedules").json()["schedules"]] == ["promo"]


def test_faults_put_takes_effect_at_once(api: httpx.Client) -> None:
    """Faults set through the control plane apply to the very next API request."""
    api.put("/_emulator/faults", json={"error_rate": 1})
    assert api.get("/v4/schedules").status_code >= 500


def test_reset_forgets_everything(api: httpx.Client, emulator: Emulator) -> None:
    """POST /_emulator/reset empties tasks, pushes and the request log."""
    create(api, single())
    api.post("/_emulator/reset")
    assert emulator.schedules() == []
    assert emulator.request_log == []
    assert api.get("/v4/schedules").json()["total_count"] == 0


def test_state_dumps_tasks_and_clock(api: httpx.Client) -> None:
    """GET /_emulator/state shows the clock, active tasks with full bodies, and the faults."""
    sid = create(api, single("dumped"))
    state = api.get("/_emulator/state").json()
    assert state["active_count"] == 1
    assert state["schedules"][0]["schedule_id"] == sid
    assert state["schedules"][0]["name"] == "dumped"
    assert datetime.fromisoformat(state["now"]) == START
    assert state["faults"] == Faults().to_dict()


def test_state_lists_finished_tasks(api: httpx.Client, emulator: Emulator) -> None:
    """Sent tasks appear under ``finished`` with their status and in ``msg_records``."""
    sid = create(api, single(time="2027-01-04 12:00:00"))
    emulator.advance(86400)
    state = api.get("/_emulator/state").json()
    assert state["finished"] == [{"schedule_id": sid, "name": "one shot", "status": "sent"}]
    assert len(state["msg_records"][sid]) == 1


def test_request_log_lists_api_calls_only(api: httpx.Client, emulator: Emulator) -> None:
    """GET /_emulator/requests lists API calls (method, path, query, status); not itself."""
    api.get("/v4/schedules", params={"page": 2})
    api.get("/_emulator/clock")
    records = api.get("/_emulator/requests").json()["requests"]
    assert records == [
        {"method": "GET", "path": "/v4/schedules", "query": "page=2", "status": 200, "fault": None}
    ]


def test_request_log_can_be_cleared(api: httpx.Client, emulator: Emulator) -> None:
    """DELETE /_emulator/requests empties the log."""
    api.get("/v4/schedules")
    assert api.delete("/_emulator/requests").json() == {"cleared": 1}
    assert emulator.request_log == []


def test_request_log_counts_writes(api: httpx.Client, emulator: Emulator) -> None:
    """Writes are visible as POST/PUT/DELETE records on /v4/ (how tests assert "no write")."""
    sid = create(api, single())
    api.get(f"/v4/schedules/{sid}")
    api.delete(f"/v4/schedules/{sid}")
    writes = [(r.method, r.status) for r in emulator.request_log if r.method != "GET"]
    assert writes == [("POST", 200), ("DELETE", 200)]
