"""The executor paces HubSpot by its rolling limit, through the real SDK and HTTP, on a clock shared with the emulator.

The emulator counts its ten-second window on a fake clock that only the executor's sleeps move, so the test measures
pacing decisions, not how fast this machine answers HTTP: at least 90% of the allowed rate, at most 1% of requests
answered 429, and no row lost.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pytest
from pydantic import SecretStr

from connectors.hubspot.connector import open_destination
from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.hubspot.settings import HubSpotSettings
from connectors.sandbox.core.server import EmulatorServer
from syncer.contract.destination import Operation, Target
from syncer.contract.enums import FieldType, SyncMode
from syncer.delivery.executor import RetryPolicy, RowFailure, deliver
from tests.delivery.plans import TableChanges
from tests.fakes import FakeClock

LIMIT, WINDOW = 10, 10.0
VALUES = pa.struct([("name", pa.string()), ("pql_score", pa.string())])
SCHEMA = pa.schema(
    [
        ("op", pa.string()),
        ("key", pa.string()),
        ("record_id", pa.string()),
        ("match", pa.string()),
        ("changed", pa.list_(pa.string())),
        ("values", VALUES),
        ("hash", pa.int64()),
    ]
)


class Sink:
    def __init__(self) -> None:
        self.confirmed_keys: list[str] = []
        self.failures: list[RowFailure] = []

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        assert all(record_ids)
        self.confirmed_keys += rows.column("key").to_pylist()

    def failed(self, failures: Sequence[RowFailure]) -> None:
        self.failures += failures


@pytest.fixture
def served() -> Iterator[tuple[HubSpotEmulator, FakeClock, str]]:
    clock = FakeClock()
    emulator = HubSpotEmulator(limits=HubSpotLimits(ten_second_max=LIMIT, interval_seconds=WINDOW), clock=clock)
    server = EmulatorServer(emulator).start()
    yield emulator, clock, server.url
    server.stop()


def _creates(count: int) -> TableChanges:
    rows = [
        {
            "op": "create",
            "key": f"acc_{n:06d}",
            "record_id": None,
            "match": f"acc_{n:06d}",
            "changed": ["name", "pql_score"],
            "values": {"name": f"Account {n}", "pql_score": str(n % 100)},
            "hash": n,
        }
        for n in range(count)
    ]
    return TableChanges(pa.Table.from_pylist(rows, schema=SCHEMA))


def _deliver(
    served: tuple[HubSpotEmulator, FakeClock, str], told_limit: int, records: int
) -> tuple[Sink, list[int], float, int]:
    emulator, clock, url = served
    settings = HubSpotSettings(
        type="hubspot",
        access_token=SecretStr("sandbox-token"),
        base_url=url,
        requests_per_10s=told_limit,
        daily_limit=None,
    )
    destination = open_destination(
        settings,
        Target(
            "companies",
            SyncMode.UPSERT,
            "product_account_id",
            {"name": FieldType.STRING, "pql_score": FieldType.NUMBER},
        ),
    )
    sink = Sink()
    started = clock.now
    report = deliver(
        _creates(records),
        {Operation.CREATE: records},
        destination,
        sink,
        clock=clock,
        sleep=clock.advance,
        policy=RetryPolicy(),
    )
    destination.close()
    assert sorted(sink.confirmed_keys) == [f"acc_{n:06d}" for n in range(records)] and not sink.failures
    assert report.confirmed == records and report.pending == 0
    return (
        sink,
        [entry.status for entry in emulator.log.entries()],
        clock.now - started,
        destination.capabilities.rate.concurrency,
    )


def test_the_rolling_limit_is_used_to_at_least_90_percent_with_at_most_1_percent_429s(
    served: tuple[HubSpotEmulator, FakeClock, str],
) -> None:
    _, statuses, elapsed, _ = _deliver(served, LIMIT, records=6_000)  # 60 batch calls: six windows' worth
    assert statuses.count(429) <= math.ceil(0.01 * len(statuses))
    # The fastest a rolling window allows: LIMIT requests at once, then LIMIT more each WINDOW seconds.
    fastest = (math.ceil(len(statuses) / LIMIT) - 1) * WINDOW
    assert elapsed <= fastest / 0.9, (elapsed, fastest)


def test_told_twice_the_real_allowance_the_vendors_remaining_count_keeps_429s_rare_and_loses_nothing(
    served: tuple[HubSpotEmulator, FakeClock, str],
) -> None:
    _, statuses, _, concurrency = _deliver(served, LIMIT * 2, records=6_000)
    windows = math.ceil(statuses.count(200) / LIMIT)
    # Only requests already in flight when the vendor's count reached zero can be refused: at most one per
    # concurrent slot per window, each retried after the window, never lost.
    assert statuses.count(429) <= concurrency * windows
