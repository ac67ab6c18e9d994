"""The sandbox webhook receiver, spoken to with plain httpx: signatures, idempotency, validation, inspection."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from connectors.sandbox import Sandbox
from connectors.sandbox.core import FaultRule
from connectors.sandbox.core.server import EmulatorServer
from connectors.webhook.sandbox import DEFAULT_SECRET, WebhookReceiver
from connectors.webhook.signing import idempotency_key, signature
from tests.fakes import FakeClock

BATCH: dict[str, Any] = {
    "sync": "s",
    "object": "accounts",
    "operation": "create",
    "records": [
        {"key": "a.com", "record_id": None, "match": "a.com", "fields": {"score": "1"}},
        {"key": "b.com", "record_id": "b-1", "match": "b.com", "fields": {"score": "2"}},
    ],
}


def post(
    url: str,
    document: Any,
    *,
    secret: str | None = DEFAULT_SECRET,
    at: float | None = None,
    key: str | None = "auto",
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(document).encode()
    timestamp = str(int(at if at is not None else time.time()))
    headers = {"Content-Type": "application/json", "X-Syncer-Timestamp": timestamp}
    if secret is not None:
        headers["X-Syncer-Signature"] = signature(secret, timestamp, body)
    if key is not None:
        headers["Idempotency-Key"] = idempotency_key(body) if key == "auto" else key
    return httpx.post(url, content=body, headers=headers, timeout=5)


def test_a_signed_batch_is_stored_and_answered_per_record(sandbox: Sandbox) -> None:
    response = post(sandbox.urls["webhook"], BATCH)
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"key": "a.com", "status": "ok", "id": "wh-1"}, {"key": "b.com", "status": "ok", "id": "b-1"}]
    }
    state = httpx.get(sandbox.servers["webhook"].url + "/_sandbox/state").json()
    assert [r["key"] for r in state["records"]] == ["a.com", "b.com"] and state["batches"] == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"secret": "other"}, "invalid_signature"),
        ({"secret": None}, "invalid_signature"),
        ({"at": 1_000.0}, "stale_timestamp"),
    ],
)
def test_bad_signatures_and_old_timestamps_are_refused_with_401(
    sandbox: Sandbox, kwargs: dict[str, Any], error: str
) -> None:
    response = post(sandbox.urls["webhook"], BATCH, **kwargs)
    assert (response.status_code, response.json()["error"]) == (401, error)
    assert sandbox.webhook.records() == []


def test_a_replayed_key_answers_the_first_reply_and_stores_nothing_new(sandbox: Sandbox) -> None:
    first = post(sandbox.urls["webhook"], BATCH)
    sandbox.webhook.reject_keys(["a.com"])  # would change the answer if the batch were processed again
    again = post(sandbox.urls["webhook"], BATCH)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert sandbox.webhook.batches == 1 and [r["writes"] for r in sandbox.webhook.records()] == [1, 1]


def test_a_reused_key_with_another_batch_is_refused(sandbox: Sandbox) -> None:
    post(sandbox.urls["webhook"], BATCH, key="fixed")
    other = {**BATCH, "records": BATCH["records"][:1]}
    response = post(sandbox.urls["webhook"], other, key="fixed")
    assert (response.status_code, response.json()["error"]) == (422, "idempotency_key_reused")


def test_without_a_key_every_post_is_processed(sandbox: Sandbox) -> None:
    post(sandbox.urls["webhook"], BATCH, key=None)
    post(sandbox.urls["webhook"], BATCH, key=None)
    assert sandbox.webhook.batches == 2 and [r["writes"] for r in sandbox.webhook.records()] == [2, 2]


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[]", 422, "invalid_batch"),
        (b'{"object": "accounts", "operation": "upsert", "records": []}', 422, "invalid_batch"),
        (b'{"object": "accounts", "operation": "create", "records": [{"fields": {}}]}', 422, "invalid_batch"),
        (
            b'{"object": "accounts", "operation": "create", "records": [{"key": "a", "fields": {"n": 1}}]}',
            422,
            "invalid_batch",
        ),
    ],
)
def test_what_is_not_a_batch_is_refused(sandbox: Sandbox, raw: bytes, status: int, error: str) -> None:
    response = post(sandbox.urls["webhook"], None, raw=raw)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert sandbox.webhook.batches == 0


def test_injected_record_rejections_and_configured_keys_answer_rejected(sandbox: Sandbox) -> None:
    sandbox.webhook.reject_keys(["b.com"], "b is blocked")
    assert post(sandbox.urls["webhook"], BATCH).json()["results"][1] == {
        "key": "b.com",
        "status": "rejected",
        "code": "rejected",
        "message": "b is blocked",
    }
    sandbox.webhook.set_faults([FaultRule(route="POST /hook", reject_rate=1.0)])
    second = {**BATCH, "records": [{**r, "key": "c" + r["key"]} for r in BATCH["records"]]}
    statuses = [r["status"] for r in post(sandbox.urls["webhook"], second).json()["results"]]
    assert statuses == ["rejected", "rejected"]


def test_reset_forgets_records_keys_and_rejections(sandbox: Sandbox) -> None:
    sandbox.webhook.reject_keys(["a.com"])
    post(sandbox.urls["webhook"], BATCH)
    sandbox.reset()
    assert sandbox.webhook.state() == {"records": [], "batches": 0, "idempotency_keys": 0}
    assert [r["status"] for r in post(sandbox.urls["webhook"], BATCH).json()["results"]] == ["ok", "ok"]


def test_an_unsigned_receiver_takes_unsigned_batches_and_uses_its_wall_clock() -> None:
    receiver = WebhookReceiver(secret=None, wall_clock=FakeClock(5_000.0))
    server = EmulatorServer(receiver).start()
    try:
        assert post(server.url + "/hook", BATCH, secret=None, at=1.0).status_code == 200
        assert len(receiver.records()) == 2
    finally:
        server.stop()
    signed = WebhookReceiver(wall_clock=FakeClock(5_000.0))
    server = EmulatorServer(signed).start()
    try:
        assert post(server.url + "/hook", BATCH, at=5_200.0).status_code == 200  # within five minutes
        assert post(server.url + "/hook", BATCH, at=5_301.0, key="k2").status_code == 401
    finally:
        server.stop()
