"""An external id that several records share (a non-unique External ID field): rejected, naming the candidates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.sandbox import FieldSpec, FieldType, SalesforceEmulator, make_tls_files
from connectors.salesforce.sandbox import with_default_custom_fields as with_fields
from connectors.salesforce.settings import SalesforceSettings
from connectors.sandbox.core.server import EmulatorServer
from syncer.contract.destination import Operation, RecordStatus, Target
from syncer.contract.enums import FieldType as SyncFieldType
from syncer.contract.enums import SyncMode
from tests.connectors.salesforce.conftest import account

LEGACY_ID = FieldSpec("Legacy_Id__c", FieldType.STRING, "Legacy Id", length=40, external_id=True)


@pytest.fixture
def legacy_org(tmp_path: Path) -> Iterator[tuple[SalesforceEmulator, SalesforceSettings]]:
    tls = make_tls_files(tmp_path)
    emulator = SalesforceEmulator(custom_fields=with_fields({"Account": [LEGACY_ID]}))
    server = EmulatorServer(emulator, certfile=tls.cert_chain_pem, keyfile=tls.key_pem).start()
    creds = emulator.credentials
    yield (
        emulator,
        SalesforceSettings(
            type="salesforce",
            instance_url=server.url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            ca_bundle=str(tls.ca_pem),
        ),
    )
    server.stop()


@pytest.mark.parametrize("mode", [SyncMode.UPSERT, SyncMode.UPDATE])
def test_several_matches_are_rejected_naming_the_candidates(
    legacy_org: tuple[SalesforceEmulator, SalesforceSettings], mode: SyncMode
) -> None:
    emulator, settings = legacy_org
    twins = emulator.seed_accounts([{"Name": "A", "Legacy_Id__c": "L1"}, {"Name": "B", "Legacy_Id__c": "l1"}])
    [single] = emulator.seed_accounts([{"Name": "C", "Legacy_Id__c": "L2"}])
    destination = SalesforceDestination(
        settings, Target("Account", mode, "Legacy_Id__c", {"Name": SyncFieldType.STRING})
    )
    try:
        result = destination.write(Operation.CREATE, [account("L1", Name="X"), account("L2", Name="Y")])
    finally:
        destination.close()
    rejected, confirmed = result.results
    assert rejected.status is RecordStatus.REJECTED
    assert rejected.code == ("DUPLICATE_EXTERNAL_ID" if mode is SyncMode.UPSERT else "MULTIPLE_MATCHES")
    assert all(twin in str(rejected.message) for twin in twins)
    assert confirmed.record_id == single
    assert [rec["Name"] for rec in emulator.records("Account")] == ["A", "B", "Y"]
