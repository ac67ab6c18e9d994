"""The connector contract (tests/connectors/contract.py), run for Salesforce Accounts upserted by external id."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from connectors.salesforce.connector import SalesforceDestination
from connectors.sandbox import Sandbox
from syncer.contract.destination import Destination, Target, WriteRecord
from tests.connectors import contract
from tests.connectors.salesforce.conftest import BY_PRODUCT_ID, account

Open = Callable[..., SalesforceDestination]


def _factory(open_destination: Open) -> contract.Factory:
    def build(target: Target) -> Destination:
        destination: Destination = open_destination(target)
        return destination

    return build


def _inspector(sandbox: Sandbox) -> contract.Inspector:
    def inspect(record_id: str, fields: Sequence[str]) -> Mapping[str, str | None] | None:
        found = next((a for a in sandbox.salesforce.state()["objects"]["Account"] if a["Id"] == record_id), None)
        if found is None:
            return None
        return {name: None if found.get(name) is None else _text(found[name]) for name in fields}

    return inspect


def _text(value: object) -> str:
    # The emulator keeps numbers as numbers; syncer sends normalised text ("42", "12.5").
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _accounts(count: int, prefix: str = "c") -> list[WriteRecord]:
    return [
        account(f"{prefix}{i}", Name=f"Account {i}", PQL_Score__c=str(10 + i), PQL_Tier__c="warm") for i in range(count)
    ]


def test_confirms(open_destination: Open, sandbox: Sandbox) -> None:
    contract.check_confirms(_factory(open_destination), _inspector(sandbox), BY_PRODUCT_ID, _accounts(5))


def test_rejects(open_destination: Open) -> None:
    bad = account("bad", Name="x" * 300)  # longer than the field allows: STRING_TOO_LONG
    contract.check_rejects(_factory(open_destination), BY_PRODUCT_ID, _accounts(4), bad)


def test_idempotent(open_destination: Open, sandbox: Sandbox) -> None:
    contract.check_idempotent(_factory(open_destination), _inspector(sandbox), BY_PRODUCT_ID, _accounts(4))


def test_capabilities(open_destination: Open) -> None:
    contract.check_capabilities(_factory(open_destination), BY_PRODUCT_ID, lambda n: _accounts(n, "cap"))
