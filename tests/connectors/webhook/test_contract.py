"""The connector contract (tests/connectors/contract.py), run for the webhook against the sandbox receiver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.sandbox import Sandbox
from syncer.contract.destination import Destination, Target
from tests.connectors import contract
from tests.connectors.webhook.conftest import TARGET, DestinationFactory, records


def _factory(make_destination: DestinationFactory) -> contract.Factory:
    def build(target: Target) -> Destination:
        assert target == TARGET
        destination: Destination = make_destination(batch_size=50)
        return destination

    return build


def _inspector(sandbox: Sandbox) -> contract.Inspector:
    def inspect(record_id: str, fields: Sequence[str]) -> Mapping[str, str | None] | None:
        found = next((r for r in sandbox.webhook.records(TARGET.object) if r["id"] == record_id), None)
        return None if found is None else {name: found["fields"].get(name) for name in fields}

    return inspect


def test_confirms(make_destination: DestinationFactory, sandbox: Sandbox) -> None:
    contract.check_confirms(_factory(make_destination), _inspector(sandbox), TARGET, records(5))


def test_rejects(make_destination: DestinationFactory, sandbox: Sandbox) -> None:
    (bad,) = records(1, start=99)
    sandbox.webhook.reject_keys([bad.key], "the receiver's rules refuse it")
    contract.check_rejects(_factory(make_destination), TARGET, records(4), bad)


def test_idempotent(make_destination: DestinationFactory, sandbox: Sandbox) -> None:
    contract.check_idempotent(_factory(make_destination), _inspector(sandbox), TARGET, records(4))


def test_capabilities(make_destination: DestinationFactory) -> None:
    contract.check_capabilities(_factory(make_destination), TARGET, lambda n: records(n, start=1000))
