"""A webhook receiver that keeps the contract of :mod:`connectors.webhook.connector` strictly, for tests and the demo.

``POST /hook`` takes one batch. In order:

1. With a signing secret configured: a missing or wrong ``X-Syncer-Signature``, or an ``X-Syncer-Timestamp`` more
   than ``tolerance_s`` from the receiver's wall clock, answers 401 ``{"error": "invalid_signature"}`` (or
   ``"stale_timestamp"``).
2. A body that is not a batch answers 400 ``invalid_json`` or 422 ``invalid_batch``.
3. An ``Idempotency-Key`` seen before answers the reply it got the first time (with ``Idempotent-Replayed: true``)
   and stores nothing; the same key with a different body answers 422 ``idempotency_key_reused``, as Stripe does.
4. Each record is stored by ``(object, key)`` (``fields`` merged over what was there; ``null`` empties a field) or
   rejected: keys given to :meth:`WebhookReceiver.reject_keys`, and fault injection's ``reject_rate``, answer
   ``{"status": "rejected"}`` with a message. The reply lists every record: ``{"key", "status", "id"|"message"}``.

A ``"check"`` batch with no records answers ``{"results": []}`` and stores nothing. Fault injection (429 storms
with ``Retry-After``, 5xx, dropped connections, lost replies) comes from
:class:`~connectors.sandbox.core.VendorEmulator`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.sandbox.core.base import Clock, VendorEmulator
from connectors.webhook.signing import (
    DEFAULT_TOLERANCE_S,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_valid,
    timestamp_fresh,
)

DEFAULT_SECRET = "sandbox-signing-secret"  # what the demo's syncer.yaml signs with; not a secret of anything real
HOOK_PATH = "/hook"
_OPERATIONS = frozenset({"create", "update", "clear", "check"})


@dataclass
class StoredRecord:
    """One record as the receiver holds it."""

    object: str
    key: str
    id: str
    match: str | None
    fields: dict[str, str | None]
    sync: str | None
    writes: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "key": self.key,
            "id": self.id,
            "match": self.match,
            "fields": dict(self.fields),
            "sync": self.sync,
            "writes": self.writes,
        }


@dataclass
class _Replay:
    body_hash: str
    status: int
    reply: dict[str, Any]


@dataclass
class _Receipts:
    records: dict[tuple[str, str], StoredRecord] = field(default_factory=dict)
    replies: dict[str, _Replay] = field(default_factory=dict)  # by idempotency key
    batches: int = 0  # batches stored (replays and checks not counted)
    next_id: int = 1


class WebhookReceiver(VendorEmulator):
    """Receives signed batches at ``POST /hook``.

    ``secret``: the signing secret (``None``: signatures are not checked). ``tolerance_s``: how far a timestamp may
    be from ``wall_clock`` (epoch seconds). ``retry_after_s``: the ``Retry-After`` of injected 429s.
    """

    vendor = "webhook"

    def __init__(
        self,
        *,
        secret: str | None = DEFAULT_SECRET,
        tolerance_s: float = DEFAULT_TOLERANCE_S,
        retry_after_s: int = 2,
        seed: int = 0,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.retry_after_s = retry_after_s
        self.wall_clock = wall_clock
        self._rejects: dict[str, str] = {}
        super().__init__(seed=seed, clock=clock)

    # -- VendorEmulator ---------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [Route(HOOK_PATH, self._receive, methods=["POST"])]

    def seed(self) -> None:
        self._receipts = _Receipts()
        self._rejects = {}

    def state(self) -> dict[str, Any]:
        receipts = self._receipts
        return {
            "records": [r.to_json() for r in sorted(receipts.records.values(), key=lambda r: (r.object, r.key))],
            "batches": receipts.batches,
            "idempotency_keys": len(receipts.replies),
        }

    def rate_limited_response(self) -> Response:
        return JSONResponse(
            {"error": "rate_limited"}, status_code=429, headers={"Retry-After": str(self.retry_after_s)}
        )

    def server_error_response(self, status: int) -> Response:
        return JSONResponse({"error": "unavailable" if status == 503 else "internal_error"}, status_code=status)

    def unauthorized_response(self, path: str) -> Response:
        return _error(401, "invalid_signature")  # what a receiver that rotated its signing secret answers

    # -- Python API for tests and the demo --------------------------------------------------------------------
    def reject_keys(self, keys: Iterable[str], message: str = "rejected by the receiver's rules") -> None:
        """Reject these record keys (in any object) with ``message`` from now on."""
        with self.lock:
            self._rejects.update({key: message for key in keys})

    def records(self, object_name: str | None = None) -> list[dict[str, Any]]:
        """Stored records (of ``object_name`` when given), sorted by object and key."""
        with self.lock:
            return [r for r in self.state()["records"] if object_name is None or r["object"] == object_name]

    def record(self, key: str, object_name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._receipts.records.get((object_name, key))
            return found.to_json() if found is not None else None

    @property
    def batches(self) -> int:
        """Batches stored: replays of a seen idempotency key and checks do not count."""
        with self.lock:
            return self._receipts.batches

    # -- the endpoint -----------------------------------------------------------------------------------------
    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        refusal = self._signature_refusal(request, body)
        if refusal is not None:
            return _error(401, refusal)
        try:
            batch = json.loads(body)
        except ValueError:
            return _error(400, "invalid_json")
        problem = _batch_problem(batch)
        if problem is not None:
            return _error(422, "invalid_batch", problem)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        body_hash = hashlib.sha256(body).hexdigest()
        with self.lock:
            if key is not None and key in self._receipts.replies:
                seen = self._receipts.replies[key]
                if seen.body_hash != body_hash:
                    return _error(422, "idempotency_key_reused", "this Idempotency-Key came with another batch")
                return JSONResponse(seen.reply, status_code=seen.status, headers={"Idempotent-Replayed": "true"})
            reply = self._store(batch, request)
            if key is not None:
                self._receipts.replies[key] = _Replay(body_hash, 200, reply)
        return JSONResponse(reply)

    def _signature_refusal(self, request: Request, body: bytes) -> str | None:
        if self.secret is None:
            return None
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        claimed = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_valid(self.secret, timestamp, body, claimed):
            return "invalid_signature"
        if not timestamp_fresh(timestamp, self.wall_clock(), self.tolerance_s):
            return "stale_timestamp"
        return None

    def _store(self, batch: dict[str, Any], request: Request) -> dict[str, Any]:
        """Store or reject each record of a valid batch (lock held); the reply body."""
        receipts = self._receipts
        results: list[dict[str, Any]] = []
        if batch["operation"] == "check":
            return {"results": results}
        for item in batch["records"]:
            key = item["key"]
            reason = self._rejects.get(key)
            if reason is None and self.reject_record(request):
                reason = "rejected by injected fault"
            if reason is not None:
                results.append({"key": key, "status": "rejected", "code": "rejected", "message": reason})
                continue
            stored = receipts.records.get((batch["object"], key))
            if stored is None:
                record_id = item.get("record_id") or f"wh-{receipts.next_id}"
                receipts.next_id += 1
                stored = StoredRecord(
                    batch["object"], key, str(record_id), item.get("match"), {}, batch.get("sync"), writes=0
                )
                receipts.records[(batch["object"], key)] = stored
            stored.fields.update(item.get("fields") or {})
            stored.match = item.get("match", stored.match)
            stored.writes += 1
            results.append({"key": key, "status": "ok", "id": stored.id})
        receipts.batches += 1
        return {"results": results}


def _error(status: int, code: str, message: str | None = None) -> JSONResponse:
    body = {"error": code} if message is None else {"error": code, "message": message}
    return JSONResponse(body, status_code=status)


def _batch_problem(batch: Any) -> str | None:
    """What makes ``batch`` not a batch, or ``None``."""
    if not isinstance(batch, dict):
        return "the body is not a JSON object"
    if not isinstance(batch.get("object"), str) or batch.get("operation") not in _OPERATIONS:
        return "'object' must be a string and 'operation' one of " + ", ".join(sorted(_OPERATIONS))
    records = batch.get("records")
    if not isinstance(records, list):
        return "'records' must be a list"
    for item in records:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            return "every record needs a string 'key'"
        fields = item.get("fields")
        if fields is not None and not (
            isinstance(fields, dict) and all(v is None or isinstance(v, str) for v in fields.values())
        ):
            return f"record {item['key']!r}: 'fields' must map names to text or null"
    return None
