"""The daemon's HTTP server: one small Starlette app, served by uvicorn on a thread.

- ``GET /healthz``: 200 while the scheduler runs and ticks, else 503 (a liveness probe, the image's HEALTHCHECK);
- ``GET /readyz``: 200 when the config is valid and the state and warehouse answer, else 503; lists overdue syncs;
- ``GET /metrics``: Prometheus text;
- ``POST /syncs/{name}/trigger`` with ``Authorization: Bearer <daemon.trigger_token>``: 202 queued, or with
  ``?wait=true`` 200 and the run's summary; 401 wrong token, 403 no token configured, 404 unknown sync;
- ``POST /slack/interactions``: signed button presses on alerts (the alert connector's handler).

Every request passes :class:`syncer.daemon.bodies.BoundedRequests` first (head and body bounded, the body cut at
``daemon.max_body_bytes`` as it streams in); every answer the daemon gives, refusals included, is one line of JSON,
and no request yields a 500 (an unexpected fault is a 503 and one log line). Handlers that touch the state or wait
run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from concurrent.futures import Future
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from syncer.contract import clock
from syncer.daemon.bodies import BodyTooLargeError, BoundedRequests, RequestLimits
from syncer.daemon.control import Control
from syncer.daemon.logs import event
from syncer.daemon.metrics import CONTENT_TYPE

log = logging.getLogger("syncer.daemon.http")
TRIGGER_WAIT_S = 3600.0
MAX_CONNECTIONS = 100  # uvicorn answers 503 beyond this many connections and tasks at once
MAX_HEAD_BYTES = 16 * 1024  # h11 refuses (400) a request line and headers that do not arrive within this many bytes


def build_app(control: Control, limits: RequestLimits | None = None) -> ASGIApp:
    """The daemon's routes behind :class:`BoundedRequests` (``limits``: the defaults when None)."""

    async def healthz(request: Request) -> JSONResponse:
        alive, detail = control.alive()
        return JSONResponse({"ok": alive, **detail}, status_code=200 if alive else 503)

    async def readyz(request: Request) -> JSONResponse:
        ready, detail = await run_in_threadpool(control.ready)
        return JSONResponse({"ok": ready, **detail}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(await run_in_threadpool(control.metrics), media_type=CONTENT_TYPE)

    async def trigger(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        token = control.trigger_token()
        if token is None:
            return _error(403, "triggers are disabled: set daemon.trigger_token in syncer.yaml")
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _error(401, "missing or wrong bearer token")
        known = control.sync_names()
        if name not in known:
            return _error(404, f"no sync named '{name}' (known: {', '.join(sorted(known)) or 'none'})")
        wait = request.query_params.get("wait", "").lower() in ("1", "true", "yes")
        waiter: Future[dict[str, Any] | None] = Future()
        if not control.trigger(name, waiter):
            return _error(503, "the daemon is stopping")
        event(log, "triggered", sync=name, wait=wait, client=request.client.host if request.client else None)
        if not wait:
            return JSONResponse({"sync": name, "queued": True}, status_code=202)
        summary = await run_in_threadpool(waiter.result, TRIGGER_WAIT_S)
        return JSONResponse(summary or {"sync": name, "status": "skipped"}, status_code=200)

    async def interactions(request: Request) -> JSONResponse:
        body = await request.body()  # bounded: BoundedRequests cuts it at the cap as it streams in
        status, answer, feedback = await run_in_threadpool(control.interaction, body, dict(request.headers))
        task = BackgroundTask(control.record_feedback, feedback) if feedback is not None else None
        return JSONResponse(answer, status_code=status, background=task)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/syncs/{name}/trigger", trigger, methods=["POST"]),
        Route("/slack/interactions", interactions, methods=["POST"]),
    ]
    # Starlette's own refusals (404, 405) as one line of JSON too; an unexpected error answers 503 here, and
    # BoundedRequests, which sees it re-raised, logs it on one line.
    handlers = {HTTPException: _http_refusal, BodyTooLargeError: _too_large, Exception: _fault}
    return BoundedRequests(Starlette(routes=routes, exception_handlers=handlers), limits or RequestLimits())


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


async def _http_refusal(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        return await _fault(request, exc)
    refusal = _error(exc.status_code, exc.detail)
    refusal.headers.update(exc.headers or {})  # e.g. Allow on a 405
    return refusal


async def _too_large(request: Request, exc: Exception) -> Response:
    return _error(413, str(exc))


async def _fault(request: Request, exc: Exception) -> Response:
    return _error(503, "the daemon could not answer this request; it logged why")


class HttpServer:
    """uvicorn on a thread of its own; :meth:`start` raises ``OSError`` when it cannot listen."""

    def __init__(self, control: Control, host: str, port: int, limits: RequestLimits | None = None) -> None:
        config = uvicorn.Config(
            build_app(control, limits),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            http="h11",
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            limit_concurrency=MAX_CONNECTIONS,
        )
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self._thread = threading.Thread(target=self._serve, name="syncer-http", daemon=True)
        self._failure: BaseException | None = None

    def _serve(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # uvicorn exits (SystemExit) when it cannot bind
            self._failure = exc

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = clock.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or clock.monotonic() > deadline:
                raise OSError(
                    f"cannot serve HTTP on {self.host}:{self.port} (in use, or not an address of this "
                    "machine): set daemon.host and daemon.port"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():  # not when it never started, or exited already (it could not bind)
            self._thread.join(10)
