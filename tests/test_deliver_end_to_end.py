"""Delivery end to end: the real runner, the real SDKs and the sandbox, through the shipped mappings.

A first run lands every field; a second run with no change makes no write call; after a simulated day and after a
representation-only rebuild, exactly the changed rows are sent, with only their changed fields, in
ceil(changed / batch cap) write calls per operation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from connectors.sandbox import Sandbox
from syncer.app import App
from syncer.contract.clock import naive_now
from syncer.demo.sample_warehouse import build_sample_warehouse
from syncer.runner import RunOptions, RunOutcome, run_sync
from syncer.state.base import RunStatus
from tests.project import crm_project_yaml

REPO = Path(__file__).parents[1]
ACCOUNTS = 600
HUBSPOT_WRITES = "/crm/v3/objects/companies/batch/"
SALESFORCE_WRITES = "/composite/sobjects"


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Iterator[App]:
    app = open_project(tmp_path, sandbox)
    yield app
    app.close()


def open_project(tmp_path: Path, sandbox: Sandbox, *, plain_upserts: bool = False) -> App:
    """The shipped mappings over a sample warehouse of :data:`ACCOUNTS` accounts, against the sandbox.
    ``plain_upserts``: without the mappings' ``adopt_by`` and ``create_when`` (every account is upserted, with no
    lookup first), for tests about delivery faults that count the calls and want every account to be a write."""
    (tmp_path / "mappings").mkdir()
    for name in ("hubspot_companies", "salesforce_accounts"):
        text = (REPO / "mappings" / f"{name}.yaml").read_text()
        if plain_upserts:
            text = re.sub(r"^  (create_when|adopt_by):.*\n(    .*\n)*", "", text, flags=re.MULTILINE)
            assert "adopt_by" not in text and "create_when" not in text
        (tmp_path / "mappings" / f"{name}.yaml").write_text(text)
    (tmp_path / "syncer.yaml").write_text(crm_project_yaml(sandbox))
    build_sample_warehouse(tmp_path / "warehouse.duckdb", accounts=ACCOUNTS)
    return App(
        tmp_path,
        {
            "HUBSPOT_ACCESS_TOKEN": "sandbox-hubspot-token",
            "SALESFORCE_CLIENT_ID": "sandbox-consumer-key",
            "SALESFORCE_CLIENT_SECRET": "sandbox-consumer-secret",
        },
    )


def _run(app: App, name: str) -> RunOutcome:
    return run_sync(
        app.project.sync(name),
        app.store,
        app.warehouse,
        naive_now,
        app.open_destination,
        RunOptions(batch_size=app.batch_size),
    )


def _writes(sandbox: Sandbox, vendor: str, route: str) -> int:
    emulator = sandbox.hubspot if vendor == "hubspot" else sandbox.salesforce
    return sum(1 for entry in emulator.log.entries() if route in entry.path and entry.method in ("POST", "PATCH"))


def _tiers(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {str(k): str(v) for k, v in con.execute("SELECT account_id, pql_tier FROM scored_accounts").fetchall()}
    finally:
        con.close()


def _scores(path: Path) -> dict[str, str]:
    """Each account's score as the mapping sends it: rounded half away from zero, as SQL's round does."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT account_id, pql_score FROM scored_accounts").fetchall()
    finally:
        con.close()
    return {str(k): str(Decimal(str(v)).quantize(Decimal(1), ROUND_HALF_UP)) for k, v in rows}


def test_hubspot_first_run_lands_every_field_and_a_second_run_writes_nothing(project: App, sandbox: Sandbox) -> None:
    first = _run(project, "hubspot_companies")
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.plan is not None and first.delivery is not None
    # The shipped mapping creates companies for hot and warm accounts only (create_when); cold ones are skipped.
    created, cold = first.plan.counts.create, first.plan.counts.skipped
    assert created + cold == ACCOUNTS and 0 < cold < ACCOUNTS
    assert first.delivery.confirmed == first.delivery.created == created
    assert _writes(sandbox, "hubspot", HUBSPOT_WRITES) == math.ceil(created / 100)
    landed = {
        c["properties"]["product_account_id"]: c["properties"]
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    }
    tiers = _tiers(project.root / "warehouse.duckdb")
    assert len(landed) == created and {tiers[key] for key in landed} == {"hot", "warm"}
    for key, score in _scores(project.root / "warehouse.duckdb").items():
        if tiers[key] != "cold":
            assert landed[key]["pql_score"] == score, key
    sandbox.hubspot.log.clear()
    second = _run(project, "hubspot_companies")
    assert second.status is RunStatus.SUCCEEDED
    assert second.delivery is not None and second.delivery.sent == 0
    assert _writes(sandbox, "hubspot", "/crm/v3/objects/") == 0


def test_a_simulated_day_sends_exactly_the_changed_rows_and_fields(project: App, sandbox: Sandbox) -> None:
    assert _run(project, "hubspot_companies").status is RunStatus.SUCCEEDED
    before = {
        c["properties"]["product_account_id"]: dict(c["properties"])
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    }
    writes_before = _writes_per_property(sandbox)
    build_sample_warehouse(project.root / "warehouse.duckdb", accounts=ACCOUNTS, day=3)  # new updated_at everywhere
    plan_changes = None
    sandbox.hubspot.log.clear()
    outcome = _run(project, "hubspot_companies")
    assert outcome.status is RunStatus.SUCCEEDED, outcome.error
    assert outcome.plan is not None and outcome.delivery is not None
    plan_changes = outcome.plan.counts.update
    created = outcome.plan.counts.create  # accounts that warmed up overnight get their company now
    assert 0 < plan_changes < len(before)  # a day moves a few percent, not everything
    assert outcome.delivery.confirmed == plan_changes + created
    assert _writes(sandbox, "hubspot", HUBSPOT_WRITES) == math.ceil(plan_changes / 100) + math.ceil(created / 100)
    after = {
        c["properties"]["product_account_id"]: c["properties"]
        for c in sandbox.hubspot.records("companies")
        if c["properties"].get("product_account_id")
    }
    assert len(after) == len(before) + created
    changed = {key for key in before if after[key] != before[key]}
    assert len(changed) == plan_changes
    # Only changed fields were sent: the emulator keeps every write of every property, like HubSpot's history.
    mapped = set(project.project.sync("hubspot_companies").fields)
    for key, writes in _writes_per_property(sandbox).items():
        if key not in before:
            continue  # created today: every field is new
        written = {name for name in mapped if writes.get(name, 0) > writes_before[key].get(name, 0)}
        assert written == {name for name in mapped if before[key].get(name) != after[key].get(name)}, key


def _writes_per_property(sandbox: Sandbox) -> dict[str, dict[str, int]]:
    return {
        str(record.properties.get("product_account_id")): {name: len(h) for name, h in record.history.items()}
        for record in sandbox.hubspot.portal.store.live("companies")
    }


def test_salesforce_first_run_and_a_representation_only_rebuild(project: App, sandbox: Sandbox) -> None:
    first = _run(project, "salesforce_accounts")
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.plan is not None and first.delivery is not None
    assert first.delivery.confirmed == first.plan.counts.create > 0
    accounts = [a for a in sandbox.salesforce.state()["objects"]["Account"] if a.get("Product_Account_Id__c")]
    assert len(accounts) >= first.plan.counts.create
    # Same values, new representation: DECIMAL scores become DOUBLE and every updated_at moves.
    con = duckdb.connect(str(project.root / "warehouse.duckdb"))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE scored_accounts AS SELECT * REPLACE (CAST(pql_score AS DOUBLE) "
            "AS pql_score, now() AS updated_at) FROM scored_accounts"
        )
    finally:
        con.close()
    sandbox.salesforce.log.clear()
    second = _run(project, "salesforce_accounts")
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.delivery is not None and second.delivery.sent == 0
    assert _writes(sandbox, "salesforce", "/sobjects") == 0
