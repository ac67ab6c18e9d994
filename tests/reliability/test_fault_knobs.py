"""The sandbox knobs the fault matrix added: bursts, revoked credentials, failing Bulk jobs; and the webhook
Idempotency-Key's per-run scope that the matrix showed was needed."""

from __future__ import annotations

import ssl

import httpx

from connectors.sandbox import Sandbox
from connectors.sandbox.core.faults import Fault, FaultInjector, FaultRule
from connectors.webhook.connector import WebhookDestination
from connectors.webhook.settings import WebhookSettings
from syncer.contract.destination import Operation, Target, WriteRecord
from syncer.contract.enums import SyncMode


def _trust(sandbox: Sandbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sandbox.ca_file))


def _decisions(rule: FaultRule, requests: int) -> list[Fault]:
    injector = FaultInjector(seed=3)
    injector.configure([rule])
    return [injector.decide("POST", "/x").fault for _ in range(requests)]


def test_max_faults_turns_a_rate_into_a_burst() -> None:
    assert _decisions(FaultRule(error_rate=1.0, max_faults=3), 6) == [Fault.SERVER_ERROR] * 3 + [Fault.NONE] * 3
    assert _decisions(FaultRule(error_rate=1.0), 4) == [Fault.SERVER_ERROR] * 4  # no cap by default


def test_unauthorized_after_refuses_every_request_from_the_nth_on() -> None:
    assert _decisions(FaultRule(unauthorized_after=2), 5) == [Fault.NONE] * 2 + [Fault.UNAUTHORIZED] * 3


def test_revoked_credentials_answer_each_vendors_own_401(sandbox: Sandbox) -> None:
    for emulator in (sandbox.hubspot, sandbox.webhook):
        emulator.set_faults([FaultRule(unauthorized_after=0)])
    hubspot = httpx.get(sandbox.urls["hubspot"] + "/crm/v3/owners/", headers={"Authorization": "Bearer t"})
    assert hubspot.status_code == 401 and hubspot.json()["category"] == "INVALID_AUTHENTICATION"
    hook = httpx.post(sandbox.urls["webhook"], content=b"{}")
    assert hook.status_code == 401 and hook.json()["error"] == "invalid_signature"
    sandbox.salesforce.set_faults([FaultRule(unauthorized_after=0)])
    base = sandbox.urls["salesforce"]
    api = httpx.get(base + "/services/data/v59.0/sobjects", verify=_trust(sandbox))
    assert api.status_code == 401 and api.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    login = httpx.post(
        base + "/services/oauth2/token", data={"grant_type": "client_credentials"}, verify=_trust(sandbox)
    )
    assert login.status_code == 400 and login.json()["error"] == "invalid_grant"


def test_a_failing_bulk_job_keeps_what_it_applied_and_fails(sandbox: Sandbox) -> None:
    salesforce = sandbox.salesforce
    salesforce.fail_bulk_jobs(1, after_rows=2)
    headers = {"Authorization": f"Bearer {salesforce.issue_token()}"}
    base = sandbox.urls["salesforce"] + "/services/data/v59.0/jobs/ingest"
    with httpx.Client(verify=_trust(sandbox), headers=headers) as client:
        job = client.post(base, json={"object": "Account", "operation": "insert"}).json()["id"]
        csv = "Name\nA\nB\nC\nD\n"
        assert client.put(f"{base}/{job}/batches", content=csv, headers={"Content-Type": "text/csv"}).status_code == 201
        client.patch(f"{base}/{job}", json={"state": "UploadComplete"})
        info = client.get(f"{base}/{job}").json()
        unprocessed = client.get(f"{base}/{job}/unprocessedrecords").text.splitlines()
    assert info["state"] == "Failed" and info["numberRecordsProcessed"] == 2 and "errorMessage" in info
    assert unprocessed == ["Name", "C", "D"]
    assert sorted(a["Name"] for a in salesforce.records("Account")) == ["A", "B"]


def _hook_keys(destinations: int) -> list[str]:
    keys: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(200)

    settings = WebhookSettings(type="webhook", url="http://127.0.0.1:9/hook")
    target = Target("accounts", SyncMode.UPSERT, "key", {})
    record = WriteRecord("k1", Operation.CREATE, None, "k1", {"score": "1"})
    for _ in range(destinations):
        destination = WebhookDestination(settings, target, client=httpx.Client(transport=httpx.MockTransport(handle)))
        destination.write(Operation.CREATE, [record])
        destination.write(Operation.CREATE, [record])
    return keys


def test_a_batch_keeps_its_idempotency_key_within_a_run_and_gets_a_new_one_in_the_next() -> None:
    first, retry, next_run, next_retry = _hook_keys(2)
    assert first == retry and next_run == next_retry and first != next_run
