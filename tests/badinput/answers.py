"""Scripted server answers for the bad-answer cases: a healthy app with one part replaced.

``app_with(...)`` builds a route for ``ScriptedServer``: page 1 of the list, the detail of the one
listed task and its msg-ids answer healthily unless a test supplies its own ``Answer``. The task
is named ``weekly_digest`` (the project's manifest) when ``managed`` and ``remote_task`` (an
unmanaged task) otherwise.
"""

from __future__ import annotations

from typing import Any

from .server import TASK_ID, WRITE_METHODS, Answer, Route, page_of, task_body

LIST = "/v4/schedules"
DETAIL = f"/v4/schedules/{TASK_ID}"
MSG_IDS = f"/v4/schedules/{TASK_ID}/msg-ids"


def healthy_page(name: str) -> dict[str, Any]:
    return page_of((name, TASK_ID))


def healthy_detail(name: str) -> list[dict[str, Any]]:
    return [task_body(name)]


def healthy_msg_ids() -> dict[str, Any]:
    record = (
        '{"msg_id":"1088009","error":{"code":0,"message":""},"needRetry":false,"ts":1707278411611}'
    )
    return {"count": 1, "MsgIds": [record]}


def app_with(
    *,
    page: Answer | None = None,
    detail: Answer | None = None,
    msg_ids: Answer | None = None,
    managed: bool = False,
) -> Route:
    """A route answering like a healthy one-task app except for the given answers."""
    name = "weekly_digest" if managed else "remote_task"

    def route(method: str, path: str, query: str) -> Answer:
        if method in WRITE_METHODS:
            # Never reached in these tests but the control one; a plausible success so a
            # wrongly sent write is seen. The only create is of the project's manifest, and
            # the API answers a create with the name it was sent.
            return Answer.json(
                {"schedule_id": "00000000-0000-4000-8000-00000000beef", "name": "weekly_digest"}
            )
        if path == LIST:
            if query in ("", "page=1"):
                return page or Answer.json(healthy_page(name))
            return Answer.json({"total_count": 1, "total_pages": 1, "page": 2, "schedules": []})
        if path == DETAIL:
            return detail or Answer.json(healthy_detail(name))
        if path == MSG_IDS:
            return msg_ids or Answer.json(healthy_msg_ids())
        return Answer.json({"error": {"code": 28104, "message": "schedule does not exist"}}, 404)

    return route
