"""The webhook's reply table and request shape, with ``httpx.MockTransport`` handlers standing in for receivers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.webhook.capabilities import rate_policy
from connectors.webhook.connector import WebhookDestination, open_destination
from connectors.webhook.signing import idempotency_key, signature_valid
from syncer.contract.destination import Operation, RatePolicy, RecordStatus
from syncer.contract.errors import (
    BatchRejectedError,
    DeliveryError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)

from .conftest import TARGET, records, settings

URL = "https://hooks.example.com/in/s3cr3t-path?token=t0k3n"
NOW = 1_768_478_400.0  # 2026-01-15T12:00:00Z
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def make(sent: list[httpx.Request]) -> Iterator[Callable[..., WebhookDestination]]:
    """``make(handler, **settings)``: a destination whose every POST the handler answers (requests go to ``sent``)."""
    clients: list[httpx.Client] = []

    def build(handler: Handler, **overrides: object) -> WebhookDestination:
        def recording(request: httpx.Request) -> httpx.Response:
            request.read()
            sent.append(request)
            return handler(request)

        client = httpx.Client(transport=httpx.MockTransport(recording))
        clients.append(client)
        return WebhookDestination(settings(URL, **overrides), TARGET, sync="pql", client=client, clock=lambda: NOW)

    yield build
    for client in clients:
        client.close()


def reply(status: int, body: object = None, headers: dict[str, str] | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handle


# -- the request ------------------------------------------------------------------------------------------------
def test_the_request_is_a_signed_canonical_batch(
    make: Callable[..., WebhookDestination], sent: list[httpx.Request]
) -> None:
    destination = make(reply(204))
    destination.write(Operation.UPDATE, records(2, Operation.UPDATE))
    request = sent[0]
    body = json.loads(request.content)
    assert body == {
        "sync": "pql",
        "object": "accounts",
        "operation": "update",
        "records": [
            {"key": "k0.com", "record_id": None, "match": "k0.com", "fields": {"score": "0", "tier": "A"}},
            {"key": "k1.com", "record_id": None, "match": "k1.com", "fields": {"score": "1", "tier": "A"}},
        ],
    }
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Syncer-Timestamp"] == str(int(NOW))
    assert signature_valid(
        "sandbox-signing-secret", str(int(NOW)), request.content, request.headers["X-Syncer-Signature"]
    )
    assert not signature_valid(
        "sandbox-signing-secret", str(int(NOW) + 1), request.content, request.headers["X-Syncer-Signature"]
    )  # the timestamp is signed too
    assert request.headers["Idempotency-Key"] == idempotency_key(request.content, destination.key_scope)


def test_the_idempotency_key_is_the_same_for_the_same_batch_at_another_time(
    make: Callable[..., WebhookDestination], sent: list[httpx.Request]
) -> None:
    destination = make(reply(200))
    destination.write(Operation.CREATE, records(3))
    destination.clock = lambda: NOW + 3600
    destination.write(Operation.CREATE, records(3))
    assert sent[0].headers["X-Syncer-Timestamp"] != sent[1].headers["X-Syncer-Timestamp"]
    assert sent[0].headers["Idempotency-Key"] == sent[1].headers["Idempotency-Key"]
    assert sent[0].headers["X-Syncer-Signature"] != sent[1].headers["X-Syncer-Signature"]
    destination.write(Operation.CREATE, records(3, start=1))
    assert sent[2].headers["Idempotency-Key"] != sent[0].headers["Idempotency-Key"]


def test_without_a_secret_nothing_is_signed(make: Callable[..., WebhookDestination], sent: list[httpx.Request]) -> None:
    make(reply(200), signing_secret=None).write(Operation.CREATE, records(1))
    assert "X-Syncer-Signature" not in sent[0].headers and "Idempotency-Key" in sent[0].headers


def test_an_empty_write_sends_nothing(make: Callable[..., WebhookDestination], sent: list[httpx.Request]) -> None:
    assert make(reply(500)).write(Operation.CREATE, []).calls == 0 and sent == []


# -- 2xx replies --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [reply(200), reply(204), reply(202, "ok"), reply(200, {"received": 2})])
def test_a_2xx_without_results_confirms_every_record(make: Callable[..., WebhookDestination], answer: Handler) -> None:
    result = make(answer).write(Operation.CREATE, records(2))
    assert [(r.status, r.record_id) for r in result.results] == [(RecordStatus.CONFIRMED, None)] * 2


def test_per_record_results_map_back_by_key_and_missing_keys_are_confirmed(
    make: Callable[..., WebhookDestination],
) -> None:
    answer = reply(
        200,
        {
            "results": [
                {"key": "k2.com", "status": "rejected", "code": "owner_missing", "message": "no owner"},
                {"key": "k0.com", "status": "ok", "id": 17},
                {"key": "k3.com", "status": "retryable", "message": "locked"},
            ]
        },
    )
    results = make(answer).write(Operation.CREATE, records(4)).results
    assert [r.status for r in results] == [
        RecordStatus.CONFIRMED,
        RecordStatus.CONFIRMED,
        RecordStatus.REJECTED,
        RecordStatus.RETRYABLE,
    ]
    assert results[0].record_id == "17" and results[1].record_id is None
    assert (results[2].code, results[2].message) == ("owner_missing", "no owner")
    assert (results[3].code, results[3].message) == ("retryable", "locked")


@pytest.mark.parametrize(
    "results",
    [
        {"key": "k0.com", "status": "ok"},
        [{"status": "ok"}],
        [{"key": "elsewhere.com", "status": "ok"}],
        [{"key": "k0.com", "status": "done"}],
    ],
)
def test_a_results_list_that_breaks_the_contract_stops_the_destination(
    make: Callable[..., WebhookDestination], results: object
) -> None:
    with pytest.raises(DestinationStoppedError, match="broke the reply contract") as excinfo:
        make(reply(200, {"results": results})).write(Operation.CREATE, records(2))
    assert excinfo.value.code == "bad_reply"


# -- the error table --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (408, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (400, BatchRejectedError),
        (413, BatchRejectedError),
        (422, BatchRejectedError),
        (401, DestinationStoppedError),
        (403, DestinationStoppedError),
        (404, DestinationStoppedError),
        (410, DestinationStoppedError),
        (301, DestinationStoppedError),
        (409, DestinationStoppedError),
        (429, RateLimitedError),
    ],
)
def test_each_status_maps_to_one_reaction(
    make: Callable[..., WebhookDestination], status: int, kind: type[DeliveryError]
) -> None:
    with pytest.raises(DeliveryError) as excinfo:
        make(reply(status, {"error": "nope"})).write(Operation.CREATE, records(1))
    assert type(excinfo.value) is kind and excinfo.value.code == str(status)
    message = str(excinfo.value)
    assert "hooks.example.com" in message
    assert "s3cr3t-path" not in message and "t0k3n" not in message and "sandbox-signing-secret" not in message


@pytest.mark.parametrize(
    ("status", "header", "wait"),
    [
        (429, "30", 30.0),
        (429, "1.5", 1.5),
        (429, None, None),
        (503, "12", 12.0),
        (429, "Thu, 15 Jan 2026 12:01:00 GMT", 60.0),
        (429, "Thu, 15 Jan 2026 11:00:00 GMT", 0.0),
        (429, "soon", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    make: Callable[..., WebhookDestination], status: int, header: str | None, wait: float | None
) -> None:
    headers = {"Retry-After": header} if header is not None else None
    with pytest.raises(RateLimitedError) as excinfo:
        make(reply(status, headers=headers)).write(Operation.CREATE, records(1))
    assert excinfo.value.retry_after == wait


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed mid-reply")]
)
def test_timeouts_and_connection_errors_are_transient(
    make: Callable[..., WebhookDestination], failure: httpx.TransportError
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(TransientError) as excinfo:
        make(fail).write(Operation.CREATE, records(1))
    assert "s3cr3t-path" not in str(excinfo.value)


def test_check_raises_the_refusal_and_otherwise_finds_nothing(
    make: Callable[..., WebhookDestination], sent: list[httpx.Request]
) -> None:
    assert make(reply(204)).check() == []
    assert json.loads(sent[0].content) == {"sync": "pql", "object": "accounts", "operation": "check", "records": []}
    with pytest.raises(DestinationStoppedError):
        make(reply(403)).check()


# -- capabilities and settings ------------------------------------------------------------------------------------
def test_capabilities_come_from_the_settings() -> None:
    destination = open_destination(settings(URL, batch_size=250, requests_per_second=20), TARGET)
    caps = destination.capabilities
    destination.close()
    assert caps.max_batch == {op: 250 for op in Operation}
    assert caps.rate == RatePolicy(requests=20, window_s=1.0) and caps.objects is None


@pytest.mark.parametrize(
    ("per_second", "policy"), [(10.0, RatePolicy(10, 1.0)), (2.5, RatePolicy(2, 0.8)), (0.5, RatePolicy(1, 2.0))]
)
def test_the_rate_keeps_its_value_as_whole_requests_per_window(per_second: float, policy: RatePolicy) -> None:
    assert rate_policy(per_second) == policy


@pytest.mark.parametrize("url", ["hooks.example.com/in", "ftp://hooks.example.com/", "https:///no-host"])
def test_a_url_that_is_not_http_is_a_settings_error(url: str) -> None:
    with pytest.raises(ValidationError, match="absolute http"):
        settings(url, signing_secret=SecretStr("x"))
