"""Salesforce's error shapes.

Two shapes exist and the emulator must not mix them up:

- a failed *request* answers an HTTP error status with a JSON **list** ``[{"message", "errorCode", "fields"?}]``
  (:class:`ApiError`, :func:`error_response`);
- a failed *record* inside a successful batch reply carries ``{"statusCode", "message", "fields"}`` in its
  ``errors`` list (:class:`RecordError`); Bulk API 2.0 flattens it to ``CODE:message:fields --`` in ``sf__Error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class RecordError:
    """Why one record was not saved."""

    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The element of a save result's ``errors`` list."""
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def as_bulk(self) -> str:
        """The ``sf__Error`` column of a Bulk API 2.0 failed-results row."""
        return f"{self.status_code}:{self.message}:{','.join(self.fields)} --"


@dataclass
class ApiError(Exception):
    """A request-level failure: raised inside handlers and turned into Salesforce's list-shaped error reply."""

    status: int
    error_code: str
    message: str
    fields: list[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.error_code}: {self.message}")

    @classmethod
    def from_record_error(cls, error: RecordError, status: int = 400) -> ApiError:
        return cls(status, error.status_code, error.message, list(error.fields) or None)

    def response(self) -> Response:
        return error_response(self.status, self.error_code, self.message, self.fields, self.headers)


def error_response(
    status: int, error_code: str, message: str, fields: list[str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """``[{"message": ..., "errorCode": ...}]`` with ``status``; ``fields`` is included when the API names them."""
    body: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse([body], status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def malformed_json(detail: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", detail)


REQUEST_LIMIT_MESSAGE = "TotalRequests Limit exceeded."
ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
