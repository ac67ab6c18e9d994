"""A destination that runs in memory, with knobs for every failure the executor must meet.

It keeps what it was sent (``stored``) and every call (``calls``), and reads time from the test's fake clock, so
a test can check the timeline of requests against a rate policy without waiting.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from syncer.contract.destination import (
    BatchResult,
    Capabilities,
    FieldCheck,
    Operation,
    RateInfo,
    RatePolicy,
    RecordResult,
    WriteRecord,
)
from syncer.contract.enums import SyncMode
from syncer.contract.errors import BatchRejectedError, DestinationStoppedError, RateLimitedError


@dataclass(frozen=True)
class Call:
    """One ``write``: its operation, keys in order, the fake time it started, the thread it ran on, how it ended."""

    op: Operation
    keys: tuple[str, ...]
    at: float
    thread: int
    outcome: str = "answered"  # or the class name of what it raised


@dataclass
class FakeDestination:
    """The :class:`~syncer.contract.destination.Destination` protocol in memory. Thread-safe.

    Knobs, checked in this order on each call:

    - ``faults``: the first ``len(faults)`` calls raise these, in order (``TransientError``, ``RateLimitedError``
      with or without ``retry_after``, any exception an SDK might raise);
    - ``stop_after``: calls after this many raise ``DestinationStoppedError`` (a daily limit, revoked credentials);
    - ``window``: ``(requests, seconds)`` the fake enforces on the clock, as a vendor would (a 429 without
      ``retry_after`` beyond it), counting ``other_usage`` requests some other app made at the start;
      replies report ``remaining`` in the window;
    - ``poison``: a batch holding one of these keys is refused whole (``BatchRejectedError``, a 400);
    - per record: ``rejected`` keys get their ``(code, message)``; ``retryable`` keys are answered RETRYABLE that
      many times before they are written; every other record is stored and confirmed.

    ``remaining``: ``RateInfo.remaining`` reported by the n-th answered call (overrides the window's count).
    ``daily``: the daily allowance reported in ``daily_remaining``.
    ``rendezvous``: the first that many calls wait for each other, so a test proves they ran at the same time.
    """

    clock: Callable[[], float]
    max_batch: int = 10
    rate: RatePolicy = field(default_factory=lambda: RatePolicy(requests=1_000, window_s=10.0, concurrency=1))
    bulk_threshold: int | None = None
    bulk_batch: int | None = None
    faults: Sequence[BaseException] = ()
    stop_after: int | None = None
    window: tuple[int, float] | None = None
    other_usage: int = 0
    poison: Collection[str] = ()
    rejected: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    retryable: Mapping[str, int] = field(default_factory=dict)
    remaining: Sequence[int] = ()
    daily: int | None = None
    rendezvous: int = 0

    calls: list[Call] = field(default_factory=list, init=False)
    stored: dict[str, dict[str, str | None]] = field(default_factory=dict, init=False)
    ids: dict[str, str] = field(default_factory=dict, init=False)
    received_ids: dict[str, str | None] = field(default_factory=dict, init=False)  # the record_id each key came with

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._answered_retryable: dict[str, int] = {}
        self._accepted: deque[float] = deque([self.clock()] * self.other_usage)
        self._answered = 0
        self._new_ids = (f"rec-{n}" for n in itertools.count(1))
        self._barrier = threading.Barrier(self.rendezvous, timeout=10) if self.rendezvous > 1 else None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_batch=dict.fromkeys(Operation, self.max_batch),
            rate=self.rate,
            modes=frozenset(SyncMode),
            bulk_threshold=self.bulk_threshold,
            bulk_batch=self.bulk_batch,
        )

    def write(self, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        with self._lock:
            number = len(self.calls)
            self.calls.append(Call(op, tuple(r.key for r in records), self.clock(), threading.get_ident()))
        if self._barrier is not None and number < self.rendezvous:
            self._barrier.wait()
        with self._lock:
            try:
                return self._answer(number, op, records)
            except BaseException as error:
                self.calls[number] = Call(
                    op, self.calls[number].keys, self.calls[number].at, self.calls[number].thread, type(error).__name__
                )
                raise

    def _answer(self, number: int, op: Operation, records: Sequence[WriteRecord]) -> BatchResult:
        if number < len(self.faults):
            raise self.faults[number]
        if self.stop_after is not None and number >= self.stop_after:
            raise DestinationStoppedError("the daily API allowance is spent", code="DAILY")
        remaining = self._enter_window()
        if self.daily is not None and self._answered >= self.daily:
            raise DestinationStoppedError("the daily API allowance is spent", code="DAILY")
        bad = [r.key for r in records if r.key in self.poison]
        if bad:
            raise BatchRejectedError(f"invalid input in the batch: {', '.join(bad)}", code="VALIDATION_ERROR")
        self._answered += 1
        if len(self.remaining) >= self._answered:
            remaining = self.remaining[self._answered - 1]
        daily_remaining = None if self.daily is None else self.daily - self._answered
        rate = RateInfo(
            remaining=remaining,
            interval_s=None if self.window is None else self.window[1],
            daily_remaining=daily_remaining,
            daily_limit=self.daily,
        )
        return BatchResult([self._record(op, record) for record in records], calls=1, rate=rate)

    def _enter_window(self) -> int | None:
        if self.window is None:
            return None
        requests, seconds = self.window
        now = self.clock()
        while self._accepted and self._accepted[0] <= now - seconds:
            self._accepted.popleft()
        if len(self._accepted) >= requests:
            raise RateLimitedError("You have reached your ten_secondly_rolling limit.")
        self._accepted.append(now)
        return requests - len(self._accepted)

    def _record(self, op: Operation, record: WriteRecord) -> RecordResult:
        self.received_ids[record.key] = record.record_id
        if record.key in self.rejected:
            code, message = self.rejected[record.key]
            return RecordResult.rejected(code, message)
        answered = self._answered_retryable.get(record.key, 0)
        if answered < self.retryable.get(record.key, 0):
            self._answered_retryable[record.key] = answered + 1
            return RecordResult.retryable("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
        if record.key not in self.ids:
            self.ids[record.key] = record.record_id or next(self._new_ids)
        values = self.stored.setdefault(record.key, {})
        values.update(record.values)
        return RecordResult.confirmed(self.ids[record.key])

    def check(self) -> list[FieldCheck]:
        return []

    def setup(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    # -- for assertions ----------------------------------------------------------------------------------------

    def answered_calls(self, op: Operation | None = None) -> list[Call]:
        return [c for c in self.calls if c.outcome == "answered" and (op is None or c.op is op)]

    def sent_keys(self) -> list[str]:
        return [key for call in self.calls for key in call.keys]
