"""The limiter on its own, and the executor's request timeline against a vendor window the fake enforces."""

from __future__ import annotations

import math

import pytest

from syncer.contract.destination import RateInfo, RatePolicy
from syncer.delivery.limiter import Limiter
from tests.delivery.conftest import Delivery
from tests.delivery.fake_destination import Call
from tests.delivery.plans import change_rows, keys
from tests.fakes import FakeClock


def test_the_window_rolls_request_by_request_instead_of_refilling_at_an_average_rate() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=3, window_s=10.0), clock)
    for _ in range(3):
        assert limiter.delay() == 0.0
        limiter.finish(limiter.start(), None)  # answered at once
        clock.advance(1.0)
    assert limiter.delay() == pytest.approx(7.0)  # the request at 0 leaves the window at 10
    clock.advance(7.0)
    assert limiter.delay() == 0.0
    limiter.finish(limiter.start(), None)
    assert limiter.delay() == pytest.approx(1.0)  # then the one at 1 leaves it at 11


def test_a_request_counts_in_the_window_from_its_reply_and_while_in_flight_as_now() -> None:
    # The vendor counts a request when it arrives, somewhere between our start and its reply: counting from the
    # reply never lets our window empty before the vendor's does.
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=2, window_s=10.0), clock)
    first = limiter.start()
    clock.advance(3.0)
    limiter.finish(first, None)  # started at 0, answered at 3
    slow = limiter.start()  # started at 3, still in flight
    clock.advance(9.0)  # 12: counted from its start, the first would have left at 10
    assert limiter.delay() == pytest.approx(1.0)  # it leaves 10 s after its reply, at 13
    clock.advance(1.0)
    assert limiter.delay() == 0.0
    limiter.finish(slow, None)  # answered at 13
    limiter.start()
    assert limiter.delay() == pytest.approx(10.0)  # the slow one counts from 13, the new one as now


def test_a_low_remaining_count_makes_it_wait_for_the_vendors_window() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=100, window_s=10.0), clock)
    limiter.finish(limiter.start(), RateInfo(remaining=2, interval_s=5.0))
    limiter.start()
    assert limiter.delay() == 0.0
    limiter.start()
    assert limiter.delay() == pytest.approx(5.0)  # other apps used the rest: wait for the reply's window to roll
    clock.advance(5.0)
    assert limiter.delay() == 0.0


def test_when_our_own_requests_spent_the_vendors_count_the_wait_is_for_our_oldest_to_leave_the_window() -> None:
    # Requests take time: ten of them over 4.5 s, each answered with what remains. When the last reply says 0
    # remain, our own ten explain it, so a slot frees when the request at 0 leaves the window (at 10), not a full
    # window after the reply (at 14.5), which would waste almost half of every window.
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=10, window_s=10.0), clock)
    for remaining in range(9, -1, -1):
        assert limiter.delay() == 0.0
        limiter.finish(limiter.start(), RateInfo(remaining=remaining, limit=10, interval_s=10.0))
        clock.advance(0.5)
    assert limiter.delay() == pytest.approx(10.0 - 5.0)
    clock.advance(5.0)
    assert limiter.delay() == 0.0


def test_when_other_apps_use_part_of_the_window_ours_shrinks_by_their_share() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=10, window_s=10.0), clock)
    for remaining in (4, 3, 2, 1, 0):  # five of ours, and the vendor says nothing is left: others hold five
        limiter.finish(limiter.start(), RateInfo(remaining=remaining, limit=10, interval_s=10.0))
        clock.advance(0.5)
    assert limiter.delay() == pytest.approx(10.0 - 2.5)  # our five are our share: the first (answered at 0) leaves
    clock.advance(7.5)  # at 10, then one of ours may go
    assert limiter.delay() == 0.0
    limiter.start()
    assert limiter.delay() > 0.0


def test_requests_in_flight_do_not_hide_what_an_earlier_run_left_in_the_vendors_window() -> None:
    # A run starts while three requests of an earlier run are still in the vendor's window of ten. It starts four;
    # when the vendor answers the first it has counted only that one of ours (the rest are on their way), so six
    # remain. Ours are then seven at most: taking the three in flight off as if counted would allow ten, three 429s.
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=10, window_s=10.0), clock)
    first, *_ = [limiter.start() for _ in range(4)]
    clock.advance(0.1)
    limiter.finish(first, RateInfo(remaining=6, limit=10, interval_s=10.0))
    started = 4
    while limiter.delay() == 0.0:
        limiter.start()
        started += 1
    assert started == 7


def test_without_the_windows_size_a_spent_count_waits_a_full_window_from_the_reply() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=10, window_s=10.0), clock)
    for remaining in (4, 3, 2, 1, 0):
        limiter.finish(limiter.start(), RateInfo(remaining=remaining, interval_s=10.0))
        clock.advance(0.5)
    assert limiter.delay() == pytest.approx(10.0 - 0.5)  # the last reply came at 2.0: wait until 12.0


def test_requests_in_flight_are_taken_off_what_a_reply_says_remains_and_stale_replies_are_ignored() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=100, window_s=10.0), clock)
    first, second, third = limiter.start(), limiter.start(), limiter.start()
    limiter.finish(second, RateInfo(remaining=2))  # the first and third may not be counted yet
    assert limiter.delay() == pytest.approx(10.0)  # no interval given: the policy's window
    limiter.finish(first, RateInfo(remaining=90))  # older than the reply already seen
    assert limiter.delay() == pytest.approx(10.0)
    limiter.finish(third, None)
    assert limiter.delay() == pytest.approx(10.0)


def test_a_hold_delays_every_request() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=100, window_s=10.0), clock)
    limiter.hold(4.0)
    limiter.hold(2.0)  # a shorter wait does not shorten a longer one
    assert limiter.delay() == pytest.approx(4.0)


def test_the_daily_allowance_comes_from_the_policy_until_a_reply_reports_it() -> None:
    clock = FakeClock(now=0.0)
    limiter = Limiter(RatePolicy(requests=100, window_s=10.0, daily=2), clock)
    limiter.finish(limiter.start(), None)
    assert limiter.spent is None
    limiter.finish(limiter.start(), None)
    assert limiter.spent == "the daily API allowance of 2 requests is spent; the rest is left for the next run"

    reported = Limiter(RatePolicy(requests=100, window_s=10.0), clock)
    reported.finish(reported.start(), RateInfo(daily_remaining=1, daily_limit=500_000))
    assert reported.spent is None
    reported.start()
    assert reported.spent is not None and "500000" in reported.spent


def test_a_policy_without_room_for_a_request_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        Limiter(RatePolicy(requests=0, window_s=10.0), FakeClock())


def _most_in_any_window(calls: list[Call], window_s: float) -> int:
    starts = [call.at for call in calls]
    return max(sum(1 for other in starts if start - window_s < other <= start) for start in starts)


@pytest.mark.parametrize(
    ("requests", "window_s", "batches", "concurrency"), [(100, 10.0, 300, 4), (10, 1.0, 55, 1), (190, 10.0, 950, 2)]
)
def test_requests_stay_within_the_window_and_use_at_least_ninety_percent_of_it(
    delivery: Delivery, requests: int, window_s: float, batches: int, concurrency: int
) -> None:
    fake = delivery.destination(
        max_batch=2,
        window=(requests, window_s),
        rate=RatePolicy(requests=requests, window_s=window_s, concurrency=concurrency),
    )
    report, _ = delivery.run(change_rows(("create", keys("c", 2 * batches))), fake)

    assert report.rate_limited == 0 and report.confirmed == 2 * batches
    assert _most_in_any_window(fake.calls, window_s) <= requests
    elapsed = fake.calls[-1].at - fake.calls[0].at
    assert elapsed >= (math.ceil(batches / requests) - 1) * window_s
    assert batches / (elapsed + window_s) >= 0.9 * requests / window_s
    assert report.waited_s == pytest.approx(elapsed)


def test_other_apps_sharing_the_allowance_slow_it_down_before_any_429(delivery: Delivery) -> None:
    # The vendor counts 60 requests another app made; the policy alone would send 100 at once and meet a 429.
    fake = delivery.destination(
        max_batch=1, window=(100, 10.0), other_usage=60, rate=RatePolicy(requests=100, window_s=10.0, concurrency=1)
    )
    report, _ = delivery.run(change_rows(("create", keys("c", 150))), fake)

    assert report.rate_limited == 0 and report.confirmed == 150
    start = fake.calls[0].at
    assert [round(call.at - start) for call in fake.calls] == [0] * 40 + [10] * 100 + [20] * 10


def test_a_falling_remaining_count_pauses_until_the_window_has_rolled(delivery: Delivery) -> None:
    fake = delivery.destination(
        max_batch=1, remaining=[5, 4, 3, 2, 1, 0], rate=RatePolicy(requests=100, window_s=10.0, concurrency=1)
    )
    report, _ = delivery.run(change_rows(("create", keys("c", 8))), fake)

    start = fake.calls[0].at
    assert [call.at - start for call in fake.calls] == [0.0] * 6 + [10.0, 10.0]
    assert report.rate_limited == 0 and delivery.sleeps == [10.0]
