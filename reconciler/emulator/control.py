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

from reconciler.emulator.core import Emulator
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
            if set(data) == {"now"} and isinstance(data["now"], str):
                try:
                    moment = datetime.fromisoformat(data["now"])
                except ValueError:
                    return _bad(f"now: {data['now']!r} is not an ISO 8601 date-time")
                if moment.tzinfo is None:
                    return _bad("now: give a time zone offset, e.g. 2027-01-01T09:00:00+00:00")
                em.set_time(moment)
            elif set(data) == {"advance"} and _is_number(data["advance"]):
                em.advance(float(data["advance"]))
            else:
                return _bad('send {"now": "<ISO 8601 with offset>"} or {"advance": <seconds>}')
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bad(message: str) -> Response:
    return JSONResponse(error_body(400, message), status_code=400)


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        data = json.loads(await request.body())
    except ValueError:
        return _bad("the body must be a JSON object")
    if not isinstance(data, dict):
        return _bad("the body must be a JSON object")
    return data
