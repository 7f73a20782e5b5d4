"""The control plane under ``/_emulator/``: clock, faults, reset, state dump and request log.

No authentication: the emulator is a loopback tool, and tests and CI scripts drive it with
plain ``curl``. Errors use the vendor envelope with the HTTP status as the code.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from reconciler.emulator.core import Emulator, check_clock
from reconciler.emulator.faults import Faults
from reconciler.emulator.wire import error_body


def control_routes(emulator: Emulator) -> list[BaseRoute]:
    """Routes to mount at ``/_emulator``."""
    em = emulator

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            data = await _json_object(request)
            if isinstance(data, Response):
                return data
            problem = _move_clock(em, data)
            if problem is not None:
                return _bad(problem)
        return JSONResponse({"now": em.now().isoformat(), "timezone": em.tz.key})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            data = await _json_object(request)
            if isinstance(data, Response):
                return data
            try:
                em.faults = Faults.from_dict(data)
            except (ValueError, TypeError) as exc:
                return _bad(f"faults: {exc}")
        return JSONResponse(em.faults.to_dict())

    async def reset(_request: Request) -> Response:
        em.reset()
        return JSONResponse({"reset": True})

    async def state(_request: Request) -> Response:
        return JSONResponse(em.state())

    async def requests(request: Request) -> Response:
        records = em.request_log
        if request.method == "DELETE":
            em.clear_log()
            return JSONResponse({"cleared": len(records)})
        return JSONResponse(
            {
                "requests": [
                    {
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "status": r.status,
                        "fault": r.fault,
                    }
                    for r in records
                ]
            }
        )

    return [
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/state", state, methods=["GET"]),
        Route("/requests", requests, methods=["GET", "DELETE"]),
    ]


def _move_clock(em: Emulator, data: dict[str, Any]) -> str | None:
    """Apply ``{"now": ...}`` or ``{"advance": ...}``; the reason it cannot, or None.

    Through the control plane the clock only moves forward while the emulator holds data:
    going back would leave tasks created, fired or sent "in the future". After a reset (or
    before the first create) ``now`` may name any time in range.
    """
    usage = 'send {"now": "<ISO 8601 with offset>"} or {"advance": <seconds, >= 0>}'
    if set(data) == {"now"} and isinstance(data["now"], str):
        text = data["now"]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return f"now: {text[:60]!r} is not an ISO 8601 date-time"
        if moment.tzinfo is None:
            return "now: give a time zone offset, e.g. 2027-01-01T09:00:00+00:00"
        try:
            check_clock(moment)
        except ValueError as exc:
            return f"now: {exc}"
        if moment < em.now() and em.holds_data():
            return (
                f"now: {text!r} is before the emulator's time {em.now().isoformat()}; the "
                "clock only moves forward while tasks or pushes exist (POST /_emulator/reset "
                "first to start over at an earlier time)"
            )
        em.set_time(moment)
        return None
    if set(data) == {"advance"} and _is_number(data["advance"]):
        seconds = float(data["advance"]) if abs(data["advance"]) < 1e300 else math.inf
        if seconds < 0:
            return (
                f"advance: {data['advance']!r} is negative; the clock only moves forward "
                '(to start over, POST /_emulator/reset and send {"now": ...})'
            )
        try:
            em.advance(seconds)
        except ValueError as exc:
            return f"advance: {exc}"
        return None
    return usage


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    # An int of any size is finite (math.isfinite would overflow converting a huge one).
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _bad(message: str) -> Response:
    return JSONResponse(error_body(400, message), status_code=400)


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        return _bad("the body must be a JSON object")
    if not isinstance(data, dict):
        return _bad("the body must be a JSON object")
    return data
