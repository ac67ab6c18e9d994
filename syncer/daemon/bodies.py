"""Bounds on every request the daemon's HTTP server reads, for every route, including routes added later.

:class:`BoundedRequests` wraps the whole ASGI app, so no handler has to remember a limit:

- the request head: at most ``max_headers`` headers and ``max_header_bytes`` of path, query and headers together,
  else 431 (uvicorn's h11 parser refuses a larger head before it reaches the app: ``h11_max_incomplete_event_size``);
- the body: a declared ``Content-Length`` over ``max_body_bytes`` is refused with 413 before a byte is read; without
  one (``Transfer-Encoding: chunked``) the body is counted as it streams in and the read stops with 413 at the first
  chunk past the cap, so the process never holds more than the cap plus one chunk;
- anything a handler did not expect is logged on one line (its type and message, no traceback) and answered 503;
  uvicorn never sees it, so nothing prints a traceback.

Every refusal is one line of JSON: ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncer.daemon.logs import event

log = logging.getLogger("syncer.daemon.http")
DEFAULT_MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class RequestLimits:
    """What one request may hold; ``max_body_bytes`` comes from ``daemon.max_body_bytes`` in syncer.yaml."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_headers: int = 64
    max_header_bytes: int = 16 * 1024


class BodyTooLargeError(Exception):
    """Raised from ``receive`` once the body passes the cap; the app's handler turns it into a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")


class BoundedRequests:
    """ASGI middleware enforcing :class:`RequestLimits` and answering 503 (one log line) for unexpected errors."""

    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await answer(send, *refusal)
            return
        cap, received, started = self.limits.max_body_bytes, 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLargeError(cap)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError as exc:  # read outside a route (e.g. by a middleware): still a 413
            if not started:
                await answer(send, 413, str(exc))
        except Exception as exc:  # a fault of the daemon, not of the request: one line in the log, never a trace
            event(
                log,
                "http_error",
                logging.ERROR,
                method=scope.get("method"),
                path=scope.get("path"),
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            if not started:
                await answer(send, 503, "the daemon could not answer this request; it logged why")

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """Why the request head is refused (status, reason), before any handler runs; None when it is fine."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        limits = self.limits
        if len(headers) > limits.max_headers:
            return 431, f"more than {limits.max_headers} headers"
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
        size += sum(len(name) + len(value) for name, value in headers)
        if size > limits.max_header_bytes:
            return 431, f"request head over {limits.max_header_bytes} bytes"
        declared = [value for name, value in headers if name.lower() == b"content-length"]
        if len(declared) > 1 or any(not value.strip().isdigit() for value in declared):
            return 400, "Content-Length is not one whole number"
        # Length first: int() refuses a number of over 4,300 digits, and no body that long would be read anyway.
        if declared and (len(declared[0].strip()) > 18 or int(declared[0]) > limits.max_body_bytes):
            return 413, f"body over {limits.max_body_bytes} bytes"
        return None


async def answer(send: Send, status: int, error: str) -> None:
    """Send a whole response: one line of JSON ``{"ok": false, "error": ...}``."""
    body = json.dumps({"ok": False, "error": error}, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
