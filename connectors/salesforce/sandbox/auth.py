"""OAuth 2.0 token endpoint (password and client-credentials grants) and the session tokens it issues.

Replies follow Salesforce's: a token reply carries ``access_token``, ``instance_url``, ``id``, ``token_type``,
``issued_at`` (epoch milliseconds, as a string) and ``signature`` (base64 HMAC-SHA256 of ``id + issued_at`` keyed
with the consumer secret). Failures are HTTP 400 with ``{"error", "error_description"}``; a bad username or
password is ``invalid_grant`` / ``authentication failure``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


@dataclass(frozen=True)
class SalesforceCredentials:
    """Who may log in. ``security_token`` is appended to the password by password-grant clients, as on a real org
    (logging in without it is also accepted, as from a trusted IP range). ``user_id`` is the API user; ``None``
    means the emulator's first seeded user."""

    username: str = "dana.kim@yourco.com"
    password: str = "sandbox-password"
    security_token: str = "sandbox-security-token"
    client_id: str = "sandbox-consumer-key"
    client_secret: str = "sandbox-consumer-secret"
    user_id: str | None = None


class TokenRegistry:
    """Issued access tokens; revoking one makes the API answer 401 ``INVALID_SESSION_ID`` to it."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self._tokens: set[str] = set()

    def issue(self) -> str:
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        self._tokens.add(token)
        return token

    def valid(self, token: str) -> bool:
        return token in self._tokens

    def revoke(self, token: str | None = None) -> None:
        """Revoke one token, or every token (``None``), as when sessions time out."""
        if token is None:
            self._tokens.clear()
        else:
            self._tokens.discard(token)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _basic_client(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


async def token_endpoint(
    request: Request, credentials: SalesforceCredentials, tokens: TokenRegistry, user_id: str
) -> Response:
    """``POST /services/oauth2/token`` (form body)."""
    # Parsed here rather than with request.form(), which needs the optional python-multipart package.
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    grant = fields.get("grant_type", "")
    client_id, client_secret = fields.get("client_id", ""), fields.get("client_secret", "")
    basic = _basic_client(request)
    if basic and not client_id:
        client_id, client_secret = basic
    if grant not in {"password", "client_credentials"}:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if client_id != credentials.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if client_secret != credentials.client_secret:
        return _oauth_error("invalid_client", "invalid client credentials")
    if grant == "password":
        password = fields.get("password", "")
        accepted = {credentials.password, credentials.password + credentials.security_token}
        if fields.get("username") != credentials.username or password not in accepted:
            return _oauth_error("invalid_grant", "authentication failure")
    instance_url = f"{request.url.scheme}://{request.url.netloc}"
    identity = f"{instance_url}/id/{tokens.org_id}/{user_id}"
    issued_at = str(int(time.time() * 1000))
    digest = hmac.new(credentials.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return JSONResponse(
        {
            "access_token": tokens.issue(),
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(digest).decode(),
        }
    )
