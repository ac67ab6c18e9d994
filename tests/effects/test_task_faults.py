"""Every fault the sandbox can inject on CRM task creation (``task_faults.FAULTS``), in HubSpot and Salesforce through
their real SDKs: the faulty run ends as the matrix says (every task created in it, or every intent left pending and
none failed), and once the fault clears every due task exists exactly once. Waits run on a fake clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.hubspot.sandbox import HubSpotLimits
from connectors.sandbox import Sandbox
from connectors.sandbox.core.base import VendorEmulator
from syncer.state.base import RunStatus
from syncer.state.outbox import EffectKind, OutboxStatus
from tests.effects.task_faults import DOC, TaskFault, TaskOutcome, cases, rendered
from tests.effects.test_tasks_sandbox import HUBSPOT, SALESFORCE, _key_of, _salesforce_connector, _setup, _tasks
from tests.effects.world import DANA, MARCO, START, World

HOT = ["t0", "t1", "t2", "t3"]  # cross into hot on the second run; t4 and t5 stay warm


@pytest.fixture
def world(tmp_path: Path, sandbox: Sandbox) -> Iterator[World]:
    built = World(tmp_path, sandbox)
    yield built
    built.close()


@pytest.mark.parametrize(("fault", "crm"), cases(), ids=[f"{f.name}-{crm}" for f, crm in cases()])
def test_a_task_fault_ends_as_the_matrix_says_and_then_every_task_exists_once(
    world: World, sandbox: Sandbox, fault: TaskFault, crm: str
) -> None:
    cell = fault.cells[crm]
    if cell.outcome is None:
        pytest.skip(cell.note)
    mapping, sync = (HUBSPOT, "hot_companies") if crm == "hubspot" else (SALESFORCE, "hot_accounts")
    world.setup(
        {sync: mapping.replace("{priority}", "HIGH" if crm == "hubspot" else "High")},
        extra_connectors=_salesforce_connector(sandbox),
    )
    _setup(world, sync)
    keys = [f"t{i}" for i in range(6)]
    for i, key in enumerate(keys):
        world.account(key, (DANA if i % 2 else MARCO).email, 60)
    assert world.run(sync).status is RunStatus.SUCCEEDED
    for key in keys:
        world.account(key, (DANA if int(key[1:]) % 2 else MARCO).email, 85 if key in HOT else 70)
    emulator = sandbox.hubspot if crm == "hubspot" else sandbox.salesforce
    emulator.set_faults([fault.rule_for(crm)], seed=3)
    if crm == "hubspot":  # HubSpot's search lags writes: a re-send must find its tasks without it
        sandbox.hubspot.set_limits(HubSpotLimits(search_lag_seconds=60))
    started = world.clock.now

    try:
        faulty = world.run(sync, at=START + timedelta(days=1))
    finally:
        sandbox.hubspot.set_limits(HubSpotLimits())

    emulator.set_faults([])
    faulted = sum(1 for entry in emulator.log.entries() if entry.fault != "none")
    assert faulty.effects is not None
    tasks = faulty.effects.tasks
    assert world.app is not None
    store = world.app.store
    refused = store.outbox.due(world.now, sync, (EffectKind.TASK,), (OutboxStatus.FAILED,))
    if cell.outcome is TaskOutcome.CREATED:
        assert faulty.status is RunStatus.SUCCEEDED, faulty.effects.summary()
        assert tasks["created"] + tasks["existed"] == len(HOT) and not tasks["retry"], faulty.effects.summary()
        assert _held(world, crm) == Counter(HOT)
        if fault.rule.reject_rate:  # the tasks refused as retryable were sent again within the run
            assert _sent_keys(emulator) > len(HOT)
        else:
            assert faulted == fault.rule.max_faults  # every fault of the burst was met, and outlasted, in this run
    elif cell.outcome is TaskOutcome.REFUSED:
        assert faulty.status is RunStatus.PARTIAL and 0 < tasks["failed"] < len(HOT), faulty.effects.summary()
        assert tasks["created"] == len(HOT) - tasks["failed"] and not tasks["retry"], faulty.effects.summary()
        assert all("VALIDATION_ERROR" in str(r.error) for r in refused)
        assert _held(world, crm) == Counter(k for k in HOT if k not in {r.key for r in refused})
    else:
        assert faulty.status is RunStatus.PARTIAL and faulty.effects.errors, faulty.effects.summary()
        assert tasks["retry"] == len(HOT) and not tasks["failed"], faulty.effects.summary()
        assert _held(world, crm) == Counter()
        waiting = store.outbox.due(world.now, sync, (EffectKind.TASK,), (OutboxStatus.PENDING,))
        assert sorted(r.key for r in waiting) == HOT  # pending with the reason, not failed
        assert all(r.error for r in waiting)
        # a stop is final for the run; anything else was tried again within the run before it was left
        assert faulted == 1 if cell.outcome is TaskOutcome.STOPPED else faulted >= 2
    if cell.outcome is not TaskOutcome.REFUSED:
        assert not refused
    assert world.clock.now - started <= 60 + 900 + 1  # the run's waits (on the fake clock) stayed within max_wait_s

    for day in (2, 3):
        world.run(sync, at=START + timedelta(days=day))
    assert _held(world, crm) == Counter(k for k in HOT if k not in {r.key for r in refused})  # refused: for good
    left = store.outbox.due(world.now, sync, (EffectKind.TASK,), (OutboxStatus.PENDING, OutboxStatus.SENDING))
    assert not left


def _sent_keys(emulator: VendorEmulator) -> int:
    """How many tasks the creation requests carried in all (a task sent again counts again)."""
    return sum(
        entry.body.count("Syncer_Dedupe_Key__c") + entry.body.count("syncer_dedupe_key")
        for entry in emulator.log.entries()
        if entry.method == "POST" and entry.path.endswith(("/composite/sobjects", "/tasks/batch/create"))
    )


def _held(world: World, crm: str) -> Counter[str]:
    """How many tasks the CRM holds per account key (by the dedupe key they carry)."""
    return Counter(_key_of(task, crm) for task in _tasks(world, crm))


def test_the_task_fault_table_in_the_docs_is_current() -> None:
    page = DOC.read_text()
    assert rendered(page) == page, "run: python -m tests.effects.task_faults"
