"""What every vendor emulator shares: inspection routes, the request log and fault injection.

A vendor emulator subclasses :class:`VendorEmulator` and supplies its routes, its seed state and the shapes of its own
error replies. The base wraps the routes in an ASGI layer that logs every request and applies the configured faults,
and adds the inspection API under ``/_sandbox/``:

- ``GET /_sandbox/state``: every emulated record, message and task, as JSON.
- ``GET /_sandbox/requests``: the request log; ``GET /_sandbox/requests/counts``: requests per route.
- ``POST /_sandbox/reset``: back to the seed data, empty log, no faults.
- ``POST /_sandbox/faults``: ``{"seed": 1, "rules": [{"route": "POST /crm/*", "error_rate": 0.2}, ...]}``.

The same operations are methods for tests running in the same process. Handlers run on the server's event loop thread
while tests inspect from theirs, so emulators guard their state with :attr:`VendorEmulator.lock`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from connectors.sandbox.core.faults import Fault, FaultDecision, FaultInjector, FaultRule
from connectors.sandbox.core.requestlog import RequestLog

Clock = Callable[[], float]


class VendorEmulator(ABC):
    """Base of the HubSpot, Salesforce and Slack emulators.

    Subclasses implement :meth:`routes`, :meth:`seed`, :meth:`state`, :meth:`rate_limited_response` and
    :meth:`server_error_response`. ``clock`` (seconds, monotonic) drives rate-limit windows so tests can move time.
    """

    vendor: str = "vendor"

    def __init__(self, *, seed: int = 0, clock: Clock = time.monotonic) -> None:
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = FaultInjector(seed=seed)
        self.clock = clock
        self._app: Starlette | None = None
        self.seed()

    # -- what a vendor supplies -------------------------------------------------------------------------------
    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The vendor API's routes."""

    @abstractmethod
    def seed(self) -> None:
        """Reset the emulated state to its seed data (called at start and by :meth:`reset`)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Every emulated record, message and task, JSON-serialisable."""

    @abstractmethod
    def rate_limited_response(self) -> Response:
        """The vendor's reply when a rate limit is hit (used by fault injection's rate-limit storms)."""

    @abstractmethod
    def server_error_response(self, status: int) -> Response:
        """The vendor's reply to an internal error with HTTP ``status``."""

    def unauthorized_response(self, path: str) -> Response:
        """The vendor's reply to a request to ``path`` whose credentials it no longer accepts (a revoked token);
        vendors override it with their own shape."""
        return JSONResponse({"error": "unauthorized", "message": "the credentials were revoked"}, status_code=401)

    # -- shared behaviour --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Seed data again, empty request log, no faults."""
        with self.lock:
            self.seed()
        self.log.clear()
        self.faults.clear()

    def set_faults(self, rules: list[FaultRule], seed: int | None = None) -> None:
        self.faults.configure(rules, seed)

    def reject_record(self, request: Request) -> bool:
        """For batch handlers: whether fault injection rejects the next record of this request."""
        return self.faults.reject_record(request.method, request.url.path)

    def asgi(self) -> Starlette:
        """The ASGI application (built once)."""
        if self._app is None:
            inspection = [
                Route("/_sandbox/state", self._get_state, methods=["GET"]),
                Route("/_sandbox/requests", self._get_requests, methods=["GET"]),
                Route("/_sandbox/requests/counts", self._get_counts, methods=["GET"]),
                Route("/_sandbox/reset", self._post_reset, methods=["POST"]),
                Route("/_sandbox/faults", self._post_faults, methods=["POST"]),
            ]
            app = Starlette(routes=inspection + self.routes())
            app.add_middleware(_FaultAndLogMiddleware, emulator=self)
            self._app = app
        return self._app

    async def _get_state(self, request: Request) -> Response:
        with self.lock:
            return JSONResponse(self.state())

    async def _get_requests(self, request: Request) -> Response:
        return JSONResponse(self.log.as_json())

    async def _get_counts(self, request: Request) -> Response:
        return JSONResponse(self.log.counts())

    async def _post_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _post_faults(self, request: Request) -> Response:
        body = await request.json()
        rules = [FaultRule(**rule) for rule in body.get("rules", [])]
        self.set_faults(rules, body.get("seed"))
        return JSONResponse({"ok": True, "rules": len(rules)})

    def route_template(self, scope: Scope) -> str:
        for route in self.asgi().routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return f"{scope['method']} {getattr(route, 'path', scope['path'])}"
        return f"{scope['method']} {scope['path']}"


class _ConnectionDroppedError(Exception):
    """Raised inside the ASGI app to make the server close the connection without a complete reply."""


class _FaultAndLogMiddleware:
    """Logs every vendor request and applies the fault the injector draws for it."""

    def __init__(self, app: Any, emulator: VendorEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replay(body)
        method, path = scope["method"], scope["path"]
        decision = self.emulator.faults.decide(method, path)
        route = self.emulator.route_template(scope)
        status = 0
        logged = False

        def record() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self.emulator.log.add(method, path, route, status, decision.fault.value, body)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves: a client that got its reply finds the request logged
            await send(message)

        if decision.fault is Fault.TIMEOUT:
            record()  # no reply will come: log it now, for the client that gave up waiting
        try:
            if decision.latency_ms:
                await asyncio.sleep(decision.latency_ms / 1000)
            await self._apply(decision, scope, replay, recording_send)
        finally:
            record()

    async def _apply(self, decision: FaultDecision, scope: Scope, receive: Receive, send: Send) -> None:
        fault = decision.fault
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(decision.timeout_seconds)
            await _drop(send)
        elif fault is Fault.DROP:
            await _drop(send)
        elif fault is Fault.SERVER_ERROR:
            await self.emulator.server_error_response(decision.error_status)(scope, receive, send)
        elif fault is Fault.RATE_LIMIT:
            await self.emulator.rate_limited_response()(scope, receive, send)
        elif fault is Fault.UNAUTHORIZED:
            await self.emulator.unauthorized_response(scope["path"])(scope, receive, send)
        elif fault is Fault.LOST_RESPONSE:

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)  # the write happens ...
            await _drop(send)  # ... and the reply is lost
        else:
            await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            # Nothing more will come; wait like a quiet client would instead of spinning.
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _drop(send: Send) -> None:
    """Start a reply that promises a body, then fail: the server closes the connection mid-response."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise _ConnectionDroppedError("sandbox fault: connection dropped")
