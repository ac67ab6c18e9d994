"""The one retry policy (:mod:`syncer.delivery.retry`): what it retries, how long it waits, when it gives up.

Units are plain functions that fail as scripted; waits run on a fake clock through the patience's injected sleep."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest

from syncer.contract.errors import (
    BatchRejectedError,
    DeliveryError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)
from syncer.delivery.retry import Patience, RetryPolicy
from tests.fakes import FakeClock


def scripted(*failures: DeliveryError) -> tuple[Callable[[], str], list[float]]:
    """A unit that raises ``failures`` in turn, then answers ``"done"``; and the fake times it was called at."""
    clock_times: list[float] = []
    left = list(failures)

    def unit() -> str:
        clock_times.append(CLOCK.now)
        if left:
            raise left.pop(0)
        return "done"

    return unit, clock_times


CLOCK = FakeClock()


@pytest.fixture(autouse=True)
def _fresh_clock() -> None:
    CLOCK.now = 1_000.0


def patience(max_wait_s: float = 900.0) -> Patience:
    return Patience(max_wait_s, CLOCK.advance)


def test_rate_limits_wait_what_the_vendor_asked_and_never_use_up_the_attempts() -> None:
    unit, times = scripted(*[RateLimitedError("429", retry_after=10.0) for _ in range(6)])
    waited = patience()
    assert RetryPolicy(max_attempts=2).call(unit, waited, transient=True) == "done"
    assert [t - times[0] for t in times] == [10.0 * i for i in range(7)]
    assert waited.waited_s == 60.0


def test_transient_failures_back_off_with_jitter_up_to_the_attempts_then_raise_the_last() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base_s=1.0, backoff_max_s=4.0)
    unit, times = scripted(TransientError("503 a"), TransientError("503 b"), TransientError("503 c"))
    with pytest.raises(TransientError, match="503 c"):
        policy.call(unit, patience(), transient=True)
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert all(0 <= gap <= 4.0 for gap in gaps)  # tenacity's random exponential: 0..min(2**n, max)


def test_rate_limits_between_transient_failures_do_not_count_as_attempts() -> None:
    failures = [
        TransientError("503"),
        RateLimitedError("429", 5.0),
        RateLimitedError("429", 5.0),
        TransientError("503"),
    ]
    unit, times = scripted(*failures)
    assert RetryPolicy(max_attempts=3, backoff_base_s=0.01).call(unit, patience(), transient=True) == "done"
    assert len(times) == 5


def test_a_unit_not_safe_to_repeat_meets_a_transient_failure_once() -> None:
    unit, times = scripted(TransientError("no reply"))
    with pytest.raises(TransientError):
        RetryPolicy().call(unit, patience(), transient=False)
    assert len(times) == 1


@pytest.mark.parametrize("error", [BatchRejectedError("400"), DestinationStoppedError("401")])
def test_refusals_and_stops_are_never_retried(error: DeliveryError) -> None:
    unit, times = scripted(error)
    with pytest.raises(type(error)):
        RetryPolicy().call(unit, patience(), transient=True)
    assert len(times) == 1


def test_a_wait_past_the_patience_is_not_taken_and_later_waits_are_refused_too() -> None:
    unit, times = scripted(*[RateLimitedError("429", retry_after=10.0) for _ in range(100)])
    waited = patience(35.0)
    with pytest.raises(RateLimitedError):
        RetryPolicy().call(unit, waited, transient=True)
    assert len(times) == 4 and waited.waited_s == 30.0  # 10 + 10 + 10; a fourth 10 would pass 35
    assert waited.exhausted and not waited.allows(0.0)
    again, more = scripted(TransientError("503"))
    with pytest.raises(TransientError):  # a spent patience gives up at the first failure
        RetryPolicy().call(again, waited, transient=True)
    assert len(more) == 1


def test_a_rate_limit_without_retry_after_waits_what_the_caller_says() -> None:
    unit, times = scripted(RateLimitedError("429"))
    RetryPolicy().call(unit, patience(), transient=True, rate_limit_wait=lambda error: 7.0)
    assert times[1] - times[0] == 7.0


def test_the_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_max_s=8.0)
    assert all(0 <= policy.backoff(n) <= min(2**n, 8.0) for n in range(1, 10) for _ in range(20))
    assert RetryPolicy.rate_limit_wait(RateLimitedError("429", 3.0), 10.0) == 3.0
    assert RetryPolicy.rate_limit_wait(RateLimitedError("429", 0.0), 10.0) == 10.0
    assert RetryPolicy.rate_limit_wait(RateLimitedError("429"), 10.0) == 10.0
