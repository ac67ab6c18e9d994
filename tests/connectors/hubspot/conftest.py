"""Fixtures: HubSpot destinations built by the registry's factory, against the session sandbox's HubSpot emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from connectors.hubspot.connector import HubSpotDestination, open_destination
from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.hubspot.settings import HubSpotSettings
from connectors.sandbox import Sandbox
from syncer.contract.destination import Operation, Target, WriteRecord
from syncer.contract.enums import FieldType, SyncMode

TOKEN = "pat-na1-connector-test-token"

Open = Callable[..., HubSpotDestination]


def settings_for(sandbox: Sandbox, token: str = TOKEN) -> HubSpotSettings:
    return HubSpotSettings(type="hubspot", access_token=SecretStr(token), base_url=sandbox.urls["hubspot"])


def target(
    object_type: str = "companies",
    match: str = "product_account_id",
    mode: SyncMode = SyncMode.UPSERT,
    fields: Mapping[str, FieldType] | None = None,
) -> Target:
    default = {"name": FieldType.STRING, "pql_score": FieldType.NUMBER, "pql_tier": FieldType.STRING}
    return Target(object_type, mode, match, dict(fields if fields is not None else default))


def record(
    key: str,
    values: Mapping[str, str | None],
    match: str | None = None,
    record_id: str | None = None,
    op: Operation = Operation.CREATE,
) -> WriteRecord:
    return WriteRecord(key, op, record_id, key if match is None else match, dict(values))


def companies(count: int, prefix: str = "acct") -> list[WriteRecord]:
    """``count`` upserts by product_account_id, with a name, a score and a tier each."""
    tiers = ("hot", "warm", "cold")
    return [
        record(f"{prefix}-{i}", {"name": f"Company {i}", "pql_score": str(i % 100), "pql_tier": tiers[i % 3]})
        for i in range(count)
    ]


@pytest.fixture
def hubspot(sandbox: Sandbox) -> Iterator[HubSpotEmulator]:
    """The emulator, accepting only this module's token; restored to accept any token afterwards."""
    sandbox.hubspot.accept_tokens(frozenset({TOKEN}))
    yield sandbox.hubspot
    sandbox.hubspot.accept_tokens(None)


@pytest.fixture
def open_hubspot(sandbox: Sandbox, hubspot: HubSpotEmulator) -> Iterator[Open]:
    """``open_hubspot(target=..., token=...)``: a destination through the registry's factory; closed after."""
    opened: list[HubSpotDestination] = []

    def build(to: Target | None = None, token: str = TOKEN) -> HubSpotDestination:
        destination = open_destination(settings_for(sandbox, token), to or target())
        opened.append(destination)
        return destination

    yield build
    for destination in opened:
        destination.close()


@contextmanager
def limits(emulator: HubSpotEmulator, changed: HubSpotLimits) -> Iterator[None]:
    """Run with other rate limits (a fresh limiter), then restore the emulator's own."""
    original = emulator.limits
    emulator.limits = emulator.portal.limits = changed
    emulator.reset()
    try:
        yield
    finally:
        emulator.limits = emulator.portal.limits = original
        emulator.reset()


def inspector(
    emulator: HubSpotEmulator, object_type: str = "companies"
) -> Callable[[str, Sequence[str]], Mapping[str, str | None] | None]:
    """The contract's inspector: a record's current values of ``fields``, straight from the emulator."""

    def inspect(record_id: str, fields: Sequence[str]) -> Mapping[str, str | None] | None:
        found = emulator.record(object_type, record_id)
        return None if found is None else {name: found["properties"].get(name) for name in fields}

    return inspect
