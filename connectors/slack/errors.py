"""Slack's failures mapped onto syncer's reactions, in one table.

Slack answers almost every failure with HTTP 200 and ``{"ok": false, "error": "<code>"}``; only rate limiting (429
with ``Retry-After``) and outages (5xx) change the status. :func:`classify` turns one failed call into a
:class:`Failure` whose :class:`Reaction` comes from :data:`CODES`:

=====================================================  ==========================================================
Slack says                                             reaction
=====================================================  ==========================================================
429 ``ratelimited``                                    ``RATE_LIMITED``: :class:`RateLimitedError` (Retry-After)
``invalid_auth``, ``token_revoked``, ``missing_scope``  ``STOPPED``: :class:`DestinationStoppedError` (fix the app)
... (the token and scope codes below)
``channel_not_found``, ``not_in_channel``, ...         ``REJECTED``: this one effect is refused; a rejected
                                                       :class:`~syncer.contract.effects.EffectResult`
5xx, ``internal_error``, ``fatal_error``               ``TRANSIENT``: :class:`TransientError`
no reply: timeout, dropped or cut connection           ``TRANSIENT`` (:func:`unreachable`)
any other HTTP 4xx                                     ``STOPPED`` (a proxy or a wrong ``base_url``, not Slack)
any other ``ok: false`` code                           ``REJECTED`` (Slack refused this call, nothing was done)
=====================================================  ==========================================================

Messages name the method, the status, Slack's code and a hint, never the request, so the token cannot leak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from syncer.contract.errors import DeliveryError, DestinationStoppedError, RateLimitedError, TransientError


class Reaction(StrEnum):
    """What the caller does about one failed call."""

    RATE_LIMITED = "rate_limited"
    STOPPED = "stopped"
    REJECTED = "rejected"
    TRANSIENT = "transient"


_TOKEN_HINT = "Check token in syncer.yaml and that the Slack app is still installed."
_SCOPE_HINT = (
    "The Slack app lacks a scope syncer needs (chat:write, im:write, users:read, users:read.email, "
    "channels:history, im:history); add it and reinstall the app."
)

# Slack's error code -> (reaction, what it means for the operator).
CODES: dict[str, tuple[Reaction, str]] = {
    "ratelimited": (Reaction.RATE_LIMITED, "Slack asked us to slow down."),
    "rate_limited": (Reaction.RATE_LIMITED, "Slack asked us to slow down."),
    # The credentials or the installation: nothing will work until someone fixes them.
    "invalid_auth": (Reaction.STOPPED, f"Slack does not accept the token. {_TOKEN_HINT}"),
    "not_authed": (Reaction.STOPPED, f"No token reached Slack. {_TOKEN_HINT}"),
    "account_inactive": (Reaction.STOPPED, f"The token's user or bot was deactivated. {_TOKEN_HINT}"),
    "token_revoked": (Reaction.STOPPED, f"The token was revoked. {_TOKEN_HINT}"),
    "token_expired": (Reaction.STOPPED, f"The rotated token expired; refresh it. {_TOKEN_HINT}"),
    "not_allowed_token_type": (Reaction.STOPPED, "This token type cannot call the method; use a bot token."),
    "missing_scope": (Reaction.STOPPED, _SCOPE_HINT),
    "no_permission": (Reaction.STOPPED, "The workspace does not let the app do this; ask a Slack admin."),
    "team_access_not_granted": (Reaction.STOPPED, "The token has no access to this workspace."),
    "ekm_access_denied": (Reaction.STOPPED, "The workspace's administrators suspended the app's access."),
    # This one message cannot be delivered as addressed; the rest of the run goes on.
    "channel_not_found": (Reaction.REJECTED, "The channel does not exist or the app cannot see it."),
    "not_in_channel": (Reaction.REJECTED, "The app is not a member of the channel; invite it (/invite @app)."),
    "is_archived": (Reaction.REJECTED, "The channel is archived."),
    "user_not_found": (Reaction.REJECTED, "No Slack member has this id."),
    "users_not_found": (Reaction.REJECTED, "No Slack member has this e-mail."),
    "user_disabled": (Reaction.REJECTED, "The Slack member was deactivated."),
    "cannot_dm_bot": (Reaction.REJECTED, "The member is a bot; bots cannot be sent DMs."),
    "invalid_blocks": (Reaction.REJECTED, "Slack refused the message layout."),
    "invalid_blocks_format": (Reaction.REJECTED, "The blocks are not a JSON array of block objects."),
    "msg_too_long": (Reaction.REJECTED, "The message text is longer than Slack allows."),
    "no_text": (Reaction.REJECTED, "The message has neither text nor blocks."),
    "invalid_metadata_format": (Reaction.REJECTED, "The message metadata is not a JSON object."),
    "invalid_metadata_schema": (Reaction.REJECTED, "The message metadata lacks event_type or event_payload."),
    "restricted_action": (Reaction.REJECTED, "The workspace does not allow posting to this channel."),
    # Slack's own trouble: it may pass.
    "internal_error": (Reaction.TRANSIENT, "Slack had an internal error."),
    "fatal_error": (Reaction.TRANSIENT, "Slack had a server error."),
    "service_unavailable": (Reaction.TRANSIENT, "Slack is unavailable."),
    "request_timeout": (Reaction.TRANSIENT, "Slack timed out on the request."),
}

REASONS_SHOWN = 3  # of invalid_blocks' per-block reasons


@dataclass(frozen=True)
class Failure:
    """One failed call as the connector sees it. ``message`` is safe to log and store (no token, no request)."""

    method: str
    status: int
    code: str
    reaction: Reaction
    message: str
    retry_after: float | None = None

    def error(self) -> DeliveryError:
        """The exception the executor reacts to (``REJECTED`` becomes a result instead, where a call has one)."""
        if self.reaction is Reaction.RATE_LIMITED:
            return RateLimitedError(self.message, self.retry_after, self.code)
        if self.reaction is Reaction.TRANSIENT:
            return TransientError(self.message, self.code)
        return DestinationStoppedError(self.message, self.code)


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    raw = next((value for name, value in headers.items() if name.lower() == "retry-after"), None)
    if isinstance(raw, list):  # the SDK keeps some headers as lists
        raw = raw[0] if raw else None
    try:
        seconds = float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _reasons(body: Mapping[str, Any]) -> str:
    """Slack's detailed reasons (``invalid_blocks`` names each bad block), a few of them."""
    metadata = body.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, Mapping) else None
    if not isinstance(messages, list) or not messages:
        return ""
    shown = [str(m).removeprefix("[ERROR] ") for m in messages[:REASONS_SHOWN]]
    more = len(messages) - REASONS_SHOWN
    return " (" + "; ".join(shown) + (f"; and {more} more" if more > 0 else "") + ")"


def classify(method: str, status: int, body: Mapping[str, Any] | None, headers: Mapping[str, Any] | None) -> Failure:
    """The reaction to a call that did not answer ``ok: true``: HTTP ``status``, its parsed ``body`` and headers."""
    body = body if isinstance(body, Mapping) else {}
    code = str(body.get("error") or f"http_{status}")
    known = CODES.get(code)
    if status == 429:
        reaction, hint = Reaction.RATE_LIMITED, "Slack asked us to slow down."
    elif status >= 500 or status == 408:
        reaction, hint = Reaction.TRANSIENT, "Slack did not handle the request."
    elif status != 200:
        reaction, hint = Reaction.STOPPED, "That is not Slack's Web API; check base_url in syncer.yaml."
    elif known is not None:
        reaction, hint = known
    else:
        reaction, hint = Reaction.REJECTED, "Slack refused the call."
    # The SDK's code for a non-JSON body quotes the body; keep only its first words.
    shown_code = code if len(code) <= 60 else code[:57] + "..."
    message = f"Slack {method} answered {status} {shown_code}: {hint}{_reasons(body)}"
    retry_after = _retry_after(headers or {}) if reaction is Reaction.RATE_LIMITED else None
    return Failure(method, status, shown_code, reaction, message, retry_after)


def unreachable(method: str, error: BaseException) -> TransientError:
    """A call that got no complete reply: refused, dropped or cut connection, or a timeout."""
    reason = getattr(error, "reason", None)
    detail = type(reason).__name__ if isinstance(reason, BaseException) else type(error).__name__
    return TransientError(f"Slack {method} did not answer ({detail})", "unreachable")
