"""What every ``/services/data/vXX.X/...`` request goes through before its handler runs, and after.

In order: the API version must be one the emulator serves (else 404 ``NOT_FOUND``), the bearer token must be a
live session (else 401 ``INVALID_SESSION_ID``, with ``WWW-Authenticate: Token``), and the request is counted against
the daily allocation (else 403 ``REQUEST_LIMIT_EXCEEDED``). Handlers are synchronous and run under the emulator's
lock with the request body already read; they raise :class:`ApiError` for request-level failures. Every counted
reply carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.salesforce.sandbox.errors import (
    REQUEST_LIMIT_MESSAGE,
    ApiError,
    error_response,
    malformed_json,
    not_found,
)
from connectors.salesforce.sandbox.schema import ObjectSpec

if TYPE_CHECKING:
    from connectors.salesforce.sandbox.emulator import SalesforceEmulator

MIN_VERSION = 20.0
MAX_VERSION = 68.0
_VERSION = re.compile(r"^\d{2}\.0$")


@dataclass
class ApiContext:
    """One API request as a handler sees it."""

    request: Request
    emulator: SalesforceEmulator
    version: str
    body: bytes

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.request.path_params)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The JSON body; a body that is not JSON fails the request with ``JSON_PARSER_ERROR``."""
        try:
            return json.loads(self.body or b"null")
        except UnicodeDecodeError as exc:
            raise malformed_json("Invalid UTF-8 start byte in the request body") from exc
        except json.JSONDecodeError as exc:
            char = exc.doc[exc.pos : exc.pos + 1] or "EOF"
            raise malformed_json(
                f"Unexpected character ('{char}'): was expecting a JSON value "
                f"at [line:{exc.lineno}, column:{exc.colno}]"
            ) from exc

    def spec(self, name: str) -> ObjectSpec:
        """The sObject called ``name``; an unknown one is 404 ``NOT_FOUND`` as on a real org."""
        spec = self.emulator.store.spec(name)
        if spec is None:
            raise not_found()
        return spec


Handler = Callable[[ApiContext], Response]


def _version_ok(version: str, minimum: float) -> bool:
    return bool(_VERSION.match(version)) and max(MIN_VERSION, minimum) <= float(version) <= MAX_VERSION


def endpoint(
    emulator: SalesforceEmulator,
    handler: Handler,
    min_version: float = MIN_VERSION,
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` with version, session and allocation checks and the ``Sforce-Limit-Info`` header."""

    async def run(request: Request) -> Response:
        version = str(request.path_params.get("version", ""))
        if not _version_ok(version, min_version):
            return not_found().response()
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        body = await request.body()
        with emulator.lock:
            if not emulator.tokens.valid(token):
                return error_response(
                    401, "INVALID_SESSION_ID", "Session expired or invalid", headers={"WWW-Authenticate": "Token"}
                )
            now = emulator.clock()
            if not emulator.org_limits.try_request(now):
                response = error_response(403, "REQUEST_LIMIT_EXCEEDED", REQUEST_LIMIT_MESSAGE)
            else:
                try:
                    response = handler(ApiContext(request, emulator, version, body))
                except ApiError as exc:
                    response = exc.response()
            response.headers["Sforce-Limit-Info"] = emulator.org_limits.usage_header(now)
            return response

    return run


def api_routes(emulator: SalesforceEmulator, table: Sequence[tuple[str, list[str], Handler, float]]) -> list[Route]:
    """Routes under ``/services/data/v{version}/`` for ``(path, methods, handler, min_version)`` rows.

    Each path is served with and without a trailing slash, because simple-salesforce asks for ``query/`` and
    ``limits/`` but ``sobjects/Account/describe``, and a redirect would turn its PATCH and POST into GETs.
    """
    routes = []
    for path, methods, handler, minimum in table:
        wrapped = endpoint(emulator, handler, minimum)
        base = f"/services/data/v{{version}}/{path}".rstrip("/")
        routes.append(Route(base, wrapped, methods=methods))
        if ":path}" not in path:
            routes.append(Route(base + "/", wrapped, methods=methods))
    return routes
