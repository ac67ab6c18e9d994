"""The connector contract, run for HubSpot companies matched by a unique property and by domain."""

from __future__ import annotations

import pytest

from connectors.hubspot.sandbox import HubSpotEmulator
from syncer.contract.destination import Destination, Target, WriteRecord
from tests.connectors import contract
from tests.connectors.hubspot.conftest import Open, companies, inspector, record, target

TARGETS = {"unique property": target(), "domain": target(match="domain")}


def _records(match: str, count: int, prefix: str = "c") -> list[WriteRecord]:
    if match == "domain":
        return [
            record(f"{prefix}{i}", {"name": f"Co {i}", "pql_score": str(i)}, match=f"{prefix}{i}.io")
            for i in range(count)
        ]
    return companies(count, prefix)


@pytest.fixture(params=sorted(TARGETS))
def to(request: pytest.FixtureRequest) -> Target:
    chosen: Target = TARGETS[request.param]
    return chosen


def _factory(open_hubspot: Open) -> contract.Factory:
    def build(to: Target) -> Destination:
        destination: Destination = open_hubspot(to)
        return destination

    return build


def test_confirms(open_hubspot: Open, hubspot: HubSpotEmulator, to: Target) -> None:
    contract.check_confirms(_factory(open_hubspot), inspector(hubspot), to, _records(to.match_field, 5))


def test_rejects(open_hubspot: Open, to: Target) -> None:
    bad = record("bad", {"pql_tier": "not-an-option"}, match="bad.io" if to.match_field == "domain" else "bad")
    contract.check_rejects(_factory(open_hubspot), to, _records(to.match_field, 4), bad)


def test_idempotent(open_hubspot: Open, hubspot: HubSpotEmulator, to: Target) -> None:
    contract.check_idempotent(_factory(open_hubspot), inspector(hubspot), to, _records(to.match_field, 4))


def test_capabilities(open_hubspot: Open, to: Target) -> None:
    contract.check_capabilities(_factory(open_hubspot), to, lambda n: _records(to.match_field, n, "cap"))
