"""Running :func:`deliver` against the fake destination on a fake clock: every wait advances the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from syncer.contract.destination import Operation
from syncer.delivery.executor import DeliveryReport, RetryPolicy, deliver
from tests.delivery.fake_destination import FakeDestination
from tests.delivery.plans import RecordingSink, TableChanges
from tests.fakes import FakeClock


@dataclass
class Delivery:
    """One delivery's clock, the sleeps it asked for, and a runner."""

    clock: FakeClock = field(default_factory=FakeClock)
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def destination(self, **knobs: Any) -> FakeDestination:
        return FakeDestination(clock=self.clock, **knobs)

    def run(
        self,
        changes: TableChanges,
        destination: FakeDestination,
        sink: RecordingSink | None = None,
        policy: RetryPolicy | None = None,
        **options: Any,
    ) -> tuple[DeliveryReport, RecordingSink]:
        sink = sink if sink is not None else RecordingSink()
        totals = {op: changes.to_table(op.value).num_rows for op in Operation}
        report = deliver(
            changes,
            totals,
            destination,
            sink,
            clock=self.clock,
            sleep=self.sleep,
            policy=policy or RetryPolicy(),
            **options,
        )
        return report, sink


@pytest.fixture
def delivery() -> Delivery:
    return Delivery()
