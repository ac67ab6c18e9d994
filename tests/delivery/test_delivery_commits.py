"""Plan with the real planner, deliver to the fake destination, commit to the real state stores, plan again.

The next plan is the proof: it holds exactly the keys that were not confirmed, whatever went wrong on the way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from syncer.commit import commit_confirmed
from syncer.contract.destination import Operation
from syncer.core.plan import Plan
from syncer.delivery.executor import DeliveryReport, RetryPolicy, RowFailure, deliver
from syncer.planning.planner import plan_sync
from syncer.state import StateStore
from syncer.warehouse.base import Warehouse
from syncer.warehouse.opener import open_warehouse
from tests.delivery.fake_destination import FakeDestination
from tests.fakes import FakeClock
from tests.helpers import NOW, snapshot_dict, sync_config, write_table

COLUMNS = "id VARCHAR, score DOUBLE, tier VARCHAR"
SYNC = sync_config()


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    write_table(
        tmp_path / "warehouse.duckdb",
        "accounts",
        COLUMNS,
        [(f"a{n:03d}", float(n), "hot" if n % 2 else "cold") for n in range(40)],
    )
    opened = open_warehouse("duckdb:///warehouse.duckdb", tmp_path)
    yield opened
    opened.close()


class CommittingSink:
    """What the runner does: commit confirmed rows with the ids the destination returned; keep the failures."""

    def __init__(self, store: StateStore, fail_on: int | None = None) -> None:
        self.store, self.fail_on = store, fail_on
        self.commits = 0
        self.failures: list[RowFailure] = []

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        if self.commits + 1 == self.fail_on:
            raise RuntimeError("killed between the reply and the commit")
        commit_confirmed(self.store, SYNC.name, rows, NOW, pa.array(record_ids, pa.string()))
        self.commits += 1

    def failed(self, failures: Sequence[RowFailure]) -> None:
        self.failures.extend(failures)


def _deliver(plan: Plan, fake: FakeDestination, sink: CommittingSink, clock: FakeClock) -> DeliveryReport:
    totals = {
        Operation.CREATE: plan.counts.create,
        Operation.UPDATE: plan.counts.update,
        Operation.CLEAR: plan.counts.clear,
    }
    return deliver(plan.changes, totals, fake, sink, clock=clock, sleep=clock.advance, policy=RetryPolicy(3))


def _planned_keys(plan: Plan) -> set[str]:
    return {row["key"] for row in plan.rows()}


def test_the_next_plan_holds_exactly_what_was_not_confirmed(store: StateStore, warehouse: Warehouse) -> None:
    clock = FakeClock()
    refused = {"a003": ("INVALID_DOMAIN", "bad domain"), "a017": ("DUPLICATE", "exists")}
    fake = FakeDestination(clock=clock, max_batch=8, rejected=refused, poison={"a022"}, retryable={"a030": 9})
    sink = CommittingSink(store)
    report = _deliver(plan_sync(SYNC, store, warehouse), fake, sink, clock)

    assert (report.confirmed, report.rejected, report.pending) == (36, 3, 1)
    assert _planned_keys(plan_sync(SYNC, store, warehouse)) == {"a003", "a017", "a022", "a030"}
    snapshot = snapshot_dict(store, SYNC.name)
    assert set(snapshot) == {f"a{n:03d}" for n in range(40)} - {"a003", "a017", "a022", "a030"}
    assert snapshot["a001"] == {"score": "1", "tier": "hot"}

    healed = FakeDestination(clock=clock, max_batch=8)
    report = _deliver(plan_sync(SYNC, store, warehouse), healed, CommittingSink(store), clock)
    assert (report.confirmed, report.pending) == (4, 0)
    assert plan_sync(SYNC, store, warehouse).is_empty


def test_updates_are_sent_by_the_record_id_the_destination_returned(
    store: StateStore, warehouse: Warehouse, tmp_path: Path
) -> None:
    clock = FakeClock()
    fake = FakeDestination(clock=clock, max_batch=16)
    _deliver(plan_sync(SYNC, store, warehouse), fake, CommittingSink(store), clock)
    write_table(
        tmp_path / "warehouse.duckdb",
        "accounts",
        COLUMNS,
        [(f"a{n:03d}", float(n) + (0.5 if n < 5 else 0), "hot" if n % 2 else "cold") for n in range(40)],
    )
    plan = plan_sync(SYNC, store, warehouse)
    assert plan.counts.update == 5

    report = _deliver(plan, fake, CommittingSink(store), clock)
    assert report.confirmed == 5
    (call,) = fake.calls[-1:]
    assert call.op is Operation.UPDATE and call.keys == ("a000", "a001", "a002", "a003", "a004")
    assert {key: fake.received_ids[key] for key in call.keys} == {key: fake.ids[key] for key in call.keys}
    assert fake.stored["a001"] == {"score": "1.5", "tier": "hot"}
    assert plan_sync(SYNC, store, warehouse).is_empty


def test_a_crash_between_reply_and_commit_costs_only_a_re_send(store: StateStore, warehouse: Warehouse) -> None:
    clock = FakeClock()
    fake = FakeDestination(clock=clock, max_batch=10)
    with pytest.raises(RuntimeError, match="killed"):
        _deliver(plan_sync(SYNC, store, warehouse), fake, CommittingSink(store, fail_on=3), clock)

    committed = set(snapshot_dict(store, SYNC.name))
    assert len(committed) == 20 and committed <= set(fake.stored)
    replan = plan_sync(SYNC, store, warehouse)
    assert _planned_keys(replan) == {f"a{n:03d}" for n in range(40)} - committed
    report = _deliver(replan, fake, CommittingSink(store), clock)  # the third batch again: idempotent upserts
    assert (report.confirmed, report.pending) == (20, 0)
    assert plan_sync(SYNC, store, warehouse).is_empty
