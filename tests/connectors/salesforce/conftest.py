"""Fixtures: Salesforce destinations opened against the sandbox's emulator, through simple-salesforce over TLS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.salesforce.bulk import BulkWait
from connectors.salesforce.connector import SalesforceDestination
from connectors.salesforce.settings import SalesforceSettings
from connectors.sandbox import Sandbox
from syncer.contract.destination import Operation, Target, WriteRecord
from syncer.contract.enums import FieldType, SyncMode

ACCOUNT_FIELDS = {
    "Name": FieldType.STRING,
    "PQL_Score__c": FieldType.NUMBER,
    "PQL_Tier__c": FieldType.STRING,
    "PQL_Reason__c": FieldType.STRING,
    "PQL_Since__c": FieldType.DATETIME,
}
BY_PRODUCT_ID = Target("Account", SyncMode.UPSERT, "Product_Account_Id__c", ACCOUNT_FIELDS)


@dataclass
class EmulatorWait:
    """Bulk waits that move the emulator's clock (and their own) instead of sleeping."""

    sandbox: Sandbox
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.sandbox.salesforce.advance_clock(seconds)

    def clock(self) -> float:
        return self.now

    def policy(self, max_wait_s: float = 600.0) -> BulkWait:
        return BulkWait(sleep=self.sleep, clock=self.clock, max_wait_s=max_wait_s)


def settings_for(sandbox: Sandbox, **changes: Any) -> SalesforceSettings:
    """Client-credentials settings for the sandbox org, trusting its local CA."""
    creds = sandbox.salesforce.credentials
    base: dict[str, Any] = {
        "type": "salesforce",
        "instance_url": sandbox.urls["salesforce"],
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "ca_bundle": str(sandbox.ca_file),
    }
    return SalesforceSettings(**(base | changes))


def account(
    key: str, op: Operation = Operation.CREATE, record_id: str | None = None, **values: str | None
) -> WriteRecord:
    return WriteRecord(key, op, record_id, key, values)


@pytest.fixture
def emulator_wait(sandbox: Sandbox) -> EmulatorWait:
    return EmulatorWait(sandbox)


@pytest.fixture
def open_destination(
    sandbox: Sandbox,
    emulator_wait: EmulatorWait,
) -> Iterator[Callable[..., SalesforceDestination]]:
    """``open_destination(target=BY_PRODUCT_ID, wait=None, **settings)``; closed after the test."""
    opened: list[SalesforceDestination] = []

    def build(target: Target = BY_PRODUCT_ID, wait: BulkWait | None = None, **changes: Any) -> SalesforceDestination:
        destination = SalesforceDestination(
            settings_for(sandbox, **changes), target, wait=wait or emulator_wait.policy()
        )
        opened.append(destination)
        return destination

    yield build
    for destination in opened:
        destination.close()


@pytest.fixture
def destination(open_destination: Callable[..., SalesforceDestination]) -> SalesforceDestination:
    return open_destination()
