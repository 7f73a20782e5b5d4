"""The HTTP face of the emulator: a Starlette app speaking the vendor's wire format.

Routes map one-to-one onto ``Emulator.api_*``; authentication and the error envelope are applied
here, faults by ``FaultLayer`` around the whole ``/v4/`` tree, and the control plane is mounted
under ``/_emulator/`` (a prefix the real API does not have).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from reconciler.emulator import wire
from reconciler.emulator.control import control_routes
from reconciler.emulator.core import Emulator, Reply
from reconciler.emulator.middleware import FAULT_KEY, AnswerLayer, FaultLayer
from reconciler.emulator.wire import WireError, error_body


def create_app(emulator: Emulator) -> Starlette:
    """A Starlette app serving ``emulator``; use under uvicorn or ``httpx.ASGITransport``."""
    api = _Api(emulator)
    routes = [
        Route("/v4/schedules", api.schedules, methods=["GET", "POST"]),
        Route("/v4/schedules/{schedule_id}", api.schedule, methods=["GET", "PUT", "DELETE"]),
        Route("/v4/schedules/{schedule_id}/msg-ids", api.msg_ids, methods=["GET"]),
        Route("/v4/batch/push/regid", api.batch_regid, methods=["POST"]),
        Route("/v4/batch/push/alias", api.batch_alias, methods=["POST"]),
        Mount("/_emulator", routes=control_routes(emulator)),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AnswerLayer, emulator=emulator),
            Middleware(FaultLayer, emulator=emulator),
        ],
        exception_handlers={HTTPException: _http_error},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods answer in the vendor's JSON envelope, not plain text."""
    assert isinstance(exc, HTTPException)
    message = f"no such endpoint: {request.method} {request.url.path}"
    if exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    return _error(error_body(exc.status_code, message), exc.status_code)


def _error(body: object, status: int) -> Response:
    # The page's error answers say "application/json; charset=utf-8".
    return JSONResponse(body, status_code=status, media_type=wire.JSON_UTF8)


def _answer(request: Request, call: Callable[[], Reply], *, charset: bool = False) -> Response:
    """Run ``call``; its reply or its error in the vendor envelope.

    ``charset``: list, detail and msg-ids answers carry ``; charset=utf-8`` (as the page shows
    them); create, update and delete answers plain ``application/json``.
    """
    try:
        reply = call()
    except WireError as exc:
        if exc.fault is not None:
            request.scope[FAULT_KEY] = exc.fault
        return _error(exc.body(), exc.status)
    if reply.body is None:
        # docs/api.md section 3: delete answers 200 with an empty body.
        return Response(b"", status_code=reply.status, media_type="application/json")
    media_type = wire.JSON_UTF8 if charset else "application/json"
    return JSONResponse(
        reply.body, status_code=reply.status, headers=dict(reply.headers), media_type=media_type
    )


class _Api:
    """Request handlers for the vendor endpoints (docs/api.md sections 3 and 6)."""

    def __init__(self, emulator: Emulator) -> None:
        self.em = emulator

    def _denied(self, request: Request, *, batch: bool) -> Response | None:
        result = self.em.authenticate(request.headers.get("authorization"))
        if result == "ok":
            return None
        if batch and result == "bad_length":
            err = WireError(400, wire.BATCH_APPKEY_LENGTH, "AppKey must be 24 characters long")
        elif batch:
            err = WireError(401, wire.BATCH_AUTH, "Basic authentication failed")
        else:
            err = WireError(
                401,
                wire.SCHEDULE_AUTH,
                "Basic authentication failed: AppKey and Master Secret do not match",
            )
        return _error(err.body(), err.status)

    async def schedules(self, request: Request) -> Response:
        if denied := self._denied(request, batch=False):
            return denied
        if request.method == "POST":
            raw = await request.body()
            return _answer(request, lambda: self.em.api_create(raw))
        page = request.query_params.get("page")
        return _answer(request, lambda: self.em.api_list(page), charset=True)

    async def schedule(self, request: Request) -> Response:
        if denied := self._denied(request, batch=False):
            return denied
        schedule_id = request.path_params["schedule_id"]
        if request.method == "GET":
            return _answer(request, lambda: self.em.api_get(schedule_id), charset=True)
        if request.method == "DELETE":
            return _answer(request, lambda: self.em.api_delete(schedule_id))
        raw = await request.body()
        return _answer(request, lambda: self.em.api_update(schedule_id, raw))

    async def msg_ids(self, request: Request) -> Response:
        if denied := self._denied(request, batch=False):
            return denied
        schedule_id = request.path_params["schedule_id"]
        return _answer(request, lambda: self.em.api_msg_ids(schedule_id), charset=True)

    async def batch_regid(self, request: Request) -> Response:
        return await self._batch(request, "regid")

    async def batch_alias(self, request: Request) -> Response:
        return await self._batch(request, "alias")

    async def _batch(self, request: Request, by: str) -> Response:
        if denied := self._denied(request, batch=True):
            return denied
        raw = await request.body()
        return _answer(request, lambda: self.em.api_batch(by, raw))
