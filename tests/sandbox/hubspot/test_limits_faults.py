"""Auth, rate limits (ten-secondly, daily, search) and injected faults, as the SDK sees them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import urllib3
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import ApiException, ServiceException, UnauthorizedException

from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.sandbox import Sandbox as ServedSandbox
from connectors.sandbox.core.faults import FaultRule
from tests.sandbox.hubspot.conftest import Sandbox, use_limits


def _create(sandbox: Sandbox, name: str = "Acme") -> str:
    api = sandbox.client().crm.companies.basic_api
    return str(api.create(SimplePublicObjectInputForCreate(properties={"name": name}, associations=[])).id)


def test_auth(sandbox: Sandbox) -> None:
    with pytest.raises(UnauthorizedException) as caught:
        sandbox.client(token="").crm.companies.basic_api.get_page()
    body = json.loads(caught.value.body)
    assert caught.value.status == 401 and body["category"] == "INVALID_AUTHENTICATION"
    assert uuid.UUID(body["correlationId"])
    strict = HubSpotEmulator(tokens=frozenset({"good"}))
    from connectors.sandbox.core.server import EmulatorServer

    server = EmulatorServer(strict).start()
    try:
        from hubspot import HubSpot

        assert HubSpot(access_token="good", host=server.url).crm.companies.basic_api.get_page().results == []
        with pytest.raises(UnauthorizedException):
            HubSpot(access_token="bad", host=server.url).crm.companies.basic_api.get_page()
    finally:
        server.stop()


def test_ten_second_window(sandbox: Sandbox) -> None:
    use_limits(sandbox, HubSpotLimits(ten_second_max=3))
    api = sandbox.client().crm.companies.basic_api
    remaining = []
    for _ in range(3):
        info = api.get_page_with_http_info()
        remaining.append(info[2]["X-HubSpot-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    assert info[2]["X-HubSpot-RateLimit-Max"] == "3" and info[2]["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    with pytest.raises(ApiException) as caught:
        api.get_page()
    error = caught.value
    body = json.loads(error.body)
    assert error.status == 429 and set(body) == {"status", "message", "errorType", "correlationId", "policyName"}
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0" and "Retry-After" not in error.headers
    sandbox.clock.advance(9.9)
    with pytest.raises(ApiException):
        api.get_page()
    sandbox.clock.advance(0.2)  # the first request has left the rolling window
    assert api.get_page_with_http_info()[1] == 200


def test_daily_cap(sandbox: Sandbox) -> None:
    use_limits(sandbox, HubSpotLimits(daily_max=2, day_seconds=86_400))
    api = sandbox.client().crm.companies.basic_api
    api.get_page()
    info = api.get_page_with_http_info()
    assert info[2]["X-HubSpot-RateLimit-Daily"] == "2" and info[2]["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    sandbox.clock.advance(60)
    with pytest.raises(ApiException) as caught:
        api.get_page()
    assert caught.value.status == 429 and json.loads(caught.value.body)["policyName"] == "DAILY"
    sandbox.clock.advance(86_400)
    assert api.get_page_with_http_info()[1] == 200


def test_search_five_per_second(sandbox: Sandbox) -> None:
    api = sandbox.client().crm.companies.search_api
    for _ in range(5):
        info = api.do_search_with_http_info(PublicObjectSearchRequest(limit=1))
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in info[2])
    with pytest.raises(ApiException) as caught:
        api.do_search(PublicObjectSearchRequest(limit=1))
    body = json.loads(caught.value.body)
    assert caught.value.status == 429 and body["message"] == "You have reached your secondly limit."
    assert body["category"] == "RATE_LIMITS"
    assert sandbox.client().crm.companies.basic_api.get_page_with_http_info()[1] == 200  # other calls unaffected
    sandbox.clock.advance(1.0)
    assert api.do_search(PublicObjectSearchRequest(limit=1)).total == 0


def test_injected_server_error(sandbox: Sandbox) -> None:
    sandbox.emulator.set_faults([FaultRule(route="POST /crm/v3/objects/companies", error_rate=1.0, error_status=502)])
    with pytest.raises(ServiceException) as caught:
        _create(sandbox)
    assert caught.value.status == 502 and json.loads(caught.value.body)["status"] == "error"
    assert sandbox.emulator.records("companies") == []


def test_lost_response_still_writes(sandbox: Sandbox) -> None:
    sandbox.emulator.set_faults(
        [FaultRule(route="POST /crm/v3/objects/companies/batch/upsert", lost_response_rate=1.0)]
    )
    batch = sandbox.client().crm.companies.batch_api
    upsert = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(id="pa-1", id_property="product_account_id", properties={"name": "Acme"})
        ]
    )
    with pytest.raises(urllib3.exceptions.HTTPError):
        batch.upsert(upsert)
    assert [c["properties"]["product_account_id"] for c in sandbox.emulator.records("companies")] == ["pa-1"]
    sandbox.emulator.set_faults([])
    assert [r.new for r in batch.upsert(upsert).results] == [False]  # repeating an upsert is safe


def test_per_record_rejects_give_207(sandbox: Sandbox) -> None:
    sandbox.emulator.set_faults(
        [FaultRule(route="POST /crm/v3/objects/companies/batch/upsert", reject_rate=0.5)], seed=7
    )
    inputs = [
        SimplePublicObjectBatchInputUpsert(
            id=f"pa-{i}", id_property="product_account_id", properties={"name": f"Co {i}"}
        )
        for i in range(20)
    ]
    info = sandbox.client().crm.companies.batch_api.upsert_with_http_info(
        BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
    )
    result = info[0]
    assert info[1] == 207 and 0 < result.num_errors < 20
    assert len(result.results) + result.num_errors == 20
    rejected = {e.context["ids"][0] for e in result.errors}
    stored = {c["properties"]["product_account_id"] for c in sandbox.emulator.records("companies")}
    assert stored.isdisjoint(rejected) and len(stored) == len(result.results)


def test_rate_limit_storm_fault(sandbox: Sandbox) -> None:
    sandbox.emulator.set_faults([FaultRule(route="GET /crm/*", ratelimit_rate=1.0)])
    with pytest.raises(ApiException) as caught:
        sandbox.client().crm.companies.basic_api.get_page()
    assert caught.value.status == 429 and json.loads(caught.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"


def test_the_served_sandbox_accepts_only_the_tokens_it_was_given(tmp_path: Path) -> None:
    from hubspot import HubSpot

    with ServedSandbox.start(tmp_path, hubspot_tokens=frozenset({"sandbox-hubspot-token"})) as served:
        url = served.urls["hubspot"]
        assert HubSpot(access_token="sandbox-hubspot-token", host=url).crm.companies.basic_api.get_page().results == []
        with pytest.raises(UnauthorizedException) as caught:
            HubSpot(access_token="pat-someone-else", host=url).crm.companies.basic_api.get_page()
        assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"
