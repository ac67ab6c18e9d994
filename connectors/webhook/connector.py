"""The webhook destination: one signed JSON POST per batch to any URL.

Request (one per :meth:`WebhookDestination.write`)::

    POST <url>
    Content-Type: application/json
    X-Syncer-Timestamp: 1768478400                       epoch seconds of sending
    X-Syncer-Signature: sha256=<hex>                     HMAC-SHA256(signing_secret, timestamp + "." + body);
                                                         sent only when a signing_secret is configured
    Idempotency-Key: <hex>                               SHA-256 of a per-run scope and the body: the same batch
                                                         re-sent in one run has the same key; a new run, a new key

    {"sync": "pql_accounts", "object": "accounts", "operation": "update",
     "records": [{"key": "acme.com", "record_id": "42", "match": "acme.com", "fields": {"score": "97"}}]}

``fields`` holds only the fields to change, as normalised text; ``null`` empties a field (``operation: clear``
sends every owned field as ``null``). The body is canonical JSON (sorted keys, no spaces), so the key is stable.

Reply contract:

- **2xx** with an empty body, or any body without a ``results`` list: every record is confirmed.
- **2xx** with ``{"results": [{"key": ..., "status": "ok" | "rejected" | "retryable", "id"?: ..., "code"?: ...,
  "message"?: ...}]}``: per-record answers. ``ok`` confirms (``id`` becomes the record id), ``rejected`` keeps the
  row as a row error with ``message``, ``retryable`` leaves it pending. Records the list does not name are confirmed.
  A ``results`` value that breaks these rules (not a list, an unknown key or status) stops the destination.
- Any other status: the table in :mod:`connectors.webhook.errors` (429 and 503 with ``Retry-After``: rate limited;
  408, 5xx, timeouts, connection errors: transient; 400/413/422: batch rejected; 401/403/404: stopped).

:meth:`~WebhookDestination.check` sends a signed empty batch (``"operation": "check"``, ``"records": []``), which
proves the URL answers and accepts the signature; receivers answer it 2xx and store nothing.
:meth:`~WebhookDestination.setup` has nothing to create: a webhook has no schema.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from connectors.webhook.capabilities import capabilities
from connectors.webhook.errors import error_for, transport_error, where
from connectors.webhook.settings import WebhookSettings
from connectors.webhook.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    idempotency_key,
    signature,
)
from syncer.contract.destination import (
    BatchResult,
    Capabilities,
    FieldCheck,
    Operation,
    RecordResult,
    Target,
    WriteRecord,
)
from syncer.contract.errors import DestinationStoppedError

CHECK_OPERATION = "check"
_STATUSES = frozenset({"ok", "rejected", "retryable"})


class WebhookDestination:
    """POSTs batches for one :class:`Target`. ``write`` is thread-safe (``httpx.Client`` is; nothing else changes).

    ``client``: an ``httpx.Client`` to send with (tests inject ``httpx.MockTransport``); by default one is built
    with the settings' timeout and closed by :meth:`close`. ``clock``: wall-clock epoch seconds for the timestamp
    header and for ``Retry-After`` dates. ``sync``: the sync's name, sent as ``"sync"`` in every body; by default the
    target's (:attr:`Target.sync`, which the engine sets), ``null`` only when neither names one.
    """

    def __init__(
        self,
        settings: WebhookSettings,
        target: Target,
        *,
        sync: str | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.target = target
        self.sync = sync if sync is not None else target.sync
        self.clock = clock
        self._url = httpx.URL(settings.url)
        self.key_scope = secrets.token_hex(8)  # one per opening (per run): see signing.idempotency_key
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=settings.timeout_s, follow_redirects=False)
        self._capabilities = capabilities(settings)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def write(self, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        if not records:
            return BatchResult([], calls=0)
        if len(records) > self.settings.batch_size:
            raise ValueError(f"a webhook batch holds at most {self.settings.batch_size} records, got {len(records)}")
        payload = [
            {"key": r.key, "record_id": r.record_id, "match": r.match, "fields": dict(r.values)} for r in records
        ]
        reply = self._post(op.value, payload)
        return BatchResult(self._results(reply, records))

    def check(self) -> list[FieldCheck]:
        """Send a signed empty batch; raise the reply's :class:`~syncer.contract.errors.DeliveryError` if refused.

        A webhook has no fields to inspect, so an accepted check finds nothing.
        """
        self._post(CHECK_OPERATION, [])
        return []

    def setup(self) -> list[str]:
        return [f"nothing to create: the webhook at {where(self._url)} takes any fields"]

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- sending ----------------------------------------------------------------------------------------------
    def _post(self, operation: str, records: list[dict[str, Any]]) -> httpx.Response:
        document = {"sync": self.sync, "object": self.target.object, "operation": operation, "records": records}
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: idempotency_key(body, self.key_scope),
        }
        if self.settings.signing_secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.settings.signing_secret.get_secret_value(), timestamp, body)
        try:
            reply = self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise transport_error(error, self._url) from None
        failure = error_for(reply, self.clock())
        if failure is not None:
            raise failure
        return reply

    # -- reading the reply ------------------------------------------------------------------------------------
    def _results(self, reply: httpx.Response, records: Sequence[WriteRecord]) -> list[RecordResult]:
        answers = self._answers(reply, {record.key for record in records})
        results = []
        for record in records:
            answer = answers.get(record.key)
            results.append(_result(answer, record))
        return results

    def _answers(self, reply: httpx.Response, keys: set[str]) -> dict[str, Mapping[str, Any]]:
        """The per-record answers of a 2xx reply, by key; empty when the reply confirms the whole batch."""
        try:
            document = json.loads(reply.content) if reply.content.strip() else None
        except ValueError:
            return {}  # a plain-text "ok": the receiver took the batch
        if not isinstance(document, dict) or "results" not in document:
            return {}
        entries = document["results"]
        if not isinstance(entries, list):
            raise self._broken("'results' is not a list")
        answers: dict[str, Mapping[str, Any]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                raise self._broken("a result has no string 'key'")
            if entry["key"] not in keys:
                raise self._broken(f"a result names key {entry['key']!r}, which the batch did not send")
            if entry.get("status") not in _STATUSES:
                raise self._broken(
                    f"a result's status is {entry.get('status')!r}, not one of {', '.join(sorted(_STATUSES))}"
                )
            answers[entry["key"]] = entry
        return answers

    def _broken(self, problem: str) -> DestinationStoppedError:
        return DestinationStoppedError(
            f"the webhook at {where(self._url)} broke the reply contract: {problem}", "bad_reply"
        )


def _result(answer: Mapping[str, Any] | None, record: WriteRecord) -> RecordResult:
    if answer is None:
        return RecordResult.confirmed(record.record_id)
    status = answer["status"]
    message = str(answer.get("message") or "")
    if status == "rejected":
        return RecordResult.rejected(str(answer.get("code") or "rejected"), message or "rejected by the receiver")
    if status == "retryable":
        return RecordResult.retryable(str(answer.get("code") or "retryable"), message or "the receiver asked to retry")
    found = answer.get("id")
    return RecordResult.confirmed(str(found) if found is not None else record.record_id)


def open_destination(
    settings: WebhookSettings, target: Target, *, sync: str | None = None, client: httpx.Client | None = None
) -> WebhookDestination:
    """The registry's factory (``connectors.webhook.connector:open_destination``)."""
    return WebhookDestination(settings, target, sync=sync, client=client)


__all__ = ["CHECK_OPERATION", "WebhookDestination", "open_destination"]
