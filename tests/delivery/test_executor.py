"""The executor against the fake destination: batching, per-record results, splitting, retries, stops, crashes."""

from __future__ import annotations

import math
import threading

import pyarrow as pa
import pytest

from syncer.contract.destination import BatchResult, Operation, RatePolicy, WriteRecord
from syncer.contract.errors import DestinationStoppedError, RateLimitedError, TransientError
from syncer.delivery.executor import RetryPolicy
from tests.delivery.conftest import Delivery
from tests.delivery.fake_destination import FakeDestination
from tests.delivery.plans import CHANGE_SCHEMA, RecordingSink, TableChanges, change_rows, keys


def test_one_call_per_batch_cap_per_operation_and_refresh_rows_stay_home(delivery: Delivery) -> None:
    changes = change_rows(
        ("create", keys("c", 23)), ("update", keys("u", 10)), ("clear", keys("x", 5)), ("refresh", keys("r", 7))
    )
    fake = delivery.destination(max_batch=10)
    report, sink = delivery.run(changes, fake)

    for op, rows in ((Operation.CREATE, 23), (Operation.UPDATE, 10), (Operation.CLEAR, 5)):
        calls = fake.answered_calls(op)
        assert len(calls) == math.ceil(rows / 10)
        assert all(len(call.keys) <= 10 for call in calls)
    assert [call.op for call in fake.calls] == [Operation.CREATE] * 3 + [Operation.UPDATE, Operation.CLEAR]
    assert not any(key.startswith("r") for key in fake.sent_keys())
    assert report.as_dict() == {
        "sent": 38,
        "confirmed": 38,
        "created": 23,
        "adopted": 0,
        "rejected": 0,
        "pending": 0,
        "api_calls": 5,
        "rate_limited": 0,
        "retries": 0,
        "waited_s": 0.0,
        "stopped": None,
    }
    assert sorted(sink.confirmed_keys) == sorted(keys("c", 23) + keys("u", 10) + keys("x", 5))


def test_confirmed_rows_reach_the_sink_with_the_record_ids_the_destination_returned(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=4)
    _, sink = delivery.run(change_rows(("create", keys("c", 6)), ("update", ["u1"])), fake)

    ids = sink.confirmed_ids
    assert ids == fake.ids
    assert ids["u1"] == "id-u1"  # an update keeps the id the snapshot knew
    assert len({ids[key] for key in keys("c", 6)}) == 6 and all(str(ids[k]).startswith("rec-") for k in keys("c", 6))
    assert sink.threads == {threading.get_ident()}


def test_only_changed_fields_are_sent_and_a_clear_sends_them_empty(delivery: Delivery) -> None:
    rows = [
        {
            "op": "update",
            "key": "a",
            "record_id": "id-a",
            "match": "a.com",
            "changed": ["score"],
            "values": {"name": "Acme", "score": "9"},
            "hash": 1,
        },
        {
            "op": "clear",
            "key": "b",
            "record_id": "id-b",
            "match": "b.com",
            "changed": ["name"],
            "values": {"name": None, "score": None},
            "hash": 2,
        },
    ]
    fake = delivery.destination()
    delivery.run(TableChanges(pa.Table.from_pylist(rows, schema=CHANGE_SCHEMA)), fake)
    assert fake.stored == {"a": {"score": "9"}, "b": {"name": None}}


def test_rejected_records_are_reported_with_reasons_and_the_rest_of_their_batch_confirms(delivery: Delivery) -> None:
    fake = delivery.destination(
        max_batch=10,
        rejected={"c00003": ("INVALID_EMAIL", "not an email: x@"), "c00007": ("STRING_TOO_LONG", "name: too long")},
    )
    report, sink = delivery.run(change_rows(("create", keys("c", 10))), fake)

    assert len(fake.calls) == 1
    assert sorted(sink.confirmed_keys) == sorted(set(keys("c", 10)) - {"c00003", "c00007"})
    assert sink.failure("c00003").code == "INVALID_EMAIL" and sink.failure("c00003").message == "not an email: x@"
    assert not sink.failure("c00007").retryable
    assert (report.confirmed, report.rejected, report.pending) == (8, 2, 0)


def _halving_calls(batch: list[str], poison: set[str]) -> int:
    """Calls that splitting a refused batch in halves takes to isolate ``poison``."""
    if not poison & set(batch) or len(batch) == 1:
        return 1
    middle = len(batch) // 2
    return 1 + _halving_calls(batch[:middle], poison) + _halving_calls(batch[middle:], poison)


@pytest.mark.parametrize(
    ("size", "poison"),
    [(16, {"c00005"}), (16, {"c00000", "c00015"}), (13, {"c00006"}), (8, {"c00001", "c00002", "c00003"})],
)
def test_a_refused_batch_is_halved_until_exactly_the_poison_keys_are_rejected(
    delivery: Delivery, size: int, poison: set[str]
) -> None:
    batch = keys("c", size)
    fake = delivery.destination(max_batch=size, poison=poison)
    report, sink = delivery.run(change_rows(("create", batch)), fake)

    assert {f.key for f in sink.failures} == poison
    assert all(not f.retryable and f.code == "VALIDATION_ERROR" for f in sink.failures)
    assert sorted(sink.confirmed_keys) == sorted(set(batch) - poison)
    assert len(fake.calls) == _halving_calls(batch, poison) == report.api_calls
    assert (report.sent, report.retries) == (size, 0)


def test_one_poison_key_in_sixteen_costs_one_call_plus_two_per_halving(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=16, poison={"c00009"})
    delivery.run(change_rows(("create", keys("c", 16))), fake)
    assert len(fake.calls) == 1 + 2 * 4


def test_transient_errors_are_retried_with_backoff_then_succeed(delivery: Delivery) -> None:
    fake = delivery.destination(faults=[TransientError("503 Service Unavailable"), TransientError("timed out")])
    report, sink = delivery.run(change_rows(("create", keys("c", 5))), fake)

    assert sorted(sink.confirmed_keys) == keys("c", 5) and not sink.failures
    assert [c.outcome for c in fake.calls] == ["TransientError", "TransientError", "answered"]
    assert (report.api_calls, report.retries, report.sent) == (3, 2, 5)
    assert 0 < report.waited_s <= 0.5 + 1.0  # jittered: at most base * 2**(attempt - 1) per attempt
    assert report.waited_s == pytest.approx(sum(delivery.sleeps))
    assert fake.calls[2].at - fake.calls[0].at == pytest.approx(report.waited_s)


def test_an_exhausted_retry_budget_leaves_the_rows_pending_as_retryable_failures(delivery: Delivery) -> None:
    fake = delivery.destination(faults=[TransientError("503", code="SERVICE_UNAVAILABLE")] * 3)
    report, sink = delivery.run(change_rows(("create", keys("c", 4))), fake, policy=RetryPolicy(max_attempts=3))

    assert len(fake.calls) == 3 and not sink.confirmed_batches
    assert {f.key for f in sink.failures} == set(keys("c", 4))
    assert all(f.retryable and f.code == "SERVICE_UNAVAILABLE" and f.message == "503" for f in sink.failures)
    assert (report.confirmed, report.rejected, report.pending) == (0, 0, 4)


def test_an_unexpected_connector_exception_is_retried_then_reported_without_a_traceback(delivery: Delivery) -> None:
    fake = delivery.destination(faults=[KeyError("properties")] * 2)
    report, sink = delivery.run(change_rows(("create", keys("c", 3))), fake, policy=RetryPolicy(max_attempts=2))

    assert {f.key for f in sink.failures} == set(keys("c", 3))
    assert {(f.code, f.message, f.retryable) for f in sink.failures} == {
        ("CONNECTOR_ERROR", "KeyError: 'properties'", True)
    }
    assert all(type(f.code) is str for f in sink.failures)  # plain text for any state store to bind
    assert report.pending == 3

    recovered = delivery.destination(faults=[ValueError("bad JSON in reply")])
    report, sink = delivery.run(change_rows(("create", keys("c", 3))), recovered)
    assert sorted(sink.confirmed_keys) == keys("c", 3) and report.retries == 1


class _ShortReplies(FakeDestination):
    """Breaks the one-result-per-record contract: answers one result fewer than it was sent."""

    def write(self, op: Operation, records: list[WriteRecord]) -> BatchResult:  # type: ignore[override]
        result = super().write(op, records)
        return BatchResult(result.results[:-1], result.calls, result.rate)


def test_a_reply_with_the_wrong_number_of_results_fails_the_batch_as_a_connector_error(delivery: Delivery) -> None:
    fake = _ShortReplies(clock=delivery.clock)
    report, sink = delivery.run(change_rows(("create", keys("c", 3))), fake, policy=RetryPolicy(max_attempts=2))
    assert not sink.confirmed_batches and report.pending == 3 and len(fake.calls) == 2
    assert sink.failures[0].message == "BrokenReplyError: the connector answered 2 results for 3 records"


def test_rate_limits_wait_for_retry_after_or_a_window_and_never_use_up_attempts(delivery: Delivery) -> None:
    fake = delivery.destination(
        rate=RatePolicy(requests=100, window_s=10.0),
        faults=[RateLimitedError("slow down", retry_after=7.0), RateLimitedError("slow down")],
    )
    report, sink = delivery.run(change_rows(("create", keys("c", 5))), fake, policy=RetryPolicy(max_attempts=1))

    assert sorted(sink.confirmed_keys) == keys("c", 5)
    assert delivery.sleeps == [7.0, 10.0]  # Retry-After, then the policy's window when the vendor did not say
    assert [call.at - fake.calls[0].at for call in fake.calls] == [0.0, 7.0, 17.0]
    assert (report.rate_limited, report.retries, report.waited_s, report.api_calls) == (2, 2, 17.0, 3)


def test_waits_beyond_max_wait_leave_the_rest_pending(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=2, faults=[RateLimitedError("slow down", retry_after=600.0)] * 2)
    report, sink = delivery.run(change_rows(("create", keys("c", 6)), ("update", keys("u", 2))), fake)

    assert report.stopped == "rate limit waits exceeded 900 s; the rest is left for the next run"
    assert report.waited_s == 600.0 and len(fake.calls) == 2
    assert (report.confirmed, report.pending) == (0, 8) and not sink.failures


def test_retryable_records_go_again_in_a_later_smaller_batch(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=4, retryable={"c00001": 2, "c00006": 1})
    report, sink = delivery.run(change_rows(("create", keys("c", 8))), fake)

    assert sorted(sink.confirmed_keys) == keys("c", 8) and not sink.failures
    assert [call.keys for call in fake.calls[2:]] == [("c00001", "c00006"), ("c00001",)]
    assert (report.sent, report.retries, report.api_calls) == (8, 2, 4)


def test_records_still_retryable_after_the_attempts_are_pending_failures(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=4, retryable={"c00002": 3})
    report, sink = delivery.run(change_rows(("create", keys("c", 4))), fake, policy=RetryPolicy(max_attempts=3))

    assert fake.sent_keys().count("c00002") == 3
    (failure,) = sink.failures
    assert (failure.key, failure.code, failure.retryable) == ("c00002", "UNABLE_TO_LOCK_ROW", True)
    assert (report.confirmed, report.rejected, report.pending) == (3, 0, 1)


def test_a_stopped_destination_gets_nothing_more_and_its_rows_stay_pending(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=10, stop_after=3)
    report, sink = delivery.run(change_rows(("create", keys("c", 50)), ("update", keys("u", 5))), fake)

    assert len(fake.calls) == 4 and fake.calls[-1].outcome == "DestinationStoppedError"
    assert report.stopped == "the daily API allowance is spent"
    assert (report.confirmed, report.pending, report.sent) == (30, 25, 40)
    assert not sink.failures  # pending, not failed: nothing was wrong with the rows


def test_the_daily_allowance_a_reply_reports_stops_sending_before_the_vendor_refuses(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=10, daily=3)
    report, _ = delivery.run(change_rows(("create", keys("c", 50))), fake)

    assert len(fake.calls) == 3 and all(call.outcome == "answered" for call in fake.calls)
    assert report.stopped == "the daily API allowance of 3 requests is spent; the rest is left for the next run"
    assert (report.confirmed, report.pending) == (30, 20)


def test_skipped_keys_are_not_sent(delivery: Delivery) -> None:
    parked = {"c00000", "c00004", "c00010", "u00001"}
    fake = delivery.destination(max_batch=5)
    report, sink = delivery.run(change_rows(("create", keys("c", 11)), ("update", keys("u", 3))), fake, skip=parked)

    assert not parked & set(fake.sent_keys()) and not parked & set(sink.confirmed_keys)
    assert len(fake.answered_calls(Operation.CREATE)) == math.ceil(8 / 5)
    assert (report.sent, report.confirmed, report.pending) == (10, 10, 0)


def test_the_bulk_batch_size_is_used_once_an_operation_reaches_the_threshold(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=10, bulk_threshold=50, bulk_batch=25)
    delivery.run(change_rows(("create", keys("c", 60)), ("update", keys("u", 20))), fake)

    assert [len(call.keys) for call in fake.answered_calls(Operation.CREATE)] == [25, 25, 10]
    assert [len(call.keys) for call in fake.answered_calls(Operation.UPDATE)] == [10, 10]


def test_concurrent_requests_hand_every_result_to_the_sink_once_on_the_callers_thread(delivery: Delivery) -> None:
    fake = delivery.destination(
        max_batch=5,
        rate=RatePolicy(requests=1_000, window_s=10.0, concurrency=4),
        rendezvous=4,
        rejected={"c00042": ("INVALID", "no")},
    )
    report, sink = delivery.run(change_rows(("create", keys("c", 200))), fake)

    assert len({call.thread for call in fake.calls[:4]}) == 4  # the first four met at a barrier: all in flight
    assert sink.threads == {threading.get_ident()}
    assert sorted(sink.confirmed_keys) == sorted(set(keys("c", 200)) - {"c00042"})  # each once
    assert [f.key for f in sink.failures] == ["c00042"]
    assert (report.sent, report.confirmed, report.rejected, report.api_calls) == (200, 199, 1, 40)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_crash_in_the_sink_keeps_exactly_the_batches_it_had_accepted(delivery: Delivery, concurrency: int) -> None:
    fake = delivery.destination(max_batch=10, rate=RatePolicy(requests=1_000, window_s=10.0, concurrency=concurrency))
    sink = RecordingSink(fail_on=3)
    with pytest.raises(RuntimeError, match="the state store went away"):
        delivery.run(change_rows(("create", keys("c", 100))), fake, sink=sink)

    committed = sink.confirmed_keys
    assert len(sink.confirmed_batches) == 2 and len(committed) == 20
    assert set(committed) <= set(fake.stored)  # committed only what the destination confirmed
    assert len(fake.calls) <= 3 + concurrency  # what was in flight when the sink failed, no more
    assert len(fake.stored) > len(committed)  # the batch the sink failed on was written: it is re-sent next run


def test_a_stop_while_others_are_in_flight_still_settles_their_replies(delivery: Delivery) -> None:
    fake = delivery.destination(
        max_batch=5,
        rate=RatePolicy(requests=1_000, window_s=10.0, concurrency=3),
        rendezvous=3,
        faults=[DestinationStoppedError("token revoked")],
    )
    report, sink = delivery.run(change_rows(("create", keys("c", 40))), fake)

    # Calls that were sent before the stop's reply was read (at least the two beside it) are settled normally.
    answered = fake.answered_calls()
    assert report.stopped == "token revoked" and len(answered) == len(fake.calls) - 1 >= 2
    assert sorted(sink.confirmed_keys) == sorted(key for call in answered for key in call.keys)
    assert report.confirmed + report.pending == 40 and not sink.failures


def test_progress_counts_every_settled_record(delivery: Delivery) -> None:
    seen: list[int] = []
    fake = delivery.destination(max_batch=4, rejected={"c00001": ("X", "no")}, retryable={"c00002": 9})
    report, _ = delivery.run(
        change_rows(("create", keys("c", 10))), fake, progress=seen.append, policy=RetryPolicy(max_attempts=2)
    )
    assert sum(seen) == report.confirmed + report.rejected + report.pending == 10


def test_new_batches_wait_while_one_backs_off_so_an_outage_does_not_use_up_every_batchs_attempts(
    delivery: Delivery,
) -> None:
    fake = delivery.destination(max_batch=2, faults=[TransientError("503")] * 2)
    report, sink = delivery.run(change_rows(("create", keys("c", 6))), fake, policy=RetryPolicy(max_attempts=3))

    assert [call.keys[0] for call in fake.calls] == ["c00000", "c00000", "c00000", "c00002", "c00004"]
    assert sorted(sink.confirmed_keys) == keys("c", 6) and report.retries == 2


def test_a_stop_request_sends_no_new_batch_and_leaves_the_rest_pending(delivery: Delivery) -> None:
    fake = delivery.destination(max_batch=10)
    asked = iter([False, False, False] + [True] * 100)
    report, sink = delivery.run(change_rows(("create", keys("c", 50))), fake, stop=lambda: next(asked))

    assert 1 <= len(fake.calls) < 5  # the request came before the fifth batch was taken
    assert report.stopped is not None and report.stopped.startswith("stopped on request")
    assert report.confirmed == 10 * len(fake.calls) == len(sink.confirmed_keys)
    assert report.pending == 50 - report.confirmed
