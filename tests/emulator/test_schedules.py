"""Schedule endpoints (docs/api.md section 3): shapes of every success answer, paging, not-found."""

from __future__ import annotations

import json
import math
import uuid

import httpx

from reconciler.emulator import Emulator
from tests.emulator.helpers import create, error_code, periodical, single


def test_create_answers_uuid_and_name(api: httpx.Client) -> None:
    """Create answers 200 with a UUID schedule_id and the task's name, nothing else."""
    response = api.post("/v4/schedules", json=single("launch"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"schedule_id", "name"}
    assert body["name"] == "launch"
    assert str(uuid.UUID(body["schedule_id"])) == body["schedule_id"]


def test_detail_is_a_one_element_list_with_the_stored_body(api: httpx.Client) -> None:
    """Detail answers a JSON list holding the full object, exactly as sent, plus schedule_id."""
    sent = periodical(time_unit="week", point=["MON", "thu"], frequency=2)
    sid = create(api, sent)
    response = api.get(f"/v4/schedules/{sid}")
    assert response.status_code == 200
    assert response.json() == [{"schedule_id": sid, **sent}]


def test_list_shows_id_name_enabled_of_each_task(api: httpx.Client) -> None:
    """A list item carries exactly schedule_id, name and enabled."""
    sid = create(api, single("only one"))
    body = api.get("/v4/schedules").json()
    assert body == {
        "total_count": 1,
        "total_pages": 1,
        "page": 1,
        "schedules": [{"schedule_id": sid, "name": "only one", "enabled": True}],
    }


def test_list_pages_hold_50_oldest_first(api: httpx.Client, emulator: Emulator) -> None:
    """120 tasks come back as pages of 50, 50, 20 in creation order; total_pages is honest."""
    ids = [emulator.add_schedule(single(f"task_{i:03d}")) for i in range(120)]
    pages = [api.get("/v4/schedules", params={"page": p}).json() for p in (1, 2, 3)]
    assert [len(p["schedules"]) for p in pages] == [50, 50, 20]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert all(p["total_count"] == 120 for p in pages)
    assert all(p["total_pages"] == math.ceil(120 / 50) for p in pages)
    assert [s["schedule_id"] for p in pages for s in p["schedules"]] == ids


def test_list_without_page_is_page_one(api: httpx.Client, emulator: Emulator) -> None:
    """``page`` defaults to 1."""
    for i in range(60):
        emulator.add_schedule(single(f"task_{i:03d}"))
    body = api.get("/v4/schedules").json()
    assert body["page"] == 1
    assert body["schedules"][0]["name"] == "task_000"


def test_list_beyond_the_last_page_is_empty(api: httpx.Client, emulator: Emulator) -> None:
    """A page past the end is an empty page, not an error."""
    emulator.add_schedule(single())
    body = api.get("/v4/schedules", params={"page": 7}).json()
    assert body["schedules"] == []
    assert body["total_count"] == 1
    assert body["page"] == 7


def test_empty_list_has_zero_pages(api: httpx.Client) -> None:
    """No tasks: total_count 0 and total_pages ceil(0/50) = 0."""
    assert api.get("/v4/schedules").json() == {
        "total_count": 0,
        "total_pages": 0,
        "page": 1,
        "schedules": [],
    }


def test_list_rejects_a_bad_page_number(api: httpx.Client) -> None:
    """page=0 or a non-number is an invalid parameter (400/28100)."""
    for page in ("0", "-1", "two"):
        response = api.get("/v4/schedules", params={"page": page})
        assert response.status_code == 400
        assert error_code(response) == 28100


def test_update_replaces_the_body_and_answers_it(api: httpx.Client) -> None:
    """A full-body PUT replaces every section and answers the stored schedule."""
    sid = create(api, periodical())
    new = periodical("renamed digest", end="2027-04-01 00:00:00", time="18:30:00")
    new["enabled"] = False
    response = api.put(f"/v4/schedules/{sid}", json=new)
    assert response.status_code == 200
    assert response.json() == {"schedule_id": sid, **new}
    assert api.get(f"/v4/schedules/{sid}").json() == [{"schedule_id": sid, **new}]


def test_update_keeps_the_list_position(api: httpx.Client) -> None:
    """Order is by creation time: updating the oldest task keeps it first."""
    first = create(api, single("a"))
    create(api, single("b"))
    api.put(f"/v4/schedules/{first}", json=single("a2"))
    names = [s["name"] for s in api.get("/v4/schedules").json()["schedules"]]
    assert names == ["a2", "b"]


def test_update_accepts_json_sent_as_form_content_type(api: httpx.Client) -> None:
    """The vendor example labels the JSON update form-encoded: the JSON body is accepted."""
    sid = create(api, single())
    response = api.put(
        f"/v4/schedules/{sid}",
        content=json.dumps(single("via form header")).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "via form header"


def test_update_ignores_an_echoed_schedule_id(api: httpx.Client) -> None:
    """Sending back the detail object (with its schedule_id) is a valid update."""
    sid = create(api, single())
    detail = api.get(f"/v4/schedules/{sid}").json()[0]
    detail["name"] = "echoed"
    response = api.put(f"/v4/schedules/{sid}", json=detail)
    assert response.status_code == 200
    assert response.json()["schedule_id"] == sid


def test_delete_answers_200_with_an_empty_body(api: httpx.Client) -> None:
    """Delete: 200, Content-Length 0; the task is gone from detail and list."""
    sid = create(api, single())
    response = api.delete(f"/v4/schedules/{sid}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert api.get(f"/v4/schedules/{sid}").status_code == 404
    assert api.get("/v4/schedules").json()["total_count"] == 0


def test_unknown_id_is_404_28104_everywhere(api: httpx.Client) -> None:
    """GET, PUT, DELETE and msg-ids of an unknown id answer 404 with code 28104."""
    sid = str(uuid.uuid4())
    responses = [
        api.get(f"/v4/schedules/{sid}"),
        api.put(f"/v4/schedules/{sid}", json=single()),
        api.delete(f"/v4/schedules/{sid}"),
        api.get(f"/v4/schedules/{sid}/msg-ids"),
    ]
    assert [r.status_code for r in responses] == [404] * 4
    assert [error_code(r) for r in responses] == [28104] * 4


def test_deleted_task_cannot_be_deleted_twice(api: httpx.Client) -> None:
    """A second DELETE of the same id is 404/28104."""
    sid = create(api, single())
    api.delete(f"/v4/schedules/{sid}")
    response = api.delete(f"/v4/schedules/{sid}")
    assert response.status_code == 404
    assert error_code(response) == 28104


def test_msg_ids_of_a_fresh_task_are_empty(api: httpx.Client) -> None:
    """Before any firing, msg-ids is ``{"count": 0, "MsgIds": []}``."""
    sid = create(api, single())
    assert api.get(f"/v4/schedules/{sid}/msg-ids").json() == {"count": 0, "MsgIds": []}


def test_names_need_not_be_unique(api: httpx.Client) -> None:
    """The vendor does not enforce unique names: two tasks may share one (the client must cope)."""
    a = create(api, single("twin"))
    b = create(api, single("twin"))
    assert a != b
    assert [s["name"] for s in api.get("/v4/schedules").json()["schedules"]] == ["twin", "twin"]


def test_unknown_endpoint_answers_json_404(api: httpx.Client) -> None:
    """A path the API does not have answers 404 in the JSON error envelope."""
    response = api.get("/v4/nothing-here")
    assert response.status_code == 404
    assert "error" in response.json()


def test_wrong_method_answers_json_405(api: httpx.Client) -> None:
    """PATCH on a schedule is not part of the API: 405 in the JSON error envelope."""
    sid = create(api, single())
    response = api.patch(f"/v4/schedules/{sid}", json=single())
    assert response.status_code == 405
    assert "error" in response.json()
