"""The delivery executor: sends a plan's change rows to one destination, paced, retried, and accounted for.

Every record handed to :func:`deliver` ends in exactly one of three places: **confirmed** (given to the sink with
the destination's record id), **rejected** (given to the sink as a :class:`RowFailure` with the vendor's reason) or
**pending** (left for the next run: retryable at the end, or never sent because the destination stopped).

How each failure of a whole batch is met (the classes of :mod:`syncer.contract.errors`), as the one retry policy
of :mod:`syncer.delivery.retry` says for every vendor call::

    TransientError, any other exception   back off with jitter (tenacity), at most ``max_attempts`` per batch;
                                          no new batch starts meanwhile, so an outage does not use up them all
    RateLimitedError                      every request waits ``retry_after`` (or a window); not an attempt
    BatchRejectedError                    split in halves until the bad records stand alone, then reject them
    DestinationStoppedError               send nothing more to this destination in this run

Requests are paced by the destination's limiter, taken from a :class:`~syncer.delivery.pacer.Pacer` built from its
declared :class:`~syncer.contract.destination.RatePolicy`, and every wait comes out of the run's
:class:`~syncer.delivery.retry.Patience` (``max_wait_s``).

Requests run on a thread pool of ``rate.concurrency`` workers, and only ``Destination.write`` runs there: waiting,
retry decisions and every sink call happen on the caller's thread, one batch at a time as replies arrive, so the
state store needs no locks and a crash loses at most the batches in flight (their writes are idempotent re-sends).
The executor sleeps only when nothing is in flight, through the injected ``sleep``: tests run on a fake clock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import pyarrow as pa
import tenacity
from tenacity import RetryCallState, RetryError

from syncer.contract.destination import BatchResult, Destination, Operation, RecordResult, RecordStatus, WriteRecord
from syncer.contract.errors import BatchRejectedError, DeliveryError, DestinationStoppedError, RateLimitedError
from syncer.core.plan import ChangeRows
from syncer.delivery.pacer import Pacer
from syncer.delivery.records import Chunk, ChunkSource
from syncer.delivery.retry import Patience, RetryPolicy

# RetryPolicy is re-exported: callers found it here before syncer.delivery.retry held it.
__all__ = [
    "SENT_OPERATIONS",
    "BrokenReplyError",
    "DeliveryReport",
    "DeliverySink",
    "FailureCode",
    "RetryPolicy",
    "RowFailure",
    "deliver",
]

DEFAULT_POLICY = RetryPolicy()
WRITE = "write"  # the one call a field destination makes, for its pacer

log = logging.getLogger(__name__)

SENT_OPERATIONS = (Operation.CREATE, Operation.UPDATE, Operation.CLEAR)
_MESSAGE_CHARS = 500


class FailureCode(StrEnum):
    """Codes of failures the executor names itself (a vendor's own code is passed through when it gave one)."""

    TRANSIENT = "TRANSIENT"  # a transient error outlasted the attempts
    CONNECTOR_ERROR = "CONNECTOR_ERROR"  # the connector raised something it should have mapped (a bug)
    BATCH_REJECTED = "BATCH_REJECTED"  # the vendor refused a batch of this one record
    REJECTED = "REJECTED"
    RETRYABLE = "RETRYABLE"


@dataclass(frozen=True)
class RowFailure:
    key: str
    code: str
    message: str
    retryable: bool  # True: not written for a passing reason (left pending); False: the vendor rejected it


class DeliverySink(Protocol):
    """Called on the thread that called deliver(), never from worker threads (the state store is not thread-safe)."""

    def confirmed(self, rows: pa.Table, record_ids: list[str | None]) -> None:
        """``rows`` (change rows, the plan's schema) were confirmed, with the destination's ``record_ids``."""

    def failed(self, failures: Sequence[RowFailure]) -> None:
        """These rows were not written (see :attr:`RowFailure.retryable`)."""


@dataclass
class DeliveryReport:
    sent: int = 0  # records handed to the destination (counted once however often retried)
    confirmed: int = 0
    created: int = 0  # confirmed creates that made a new record
    adopted: int = 0  # confirmed creates written to a record that already existed (found by the adopt field)
    rejected: int = 0
    pending: int = 0  # retryable at the end, or never sent because the destination stopped
    api_calls: int = 0  # from BatchResult.calls, plus calls that raised
    rate_limited: int = 0  # RateLimitedError answers
    retries: int = 0  # re-sends after a transient error, a rate limit or retryable records (not halvings)
    waited_s: float = 0.0  # time slept for limits and backoff
    stopped: str | None = None  # why the destination stopped for this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def deliver(
    changes: ChangeRows,
    totals: Mapping[Operation, int],
    destination: Destination,
    sink: DeliverySink,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    policy: RetryPolicy = DEFAULT_POLICY,
    skip: Container[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send every create/update/clear change row (refresh rows are not sent), grouped by operation.

    ``totals`` (rows per operation) picks the batch size (bulk above the connector's threshold); keys in ``skip``
    are not sent. ``progress`` is called on the caller's thread with how many more records were settled
    (confirmed, rejected or given up as retryable) after each reply. An exception from the sink propagates once
    the requests in flight have returned; what the sink accepted before it stays accepted. Once ``stop()`` answers
    true (a daemon shutting down), no new batch is sent: the batches in flight are collected and committed, and the
    rest is left pending for the next run (``report.stopped`` says so).
    """
    capabilities = destination.capabilities
    run = _Delivery(destination, sink, clock, sleep, policy, progress, stop)
    try:
        for op in SENT_OPERATIONS:
            source = ChunkSource(changes, op, capabilities.batch_size(op, totals.get(op, 0)), skip)
            try:
                run.drain(source)
            finally:
                source.close()
    finally:
        run.pool.shutdown(wait=True, cancel_futures=True)
    return run.report


@dataclass(eq=False)
class _Job:
    """One batch on its way: its records, its transient attempts so far, and when it may be sent again."""

    op: Operation
    chunk: Chunk
    attempts: RetryCallState
    fresh: bool  # its records were never handed to the destination (they count as sent on first submission)
    resend: bool = False  # it re-sends records that came back RETRYABLE
    submitted: int = 0
    order: int = field(default_factory=itertools.count().__next__)

    def __len__(self) -> int:
        return len(self.chunk.records)


class _Delivery:
    """The state of one :func:`deliver` call; every method runs on the caller's thread."""

    def __init__(
        self,
        destination: Destination,
        sink: DeliverySink,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        policy: RetryPolicy,
        progress: Callable[[int], None] | None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        rate = destination.capabilities.rate
        self.destination, self.sink, self.clock = destination, sink, clock
        self.policy, self.progress, self.should_stop = policy, progress, stop
        self.patience = Patience(policy.max_wait_s, sleep)
        self.limiter = Pacer.single(WRITE, rate, clock, self.patience, policy).limiter(WRITE)
        self.concurrency = max(1, rate.concurrency)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="syncer-delivery")
        self.retrying = policy.retrying()
        self.retrying.begin()  # its statistics, which its decisions update
        self.report = DeliveryReport()
        self.in_flight: dict[Future[BatchResult | Exception], tuple[_Job, int]] = {}
        self.waiting: list[tuple[float, int, _Job]] = []  # a heap: (not before, order, job)
        self.held: _Job | None = None  # due, but the limiter said wait
        self.answered_retryable: dict[str, int] = {}  # key -> sends answered RETRYABLE so far
        self.resend_queue: list[Chunk] = []
        self.resend_queued = 0
        self.resend_after = 0.0
        self.calm_until = 0.0  # the end of the latest transient backoff (that job waits until then)

    def drain(self, source: ChunkSource) -> None:
        """Deliver every row of ``source``; what cannot be sent any more is counted pending."""
        resend_size = max(1, source.size // 2)  # retryable records go again in smaller batches
        while True:
            if self.report.stopped is None and self.should_stop is not None and self.should_stop():
                self._stop("stopped on request (shutdown); the rest is left for the next run")
            if self.report.stopped is None:
                self._fill(source, resend_size)
            if self.in_flight:
                self._collect()
                continue
            if self.report.stopped is not None:
                break
            pause = self._idle_time()
            if pause is None:
                break
            self._pause(pause)
        self._abandon(source)

    # -- sending -----------------------------------------------------------------------------------------------

    def _fill(self, source: ChunkSource, resend_size: int) -> None:
        while len(self.in_flight) < self.concurrency:
            job = self._next_job(source, resend_size)
            if job is None:
                return
            spent = self.limiter.spent
            if spent is not None or self.limiter.delay() > 0:
                self.held = job  # left pending when stopped
                if spent is not None:
                    self._stop(spent)
                return
            self._submit(job)

    def _next_job(self, source: ChunkSource, resend_size: int) -> _Job | None:
        if self.held is not None:
            job, self.held = self.held, None
            return job
        if self.resend_queued >= resend_size:
            self._flush_resends(source.op, resend_size)
        if self.waiting and self.waiting[0][0] <= self.clock():
            return heapq.heappop(self.waiting)[2]
        if self.clock() < self.calm_until:
            return None  # a batch is backing off from a transient error: new batches would only meet it too
        chunk = source.next()
        if chunk is not None:
            return _Job(source.op, chunk, self._attempts(), fresh=True)
        if self.resend_queue:  # nothing new is left to fill a batch with
            self._flush_resends(source.op, resend_size)
            if self.waiting and self.waiting[0][0] <= self.clock():
                return heapq.heappop(self.waiting)[2]
        return None

    def _submit(self, job: _Job) -> None:
        if job.fresh and not job.submitted:
            self.report.sent += len(job)
        elif job.submitted or job.resend:
            self.report.retries += 1
        job.submitted += 1
        ticket = self.limiter.start()
        future = self.pool.submit(_attempt, self.destination, job.op, job.chunk.records)
        self.in_flight[future] = (job, ticket)

    def _idle_time(self) -> float | None:
        """Nothing is in flight: how long until something may be sent, or ``None`` when all is done."""
        if self.held is not None:
            return self.limiter.delay()
        if self.waiting:
            return max(0.0, self.waiting[0][0] - self.clock())
        return None

    def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if not self.patience.allows(seconds):
            self._stop(f"rate limit waits exceeded {self.policy.max_wait_s:g} s; the rest is left for the next run")
            return
        self.patience.sleep(seconds)
        self.report.waited_s = self.patience.waited_s

    def _requeue(self, job: _Job, not_before: float) -> None:
        heapq.heappush(self.waiting, (not_before, job.order, job))

    def _flush_resends(self, op: Operation, size: int) -> None:
        queued = Chunk.join(self.resend_queue)
        for start in range(0, len(queued.records), size):
            part = Chunk(queued.rows.slice(start, size), queued.records[start : start + size])
            self._requeue(_Job(op, part, self._attempts(), fresh=False, resend=True), self.resend_after)
        self.resend_queue, self.resend_queued = [], 0

    def _attempts(self) -> RetryCallState:
        return RetryCallState(self.retrying, None, (), {})

    # -- replies -----------------------------------------------------------------------------------------------

    def _collect(self) -> None:
        done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: self.in_flight[f][0].order):
            job, ticket = self.in_flight.pop(future)
            outcome = future.result()
            if isinstance(outcome, BatchResult):
                self.limiter.finish(ticket, outcome.rate)
                self.report.api_calls += outcome.calls
                self._results(job, outcome.results)
            else:
                self.limiter.finish(ticket, None)
                self.report.api_calls += 1
                self._failed(job, outcome)

    def _results(self, job: _Job, results: Sequence[RecordResult]) -> None:
        confirmed: list[int] = []
        record_ids: list[str | None] = []
        again: list[int] = []
        failures: list[RowFailure] = []
        for index, (record, result) in enumerate(zip(job.chunk.records, results, strict=True)):
            if result.status is RecordStatus.RETRYABLE:
                answered = self.answered_retryable.get(record.key, 0) + 1
                if answered < self.policy.max_attempts:
                    self.answered_retryable[record.key] = answered
                    again.append(index)
                    continue
            self.answered_retryable.pop(record.key, None)
            if result.status is RecordStatus.CONFIRMED:
                confirmed.append(index)
                record_ids.append(result.record_id)
                if job.op is Operation.CREATE:
                    self.report.adopted += result.adopted
                    self.report.created += not result.adopted
            else:
                failures.append(_record_failure(record, result))
        if again:
            self.resend_queue.append(job.chunk.take(again))
            self.resend_queued += len(again)
            self.resend_after = max(
                self.resend_after,
                self.clock() + self._backoff(max(self.answered_retryable[job.chunk.records[i].key] for i in again)),
            )
        self._settle(job.chunk.take(confirmed) if confirmed else None, record_ids, failures)

    def _failed(self, job: _Job, error: Exception) -> None:
        if isinstance(error, RateLimitedError):
            self.report.rate_limited += 1
            self.limiter.hold(self.policy.rate_limit_wait(error, self.limiter.policy.window_s))
            self._requeue(job, self.clock())
        elif isinstance(error, DestinationStoppedError):
            self._stop(str(error))
            self._requeue(job, self.clock())  # left pending with everything else not sent
        elif isinstance(error, BatchRejectedError):
            if len(job) == 1:
                code = error.code or FailureCode.BATCH_REJECTED.value
                self._settle(None, [], [RowFailure(job.chunk.records[0].key, code, str(error), retryable=False)])
            else:
                for half in job.chunk.halves():
                    self._requeue(_Job(job.op, half, self._attempts(), fresh=False), self.clock())
        else:
            self._transient(job, error)

    def _transient(self, job: _Job, error: Exception) -> None:
        if not isinstance(error, DeliveryError):
            log.warning("the %s connector raised %s", type(self.destination).__name__, _describe(error))
        job.attempts.set_exception((type(error), error, None))
        try:
            decision = self.retrying.iter(job.attempts)
        except RetryError:
            if isinstance(error, DeliveryError):
                code, message = error.code or FailureCode.TRANSIENT.value, str(error)
            else:
                code, message = FailureCode.CONNECTOR_ERROR.value, _describe(error)
            self._settle(None, [], [RowFailure(r.key, code, message, retryable=True) for r in job.chunk.records])
            return
        if not isinstance(decision, tenacity.DoSleep):  # tenacity re-raises what its predicate declines: not here
            raise TypeError(f"unexpected retry decision {decision!r}")
        job.attempts.prepare_for_next_attempt()
        retry_at = self.clock() + float(decision)
        self.calm_until = max(self.calm_until, retry_at)
        self._requeue(job, retry_at)

    def _settle(self, confirmed: Chunk | None, record_ids: list[str | None], failures: list[RowFailure]) -> None:
        if confirmed is not None:
            self.sink.confirmed(confirmed.rows, record_ids)
            self.report.confirmed += len(record_ids)
        if failures:
            self.sink.failed(failures)
            retryable = sum(f.retryable for f in failures)
            self.report.pending += retryable
            self.report.rejected += len(failures) - retryable
        settled = len(record_ids) + len(failures)
        if self.progress is not None and settled:
            self.progress(settled)

    # -- stopping ----------------------------------------------------------------------------------------------

    def _stop(self, reason: str) -> None:
        if self.report.stopped is None:
            log.warning("delivery to %s stopped: %s", type(self.destination).__name__, reason)
            self.report.stopped = reason

    def _abandon(self, source: ChunkSource) -> None:
        """Count as pending what was never sent or is still waiting to be sent again."""
        left = sum(len(job) for _, _, job in self.waiting) + self.resend_queued + source.count_rest()
        if self.held is not None:
            left += len(self.held)
        self.report.pending += left
        self.waiting, self.held, self.resend_queue, self.resend_queued = [], None, [], 0
        self.calm_until = 0.0

    def _backoff(self, attempt: int) -> float:
        return self.policy.backoff(attempt)


def _attempt(destination: Destination, op: Operation, records: list[WriteRecord]) -> BatchResult | Exception:
    """One write, on a worker thread. Any exception is returned, to be judged on the caller's thread."""
    try:
        result = destination.write(op, records)
    except Exception as error:
        return error
    if len(result.results) != len(records):
        return BrokenReplyError(f"the connector answered {len(result.results)} results for {len(records)} records")
    return result


class BrokenReplyError(Exception):
    """A connector broke the one-result-per-record contract (a bug): treated like any unexpected exception."""


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return text[:_MESSAGE_CHARS]


def _record_failure(record: WriteRecord, result: RecordResult) -> RowFailure:
    if result.status is RecordStatus.REJECTED:
        return RowFailure(
            record.key,
            result.code or FailureCode.REJECTED.value,
            result.message or "refused by the destination",
            retryable=False,
        )
    return RowFailure(
        record.key,
        result.code or FailureCode.RETRYABLE.value,
        result.message or "not written, may pass",
        retryable=True,
    )
