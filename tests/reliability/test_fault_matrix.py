"""Every sandbox fault against every field destination (:mod:`tests.reliability.matrix`): each run under the fault ends
in the outcome the matrix names, and once the fault clears nothing is lost or duplicated, judged from the
destination's stored records, the snapshot and the model (:mod:`tests.reliability.invariants`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox import Sandbox
from syncer.runner import RunOutcome
from syncer.state.base import RunStatus
from tests.reliability.arming import ARM, INJECTED, disarm
from tests.reliability.harness import ACCOUNTS, PARK_AFTER, Matrix, open_matrix
from tests.reliability.matrix import FAULTS, Destination, Fault, Outcome, cases

SUMMARY_KEYS = {
    "sync",
    "status",
    "sent",
    "confirmed",
    "rejected",
    "pending",
    "api_calls",
    "rate_limited",
    "duration_s",
    "stopped",
    "retries",
    "error",
}


# Faults whose handling leans hardest on the control store (re-sends, parking, stops), run again on PostgreSQL.
ON_POSTGRES = ("lost_responses", "refused_every_run", "daily_limit")


@pytest.fixture
def matrix(tmp_path: Path, sandbox: Sandbox) -> Iterator[Matrix]:
    try:
        yield from open_matrix(tmp_path, sandbox)
    finally:
        disarm(sandbox)


@pytest.fixture
def pg_matrix(tmp_path: Path, sandbox: Sandbox, pg_url: str) -> Iterator[Matrix]:
    try:
        yield from open_matrix(tmp_path, sandbox, pg_url)
    finally:
        disarm(sandbox)


def test_every_fault_of_the_matrix_can_be_armed_and_every_cell_is_decided() -> None:
    assert set(ARM) == {fault.name for fault in FAULTS}
    for fault in FAULTS:
        assert set(fault.cells) == set(Destination), fault.name
        for destination, cell in fault.cells.items():
            assert cell.applies or cell.note, f"{fault.name} x {destination}: n/a needs a reason"


@pytest.mark.parametrize(("fault", "destination"), cases(), ids=lambda v: v.name if isinstance(v, Fault) else v.value)
def test_fault(matrix: Matrix, fault: Fault, destination: Destination) -> None:
    _check_cell(matrix, fault, destination)


@pytest.mark.parametrize(
    ("fault", "destination"),
    [c for c in cases() if c[0].name in ON_POSTGRES],
    ids=lambda v: v.name if isinstance(v, Fault) else v.value,
)
def test_fault_with_postgres_state(pg_matrix: Matrix, fault: Fault, destination: Destination) -> None:
    _check_cell(pg_matrix, fault, destination)


def _check_cell(matrix: Matrix, fault: Fault, destination: Destination) -> None:
    """Run the sync under the fault, check the outcome, clear the fault, check that nothing was lost or doubled."""
    cell = fault.cells[destination]
    if cell.outcome is None:
        pytest.skip(f"n/a: {cell.note}")
    first = _first_run(matrix, fault, destination)
    _check_injected(matrix, fault, destination, first)
    assert _observed(matrix, fault, destination, first) is cell.outcome, _describe(first)
    _check_summary(first)
    disarm(matrix.sandbox)
    if cell.outcome is not Outcome.CONFIRMED:
        after = matrix.run(destination)
        assert after.status is RunStatus.SUCCEEDED, _describe(after)
        assert after.delivery is not None and after.delivery.confirmed > 0
    tally = matrix.tally(destination)
    assert tally.clean and tally.keys > 0, tally
    assert matrix.app.store.row_errors.records(matrix.sync(destination).name) == []
    again = matrix.run(destination)  # nothing left to send: the next run writes nothing
    assert again.status is RunStatus.SUCCEEDED and again.delivery is not None and again.delivery.sent == 0


def _first_run(matrix: Matrix, fault: Fault, destination: Destination) -> RunOutcome:
    ARM[fault.name](matrix, destination)
    return matrix.run(destination)


def _check_injected(matrix: Matrix, fault: Fault, destination: Destination, outcome: RunOutcome) -> None:
    """The fault really happened in the first run (a matrix whose faults never fire proves nothing)."""
    report = outcome.delivery
    assert report is not None
    if fault.name in INJECTED:
        kind, count = INJECTED[fault.name]
        emulator = matrix.emulator(destination)
        hits = sum(1 for entry in emulator.log.entries() if entry.fault == kind.value)
        assert hits == count if count is not None else hits > 0, (kind, hits)
    elif fault.name in ("rejected_records", "refused_every_run"):
        assert report.rejected + report.retries > 0
    elif fault.name == "daily_limit":
        assert report.stopped is not None and ("daily" in report.stopped or "allocation" in report.stopped)
    elif fault.name.startswith("bulk_job_failed"):
        jobs = matrix.sandbox.salesforce.state()["bulk_jobs"]
        assert [job["state"] for job in jobs].count("Failed") == 1 and report.retries > 0
    elif fault.name == "latency":
        assert report.api_calls > 0
    else:
        raise AssertionError(f"no evidence check for {fault.name}")


def _observed(matrix: Matrix, fault: Fault, destination: Destination, outcome: RunOutcome) -> Outcome:
    report = outcome.delivery
    assert report is not None and outcome.plan is not None, _describe(outcome)
    if outcome.status is RunStatus.SUCCEEDED:
        assert report.confirmed == outcome.plan.counts.create > 0 and report.pending == report.rejected == 0
        return Outcome.CONFIRMED
    # A run that confirmed nothing and had every row refused wrote nothing: it is failed, not partial.
    refused_all = report.confirmed == 0 and report.rejected == outcome.plan.counts.create > 0
    assert outcome.status is (RunStatus.FAILED if refused_all else RunStatus.PARTIAL), _describe(outcome)
    if report.stopped is not None:
        assert outcome.error == report.stopped and report.pending > 0
        return Outcome.STOPPED
    failing = matrix.app.store.row_errors.records(outcome.sync, limit=10_000)
    assert len(failing) == report.rejected + report.pending > 0  # every row not confirmed is kept, with its reason
    assert all(e.code and e.message and e.stage == "deliver" and e.attempts == 1 for e in failing)
    if report.confirmed + len(failing) != outcome.plan.counts.create:
        raise AssertionError(f"rows unaccounted for: {_describe(outcome)}")
    if fault.persistent:
        return _parks(matrix, destination, outcome.sync, {e.key for e in failing})
    return Outcome.RETRIED


def _parks(matrix: Matrix, destination: Destination, sync: str, failing: set[str | None]) -> Outcome:
    """Run on under the fault: the same keys fail each time and park after ``park_after`` attempts; parked keys are
    not sent again until they are re-queued (as ``syncer retry`` does)."""
    for attempt in range(2, PARK_AFTER + 1):
        matrix.run(destination)
        errors = matrix.app.store.row_errors.records(sync, limit=10_000)
        assert {e.key for e in errors} == failing and {e.attempts for e in errors} == {attempt}
    if matrix.app.store.row_errors.parked_keys(sync) != failing:
        return Outcome.RETRIED
    skipped = matrix.run(destination)
    assert skipped.delivery is not None and skipped.delivery.sent == 0  # parked keys wait for a human
    assert skipped.parked == len(failing)  # and the run says how many it skipped
    assert matrix.app.store.row_errors.requeue(sync) == len(failing)
    return Outcome.PARKED


def _check_summary(outcome: RunOutcome) -> None:
    summary = outcome.summary()
    assert set(summary) >= SUMMARY_KEYS and summary["status"] == outcome.status.value
    assert summary["sent"] <= ACCOUNTS and summary["confirmed"] <= summary["sent"]


def _describe(outcome: RunOutcome) -> dict[str, Any]:
    return outcome.summary()
