"""Salesforce's errors mapped onto syncer's reactions, in two tables.

Record errors (an entry of a save result's ``errors``, or a Bulk ``sf__Error``) become :class:`RecordResult` values:
``RETRYABLE`` for the codes listed in :data:`RETRYABLE_RECORD_CODES` (a row lock, a rolled-back batch), ``REJECTED``
with the vendor's code and message for everything else (a bad value, a missing field, a duplicate, a record or task
assigned to an inactive user: ``INACTIVE_OWNER_OR_USER``).

Request errors (simple-salesforce's exceptions and requests' transport errors) become
:class:`syncer.contract.errors.DeliveryError` subclasses:

===========================================  ===============================================================
HTTP 403 ``REQUEST_LIMIT_EXCEEDED``          DestinationStoppedError: the daily allocation is spent
other 403 (permissions, API disabled)        DestinationStoppedError
401 ``INVALID_SESSION_ID``                   DestinationStoppedError (after the one re-login OAuth allows)
404 (object or external id field unknown)   DestinationStoppedError: the target is misconfigured
300 (an external id matches several)         BatchRejectedError naming the candidates
400 and other 4xx (``EXCEEDED_ID_LIMIT``,    BatchRejectedError: the executor splits the batch
malformed JSON)
429                                          RateLimitedError
5xx, timeouts, dropped connections           TransientError
===========================================  ===============================================================

Messages carry the vendor's code and message, never a URL's query, a token or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from syncer.contract.destination import RecordResult
from syncer.contract.errors import (
    BatchRejectedError,
    DeliveryError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)

RETRYABLE_RECORD_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",  # another transaction holds the row: retry later, in a smaller batch
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",  # nothing wrong with this record; another one failed the batch
        "REQUEST_RUNNING_TOO_LONG",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
    }
)


def record_result(errors: Sequence[Mapping[str, Any]]) -> RecordResult:
    """The result of one record that Salesforce did not save, from its ``errors`` list."""
    first = errors[0] if errors else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "UNKNOWN_ERROR")
    message = str(first.get("message") or "Salesforce did not save the record")
    fields = [str(name) for name in first.get("fields") or []]
    if fields and not any(name in message for name in fields):
        message = f"{message} (fields: {', '.join(fields)})"
    if code in RETRYABLE_RECORD_CODES:
        return RecordResult.retryable(code, message)
    return RecordResult.rejected(code, message)


def parse_bulk_error(text: str) -> RecordResult:
    """A Bulk API 2.0 ``sf__Error`` cell, ``CODE:message:field,field --``, as a record result."""
    body = text.strip().removesuffix("--").rstrip()
    code, _, rest = body.partition(":")
    message, separator, fields = rest.rpartition(":")
    if not separator:
        message, fields = rest, ""
    names = [name for name in fields.split(",") if name]
    return record_result([{"statusCode": code or "UNKNOWN_ERROR", "message": message or body, "fields": names}])


def _first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a request-level error body (a list of ``{"errorCode", "message"}``)."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(
            content.get("message") or content.get("error_description") or ""
        )
    return "", str(content)[:200] if isinstance(content, str) else ""


def _candidates(content: Any) -> str:
    # A 300 reply lists the matching records' URLs; their last path segment is the record id.
    if isinstance(content, list):
        return ", ".join(str(url).rstrip("/").rsplit("/", 1)[-1] for url in content if isinstance(url, str))
    return ""


def delivery_error(exc: BaseException, doing: str) -> DeliveryError:
    """The reaction to an exception raised while ``doing`` something (e.g. ``"upsert Account"``)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        return DestinationStoppedError(f"Salesforce login failed ({exc.code}): {exc.auth_message}", str(exc.code))
    if isinstance(exc, SalesforceError):
        return _status_error(exc, doing)
    if isinstance(exc, SalesforceOperationError):  # a Bulk step the SDK found wrong (an upload not accepted)
        return TransientError(f"{doing}: {exc}", "BULK_OPERATION")
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"{doing}: Salesforce did not answer in time", "TIMEOUT")
    if isinstance(exc, (requests.exceptions.RequestException, ValueError)):
        # ValueError: a reply that ended early is not valid JSON.
        return TransientError(f"{doing}: the connection to Salesforce failed ({type(exc).__name__})", "CONNECTION")
    return TransientError(f"{doing}: {type(exc).__name__}", "UNEXPECTED")


def _status_error(exc: SalesforceError, doing: str) -> DeliveryError:
    code, message = _first_error(exc.content)
    status = exc.status
    text = f"{doing}: HTTP {status} {code or 'error'}: {message}".rstrip(": ")
    if isinstance(exc, SalesforceRefusedRequest):
        if code == "REQUEST_LIMIT_EXCEEDED":
            return DestinationStoppedError(
                f"{doing}: the org's daily API request allocation is spent; rows stay "
                "pending until requests age out of the rolling 24 hours",
                code,
            )
        return DestinationStoppedError(f"{text} (check the API user's permissions)", code or "FORBIDDEN")
    if isinstance(exc, SalesforceExpiredSession):
        return DestinationStoppedError(
            f"{doing}: the Salesforce session is invalid or expired; give new credentials", code or "INVALID_SESSION_ID"
        )
    if isinstance(exc, SalesforceResourceNotFound):
        return DestinationStoppedError(f"{text} (check the object and match field names)", code or "NOT_FOUND")
    if isinstance(exc, SalesforceMoreThanOneRecord):
        return BatchRejectedError(f"{doing}: several records match: {_candidates(exc.content)}", "MULTIPLE_MATCHES")
    if status == 429:
        return RateLimitedError(text, None, code or "RATE_LIMITED")
    if status >= 500:
        return TransientError(text, code or f"HTTP_{status}")
    if isinstance(exc, SalesforceMalformedRequest) or 400 <= status < 500:
        return BatchRejectedError(text, code or f"HTTP_{status}")
    return TransientError(text, code or f"HTTP_{status}")
