"""The webhook's reply table: HTTP status (or transport failure) -> the executor's reaction.

==========================  ==========================================================================
reply                       raised
==========================  ==========================================================================
2xx                         nothing: the reply body is read for per-record results
429                         :class:`RateLimitedError` with ``Retry-After`` (seconds or an HTTP date)
503 with ``Retry-After``    :class:`RateLimitedError` (the receiver said when to come back)
408, 5xx                    :class:`TransientError`
400, 413, 422               :class:`BatchRejectedError`: something in the batch; the executor splits it
401, 403                    :class:`DestinationStoppedError`: the signing secret or the URL's access is wrong
404, 405, 410               :class:`DestinationStoppedError`: the URL does not take these POSTs
3xx, any other 4xx          :class:`DestinationStoppedError`: the receiver needs attention before a retry
timeout, connection error   :class:`TransientError`
==========================  ==========================================================================

Messages name the receiver by scheme, host and port only: webhook paths and queries often embed secrets.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

from syncer.contract.errors import (
    BatchRejectedError,
    DeliveryError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)

_REJECTED = frozenset({400, 413, 422})
_AUTH = frozenset({401, 403})
_WRONG_URL = frozenset({404, 405, 410})
_DETAIL_CHARS = 200  # enough of a reply body to show the receiver's reason, never a whole page


def where(url: httpx.URL) -> str:
    """The receiver as it may appear in messages and logs."""
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds from ``now`` (epoch seconds), from delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def _detail(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:_DETAIL_CHARS]
    return f": {text}" if text else ""


def error_for(response: httpx.Response, now: float) -> DeliveryError | None:
    """The error a non-2xx reply means, or ``None`` for a 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    code = str(status)
    receiver = where(response.request.url)
    detail = _detail(response)
    wait = retry_after(response.headers.get("Retry-After"), now)
    if status == 429 or (status == 503 and wait is not None):
        return RateLimitedError(f"the webhook at {receiver} asked to slow down (HTTP {status})", wait, code)
    if status == 408 or status >= 500:
        return TransientError(f"the webhook at {receiver} failed with HTTP {status}{detail}", code)
    if status in _REJECTED:
        return BatchRejectedError(f"the webhook at {receiver} refused the batch with HTTP {status}{detail}", code)
    if status in _AUTH:
        return DestinationStoppedError(
            f"the webhook at {receiver} refused our signature or access (HTTP {status}); "
            "check the signing secret both sides hold",
            code,
        )
    if status in _WRONG_URL:
        return DestinationStoppedError(
            f"the webhook at {receiver} does not take batches at the configured URL "
            f"(HTTP {status}); check the url setting",
            code,
        )
    if 300 <= status < 400:
        return DestinationStoppedError(
            f"the webhook at {receiver} redirects (HTTP {status}); set the url to the final address", code
        )
    return DestinationStoppedError(f"the webhook at {receiver} answered HTTP {status}{detail}", code)


def transport_error(error: httpx.TransportError, url: httpx.URL) -> TransientError:
    """A timeout, refused or dropped connection: nothing is known to have been stored, so retry."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
    return TransientError(f"the webhook at {where(url)} {kind} ({type(error).__name__})", kind.replace(" ", "_"))
