"""The shared fault-injection and inspection layer, seen from an HTTP client: every vendor gets the same behaviour.

Driven through the HubSpot emulator's search route (any vendor route would do) with plain httpx, configured over
the `/_sandbox/` API as a tester outside the process would.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.hubspot.sandbox import HubSpotEmulator
from connectors.sandbox.core.faults import Fault, FaultInjector, FaultRule
from connectors.sandbox.core.server import EmulatorServer

ROUTE = "/crm/v3/objects/companies"
AUTH = {"Authorization": "Bearer test"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    served = EmulatorServer(HubSpotEmulator()).start()
    yield served
    served.stop()


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=5) as http:
        http.post("/_sandbox/reset")
        yield http


def _create(client: httpx.Client, name: str, timeout: float | None = None) -> httpx.Response:
    body = {"properties": {"name": name}, "associations": []}
    return client.post(ROUTE, json=body, timeout=timeout or 5)


def _companies(client: httpx.Client) -> list[str]:
    state = client.get("/_sandbox/state").json()
    return [c["properties"]["name"] for c in state["objects"]["companies"]]


def test_faults_configured_over_http_apply_to_matching_routes_only(client: httpx.Client) -> None:
    answer = client.post(
        "/_sandbox/faults",
        json={"seed": 3, "rules": [{"route": f"POST {ROUTE}", "error_rate": 1.0, "error_status": 502}]},
    )
    assert answer.json() == {"ok": True, "rules": 1}
    assert _create(client, "Acme").status_code == 502
    assert client.get(f"{ROUTE}?limit=1").status_code == 200  # GET does not match the rule
    assert _companies(client) == []  # a 5xx wrote nothing


def test_timeout_hangs_then_closes_without_a_reply(client: httpx.Client) -> None:
    client.post(
        "/_sandbox/faults", json={"rules": [{"route": f"POST {ROUTE}", "timeout_rate": 1.0, "timeout_seconds": 1.0}]}
    )
    with pytest.raises(httpx.ReadTimeout):
        _create(client, "Slowco", timeout=0.2)
    assert _companies(client) == []


def test_added_latency_delays_the_reply_but_the_write_happens(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"rules": [{"route": f"POST {ROUTE}", "latency_ms": 600}]})
    with pytest.raises(httpx.ReadTimeout):
        _create(client, "Latent", timeout=0.1)
    assert _create(client, "Patient", timeout=5).status_code == 201
    assert "Patient" in _companies(client)


def test_dropped_connection_writes_nothing_and_lost_response_writes(client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"rules": [{"route": f"POST {ROUTE}", "drop_rate": 1.0}]})
    with pytest.raises(httpx.RemoteProtocolError):
        _create(client, "Dropped")
    client.post("/_sandbox/faults", json={"rules": [{"route": f"POST {ROUTE}", "lost_response_rate": 1.0}]})
    with pytest.raises(httpx.RemoteProtocolError):
        _create(client, "Lost")
    assert _companies(client) == ["Lost"]
    log = client.get("/_sandbox/requests").json()
    assert [entry["fault"] for entry in log if entry["method"] == "POST"] == ["drop", "lost_response"]


def test_request_counts_and_reset(client: httpx.Client) -> None:
    _create(client, "One")
    _create(client, "Two")
    counts = client.get("/_sandbox/requests/counts").json()
    assert counts["POST /crm/v3/objects/{object_type}"] == 2  # counted per route template
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/requests/counts").json() == {}
    assert _companies(client) == []


def test_decisions_are_deterministic_per_seed_and_rule() -> None:
    rules = [FaultRule(route="POST /a*", error_rate=0.3, ratelimit_rate=0.3, lost_response_rate=0.2)]
    first, second, other = FaultInjector(seed=11), FaultInjector(seed=11), FaultInjector(seed=12)
    for injector in (first, second, other):
        injector.configure(rules)
    run = [first.decide("POST", "/a").fault for _ in range(50)]
    assert run == [second.decide("POST", "/a").fault for _ in range(50)]
    assert run != [other.decide("POST", "/a").fault for _ in range(50)]
    assert {Fault.SERVER_ERROR, Fault.RATE_LIMIT, Fault.NONE} <= set(run)
    assert first.decide("GET", "/a").fault is Fault.NONE  # no rule matches
