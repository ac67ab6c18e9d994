"""Fixtures: webhook destinations aimed at the served sandbox receiver, closed at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.sandbox import Sandbox
from connectors.webhook.connector import WebhookDestination
from connectors.webhook.sandbox import DEFAULT_SECRET
from connectors.webhook.settings import WebhookSettings
from syncer.contract.destination import Operation, Target, WriteRecord
from syncer.contract.enums import SyncMode

TARGET = Target("accounts", SyncMode.UPSERT, "domain")

DestinationFactory = Callable[..., WebhookDestination]


def settings(url: str, **overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "type": "webhook",
        "url": url,
        "signing_secret": SecretStr(DEFAULT_SECRET),
        "timeout_s": 5.0,
    }
    return WebhookSettings(**(values | overrides))


def records(count: int, op: Operation = Operation.CREATE, start: int = 0) -> list[WriteRecord]:
    """``count`` records keyed ``k<i>.com`` with a score and a tier."""
    return [
        WriteRecord(f"k{i}.com", op, None, f"k{i}.com", {"score": str(i), "tier": "A"})
        for i in range(start, start + count)
    ]


@pytest.fixture
def make_destination(sandbox: Sandbox) -> Iterator[DestinationFactory]:
    """``make_destination(batch_size=2, signing_secret=..., clock=...)``: a destination posting to the sandbox."""
    opened: list[WebhookDestination] = []

    def make(
        *, clock: Callable[[], float] | None = None, url: str | None = None, **overrides: Any
    ) -> WebhookDestination:
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        destination = WebhookDestination(
            settings(url or sandbox.urls["webhook"], **overrides), TARGET, sync="pql_accounts", **extra
        )
        opened.append(destination)
        return destination

    yield make
    for destination in opened:
        destination.close()
