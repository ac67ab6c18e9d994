"""HubSpot's failures mapped onto syncer's reactions, in one table.

A reply that is not 2xx, or a request that got no reply, becomes one of :mod:`syncer.contract.errors`:

====================================================  =========================================================
HubSpot says                                          reaction
====================================================  =========================================================
401 ``INVALID_AUTHENTICATION``/``EXPIRED_AUTHENTICATION``  :class:`DestinationStoppedError` (fix the token)
403 (missing scope, portal suspended)                 :class:`DestinationStoppedError`
429 ``policyName: DAILY``                             :class:`DestinationStoppedError` until the daily reset
429 any other policy (rolling, secondly, search)      :class:`RateLimitedError`, ``retry_after`` = the window
400 / 409 for a whole batch                           :class:`BatchRejectedError` (the executor splits the batch)
other 4xx                                             :class:`BatchRejectedError`
5xx                                                   :class:`TransientError`
no reply: timeout, dropped connection, MaxRetryError  :class:`TransientError`
====================================================  =========================================================

A 400 or 409 for a batch of *one* record is that record's refusal: the connector turns it into a rejected
:class:`~syncer.contract.destination.RecordResult` (see :func:`vendor_reason`) rather than raising. Messages name the
status, HubSpot's category and message, never the request's headers, so the access token cannot leak.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from syncer.contract.errors import (
    BatchRejectedError,
    DeliveryError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)

DEFAULT_WINDOW_S = 10.0  # HubSpot's rolling window when a 429 does not say its interval
SEARCH_WINDOW_S = 1.0  # search's own per-second limit


@dataclass(frozen=True)
class Reply:
    """One HTTP reply as the connector sees it: status, parsed JSON body (``{}`` if none) and headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]

    @classmethod
    def parse(cls, status: int, data: bytes | str | None, headers: Mapping[str, str] | None) -> Reply:
        try:
            body = json.loads(data) if data else {}
        except ValueError:
            body = {"message": (data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data))[:200]}
        return cls(status, body if isinstance(body, dict) else {}, {k.lower(): v for k, v in (headers or {}).items()})

    @property
    def category(self) -> str:
        return str(self.body.get("category") or self.body.get("errorType") or f"HTTP_{self.status}")

    @property
    def message(self) -> str:
        return str(self.body.get("message") or "no message")

    def describe(self) -> str:
        return f"HubSpot answered {self.status} {self.category}: {self.message}"


def _window(reply: Reply) -> float:
    raw = reply.headers.get("x-hubspot-ratelimit-interval-milliseconds")
    try:
        return int(raw) / 1000 if raw else DEFAULT_WINDOW_S
    except ValueError:
        return DEFAULT_WINDOW_S


def _unauthorised(reply: Reply) -> DeliveryError:
    return DestinationStoppedError(
        f"HubSpot refused the access token ({reply.category}): {reply.message} Check access_token in syncer.yaml.",
        reply.category,
    )


def _forbidden(reply: Reply) -> DeliveryError:
    return DestinationStoppedError(f"{reply.describe()} The private app lacks a scope this sync needs.", reply.category)


def _rate_limited(reply: Reply) -> DeliveryError:
    policy = str(reply.body.get("policyName") or "")
    if policy == "DAILY":
        return DestinationStoppedError(
            f"HubSpot's daily request limit is spent ({reply.message}); the rows stay "
            "pending until the portal's daily reset.",
            "DAILY",
        )
    if not policy and "x-hubspot-ratelimit-interval-milliseconds" not in reply.headers:
        # Search's own limit: its replies carry no rate-limit headers and the window is one second.
        return RateLimitedError(reply.describe(), SEARCH_WINDOW_S, reply.category)
    return RateLimitedError(reply.describe(), _window(reply), policy or reply.category)


def _rejected(reply: Reply) -> DeliveryError:
    return BatchRejectedError(reply.describe(), reply.category)


def _transient(reply: Reply) -> DeliveryError:
    return TransientError(reply.describe(), reply.category)


# Status (or the first status of its hundred, as 400/500) -> what the executor does about it.
_TABLE: dict[int, Callable[[Reply], DeliveryError]] = {
    401: _unauthorised,
    403: _forbidden,
    429: _rate_limited,
    400: _rejected,
    500: _transient,
}

# Whole-batch refusals that, for a batch of one record, are that record's own refusal.
RECORD_STATUSES = frozenset({400, 404, 409})


def classify(reply: Reply) -> DeliveryError:
    """The reaction to a non-2xx ``reply``."""
    rule = _TABLE.get(reply.status) or _TABLE.get(reply.status // 100 * 100) or _rejected
    return rule(reply)


def vendor_reason(error: Mapping[str, Any]) -> tuple[str, str]:
    """``(code, message)`` for one refused record, from an error body or one entry of a 207's ``errors``.

    Property validation failures carry details (``errors[].code``, ``context.propertyName``) that say more than the
    doubly encoded top-level message, so the first detail's code wins and every detail's message is kept.
    """
    details: list[Mapping[str, Any]] = [d for d in error.get("errors") or [] if isinstance(d, dict) and d.get("code")]
    if not details and error.get("code"):
        details = [error]  # already one detail: ``{code, message, context}``
    if details:
        messages = []
        for detail in details:
            names = (detail.get("context") or {}).get("propertyName") or []
            where = f" ({', '.join(str(n) for n in names)})" if names else ""
            messages.append(f"{detail.get('message')}{where}")
        return str(details[0]["code"]), "; ".join(messages)
    code = error.get("category") or error.get("errorType") or "REJECTED"
    return str(code), str(error.get("message") or "refused without a message")


def unreachable(error: Exception) -> TransientError:
    """A request that got no reply (timeout, refused or dropped connection, urllib3's MaxRetryError)."""
    reason = getattr(error, "reason", None)
    detail = type(reason).__name__ if isinstance(reason, BaseException) else type(error).__name__
    return TransientError(f"HubSpot did not answer ({detail})", "UNREACHABLE")
