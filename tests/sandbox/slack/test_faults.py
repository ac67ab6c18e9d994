"""Fault injection seen through slack_sdk.WebClient: outages, dropped connections and lost replies.

Slack has no batch endpoint, so there are no per-record rejects; what a connector must survive is a 5xx (nothing
posted), a dropped connection (nothing posted) and a reply lost after the message was posted (retrying naively
posts twice; the message's metadata, read back with ``include_all_metadata``, tells the two cases apart).
"""

from __future__ import annotations

import http.client

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from connectors.sandbox.core.faults import FaultRule
from connectors.slack.sandbox import PQL_ALERTS_ID

from .conftest import TOKEN, Sandbox

POST_ROUTE = "POST /api/chat.postMessage"
ALERT = {"event_type": "pql_alert", "event_payload": {"account_id": "001", "run_id": "r1"}}


@pytest.mark.parametrize(("status", "code"), [(500, "internal_error"), (503, "service_unavailable")])
def test_server_error_posts_nothing(sandbox: Sandbox, client: WebClient, status: int, code: str) -> None:
    sandbox.emulator.set_faults([FaultRule(route=POST_ROUTE, error_rate=1.0, error_status=status)])
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert", metadata=ALERT)
    assert excinfo.value.response.status_code == status
    assert excinfo.value.response.data == {"ok": False, "error": code}
    assert sandbox.emulator.messages(PQL_ALERTS_ID) == []


def test_server_error_retry_handler_recovers(sandbox: Sandbox) -> None:
    # Half the posts fail with 503 (deterministic for the seed); the SDK's server-error handler retries them.
    sandbox.emulator.set_faults([FaultRule(route=POST_ROUTE, error_rate=0.5, error_status=503)], seed=7)
    quick = FixedValueRetryIntervalCalculator(fixed_internal=0.01)
    client = sandbox.client(retry_handlers=[ServerErrorRetryHandler(max_retry_count=5, interval_calculator=quick)])
    for i in range(3):
        sandbox.clock.advance(1)
        assert client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"alert {i}")["ok"]
    assert [m["text"] for m in sandbox.emulator.messages(PQL_ALERTS_ID)] == ["alert 0", "alert 1", "alert 2"]
    sandbox.last_request_body()
    statuses = [entry.status for entry in sandbox.emulator.log.entries()]
    assert 503 in statuses and statuses.count(200) == 3


def test_dropped_connection_posts_nothing(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.emulator.set_faults([FaultRule(route=POST_ROUTE, drop_rate=1.0)])
    with pytest.raises(http.client.IncompleteRead):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert", metadata=ALERT)
    assert sandbox.emulator.messages(PQL_ALERTS_ID) == []


def test_lost_response_still_posts_and_metadata_reveals_it(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.emulator.set_faults([FaultRule(route=POST_ROUTE, lost_response_rate=1.0)])
    with pytest.raises(http.client.IncompleteRead):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert", metadata=ALERT)
    sandbox.emulator.set_faults([])
    history = client.conversations_history(channel=PQL_ALERTS_ID, include_all_metadata=True)["messages"]
    assert [m["metadata"] for m in history] == [ALERT]  # the write happened although the caller saw a failure
    sandbox.clock.advance(1)
    client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert", metadata=ALERT)  # a blind retry duplicates
    assert len(sandbox.emulator.find_by_metadata("pql_alert", account_id="001")) == 2


def test_default_sdk_client_does_not_retry_a_reply_cut_mid_body(sandbox: Sandbox) -> None:
    # slack_sdk's default ConnectionErrorRetryHandler retries URLError/ConnectionReset/RemoteDisconnected only; a
    # reply cut after its headers surfaces as IncompleteRead, once, with the message already posted.
    sandbox.emulator.set_faults([FaultRule(route=POST_ROUTE, lost_response_rate=1.0)])
    client = WebClient(token=TOKEN, base_url=sandbox.base_url, timeout=5)
    with pytest.raises(http.client.IncompleteRead):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="alert", metadata=ALERT)
    assert len(sandbox.emulator.messages(PQL_ALERTS_ID)) == 1
