"""HubSpot's error bodies, as the CRM v3 / v4 APIs return them.

Every error reply has ``status: "error"``, a ``message``, a ``correlationId`` (a UUID) and a ``category``
(``VALIDATION_ERROR``, ``OBJECT_NOT_FOUND``, ``CONFLICT``, ``INVALID_AUTHENTICATION``, ...). Property validation
failures carry HubSpot's doubly encoded ``message`` ("Property values were not valid: [{...}]") plus an ``errors``
list with ``code`` and ``context.propertyName``, as in the "Using object APIs" guide's error example. Inside a batch
(207) reply each failed input is a ``StandardError``: the SDK model requires ``context``, ``links`` and ``errors``.

Handlers raise :class:`HubSpotError`; the emulator turns it into the JSON reply.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

# The sandbox portal's id, echoed in property validation messages as HubSpot does.
PORTAL_ID = 4_242_424


def correlation_id() -> str:
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """A whole-request failure: HTTP ``status`` with HubSpot's JSON ``body`` (correlationId added on reply)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self, extra_headers: dict[str, str] | None = None) -> JSONResponse:
        body = dict(self.body)
        body.setdefault("correlationId", correlation_id())
        return JSONResponse(body, status_code=self.status, headers={**self.headers, **(extra_headers or {})})


def error(status: int, category: str, message: str, **extra: Any) -> HubSpotError:
    return HubSpotError(status, {"status": "error", "message": message, "category": category, **extra})


def validation_error(message: str, **extra: Any) -> HubSpotError:
    return error(400, "VALIDATION_ERROR", message, **extra)


def invalid_json(message: str) -> HubSpotError:
    """The reply to a body that does not bind to the endpoint's input model (HubSpot's Jackson/Immutables text)."""
    return validation_error(f"Invalid input JSON on line 1, column 1: {message}")


def missing_fields(model: str, fields: list[str]) -> HubSpotError:
    return invalid_json(f"Cannot build {model}, some of required attributes are not set [{', '.join(fields)}]")


def not_found(message: str = "resource not found") -> HubSpotError:
    return error(404, "OBJECT_NOT_FOUND", message)


def conflict(message: str) -> HubSpotError:
    return error(409, "CONFLICT", message)


def unauthenticated() -> HubSpotError:
    return error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
        "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )


@dataclass(frozen=True)
class PropertyProblem:
    """One failed property value: HubSpot's ``PropertyValidationResult``."""

    name: str
    code: str  # PROPERTY_DOESNT_EXIST, INVALID_OPTION, INVALID_LONG, INVALID_DATE, REQUIRED_PROPERTY, ...
    message: str

    def as_result(self) -> dict[str, Any]:
        return {
            "isValid": False,
            "message": self.message,
            "error": self.code,
            "name": self.name,
            "localizedErrorMessage": self.message,
            "portalId": PORTAL_ID,
        }


@dataclass
class PropertyErrors:
    """The property problems of one input; empty means valid."""

    problems: list[PropertyProblem] = field(default_factory=list)

    def message(self) -> str:
        encoded = json.dumps([p.as_result() for p in self.problems], separators=(",", ":"))
        return f"Property values were not valid: {encoded}"

    def details(self) -> list[dict[str, Any]]:
        return [{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in self.problems]

    def to_error(self) -> HubSpotError:
        return validation_error(self.message(), errors=self.details())


def batch_error(
    category: str, message: str, context: dict[str, list[str]], details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One entry of a 207 reply's ``errors`` list (the SDK's ``StandardError``)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": details or [],
        "links": {},
    }


def rate_limit_body(policy: str) -> dict[str, Any]:
    """The 429 body of the ten-secondly (``TEN_SECONDLY_ROLLING``) or daily (``DAILY``) policy."""
    label = "ten_secondly_rolling" if policy == "TEN_SECONDLY_ROLLING" else policy.lower()
    return {
        "status": "error",
        "message": f"You have reached your {label} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    }


def search_rate_limit_body() -> dict[str, Any]:
    """The search endpoints' own 429 (recorded real replies carry no policyName and no rate-limit headers)."""
    return {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "correlationId": correlation_id(),
        "category": "RATE_LIMITS",
    }


def server_error_body(status: int) -> dict[str, Any]:
    messages = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return {
        "status": "error",
        "message": messages.get(status, "internal error"),
        "correlationId": correlation_id(),
        "category": "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
    }
