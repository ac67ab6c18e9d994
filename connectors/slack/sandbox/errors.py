"""The shapes of Slack's Web API replies: ``ok`` bodies, ``ok: false`` errors, 429s and 5xx.

Slack reports almost every failure as HTTP 200 with ``{"ok": false, "error": "<code>"}``; detailed reasons (for
``invalid_blocks``, ``invalid_arguments``) go in ``response_metadata.messages`` prefixed ``[ERROR]`` and, for blocks,
also in a top-level ``errors`` list. Warnings go both in a top-level ``warning`` (comma-joined) and in
``response_metadata.warnings``. Only rate limiting (429 + ``Retry-After``) and outages (5xx) change the status.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class SlackError(Exception):
    """An ``ok: false`` reply. ``messages`` become ``response_metadata.messages`` (``[ERROR]``-prefixed)."""

    def __init__(
        self,
        code: str,
        messages: list[str] | None = None,
        *,
        errors: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []
        self.errors = errors
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.code}
        if self.errors is not None:
            body["errors"] = list(self.errors)
        body.update(self.extra)
        if self.messages:
            body["response_metadata"] = {"messages": [f"[ERROR] {message}" for message in self.messages]}
        return body


class RateLimited(Exception):  # noqa: N818 - named after Slack's error code, it is a reply, not a bug
    """Raised by a handler when a rate limit refuses the call."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"ratelimited, retry after {retry_after}s")
        self.retry_after = retry_after


def with_warnings(body: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """Add Slack's two renderings of request warnings to a reply body."""
    if warnings:
        body["warning"] = ",".join(warnings)
        metadata = body.setdefault("response_metadata", {})
        metadata["warnings"] = list(warnings)
    return body


def json_reply(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    # Slack always answers the Web API with this content type, errors included.
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/json; charset=utf-8")


def ratelimited_reply(retry_after: int) -> JSONResponse:
    """Slack's rate-limit reply: HTTP 429, ``Retry-After`` in whole seconds, ``error: ratelimited``."""
    return json_reply({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)})


def server_error_reply(status: int) -> JSONResponse:
    """A Slack outage: the status with an ``ok: false`` body naming the common error for it."""
    code = "internal_error" if status == 500 else "service_unavailable"
    return json_reply({"ok": False, "error": code}, status=status)
