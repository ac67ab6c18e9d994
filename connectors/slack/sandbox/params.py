"""Reading a Web API call's arguments the way Slack does.

Slack takes arguments from the query string and from the POST body: ``application/x-www-form-urlencoded``,
``multipart/form-data`` or, for the methods that accept it, ``application/json``. The token comes from
``Authorization: Bearer`` or, outside JSON bodies, a ``token`` argument. Content-type quirks become warnings, as on
Slack: JSON without a charset gives ``missing_charset``; a form body that declares one gives ``superfluous_charset``.
A JSON body sent to a method that does not accept JSON is not read at all, so its arguments count as missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from connectors.slack.sandbox.errors import SlackError


@dataclass
class CallArgs:
    """One call's arguments (strings, or JSON values from a JSON body), token and warnings.

    ``actor`` is the member the token acts as (the bot for bot tokens), set once the token is accepted.
    """

    args: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    actor: str | None = None
    warnings: list[str] = field(default_factory=list)

    def text(self, name: str) -> str | None:
        """The argument as a string (JSON numbers included), ``None`` when absent or empty."""
        value = self.args.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "1" if value else "0"
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    def flag(self, name: str, *, default: bool = False) -> bool:
        """A boolean argument: ``true``/``1`` (form) or a JSON boolean."""
        value = self.args.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "yes"}


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    kind, *params = [part.strip() for part in content_type.split(";")]
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip().lower()] = value.strip().strip('"')
    return kind.lower(), options


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    return fields


async def read_call(request: Request, *, accepts_json: bool) -> CallArgs:
    """Parse ``request``; raises :class:`SlackError` for bodies Slack cannot read."""
    call = CallArgs(args=dict(request.query_params))
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    kind, options = _media_type(content_type) if content_type else ("", {})
    if body and not kind:
        raise SlackError("missing_post_type")
    if kind == "application/json":
        if "charset" not in options:
            call.warnings.append("missing_charset")
        try:
            payload = json.loads(body) if body else {}
        except ValueError as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(payload, dict):
            raise SlackError("invalid_json")
        if accepts_json:
            call.args.update(payload)
    elif kind == "application/x-www-form-urlencoded":
        if "charset" in options:
            call.warnings.append("superfluous_charset")
        try:
            call.args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SlackError("invalid_form_data") from exc
    elif kind == "multipart/form-data":
        call.args.update(_multipart(body, content_type))
    elif body:
        raise SlackError("invalid_post_type")
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        call.token = authorization[7:].strip() or None
    elif kind != "application/json" and isinstance(call.args.get("token"), str):
        call.token = call.args["token"] or None
    call.args.pop("token", None)
    return call
