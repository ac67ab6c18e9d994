"""The one pacer type (:mod:`syncer.delivery.pacer`): limiters per declared limit and scope, 429s held and waited
out, the run's patience, units retried under the policy. Requests are plain functions on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syncer.contract.destination import CallLimit, EffectLimits, RatePolicy
from syncer.contract.errors import DestinationStoppedError, RateLimitedError, TransientError
from syncer.delivery.pacer import Pacer
from syncer.delivery.retry import Patience, RetryPolicy
from tests.fakes import FakeClock

POSTS = CallLimit("post", RatePolicy(requests=1, window_s=1.0, concurrency=1), frozenset({"post"}), per_scope=True)
READS = CallLimit("portal", RatePolicy(requests=2, window_s=10.0, concurrency=1), frozenset({"read", "create"}))
LIMITS = EffectLimits((POSTS, READS), task_batch=100)


def pacer(clock: FakeClock, max_wait_s: float = 900.0, daily: int | None = None) -> Pacer:
    limits = (
        LIMITS
        if daily is None
        else EffectLimits(
            (CallLimit("portal", RatePolicy(requests=100, window_s=1.0, daily=daily), frozenset({"read"})),)
        )
    )
    return Pacer(limits, clock, Patience(max_wait_s, clock.advance), RetryPolicy(backoff_base_s=0.01))


def test_calls_sharing_a_limit_share_its_window_and_scoped_calls_get_one_each() -> None:
    clock = FakeClock()
    paced = pacer(clock)
    times: list[tuple[str, float]] = []

    def request(name: str) -> Callable[[], None]:
        return lambda: times.append((name, clock.now))

    for method, scope in [("read", ""), ("create", ""), ("read", ""), ("post", "C1"), ("post", "C2"), ("post", "C1")]:
        paced.call(method, scope, request(f"{method}{scope}"))
    start = times[0][1]
    assert [(name, at - start) for name, at in times] == [
        ("read", 0.0),
        ("create", 0.0),
        ("read", 10.0),  # the portal's two per 10 s count reads and creates together
        ("postC1", 10.0),
        ("postC2", 10.0),
        ("postC1", 11.0),
    ]  # one per second per channel
    assert paced.calls == 6 and paced.waited_s == 11.0


def test_a_429_holds_the_limiter_for_retry_after_and_the_same_request_goes_again() -> None:
    clock = FakeClock()
    paced = pacer(clock)
    answers: list[float] = []

    def post() -> str:
        answers.append(clock.now)
        if len(answers) <= 2:
            raise RateLimitedError("429", retry_after=30.0)
        return "ok"

    assert paced.call("post", "C1", post) == "ok"
    assert [t - answers[0] for t in answers] == [0.0, 30.0, 60.0]
    assert paced.rate_limited == 2
    paced.call("post", "C2", lambda: None)  # another channel's limiter was not held
    assert clock.now - answers[0] == 60.0


def test_a_429_without_retry_after_holds_for_the_limits_window() -> None:
    clock = FakeClock()
    paced = pacer(clock)
    answers: list[float] = []

    def read() -> None:
        answers.append(clock.now)
        if len(answers) == 1:
            raise RateLimitedError("429")

    paced.call("read", "", read)
    assert answers[1] - answers[0] == 10.0


def test_waits_past_the_patience_raise_a_rate_limit_and_send_nothing_more_that_must_wait() -> None:
    clock = FakeClock()
    paced = pacer(clock, max_wait_s=100.0)
    sent: list[float] = []

    def refused() -> None:
        sent.append(clock.now)
        raise RateLimitedError("429", retry_after=30.0)

    with pytest.raises(RateLimitedError):
        paced.call("post", "C1", refused)
    assert len(sent) == 4 and paced.waited_s == 90.0  # three holds of 30 s; a fourth would pass 100
    with pytest.raises(RateLimitedError, match="a run may wait"):
        paced.call("post", "C1", lambda: None)  # this channel's limiter still holds: its wait is refused
    paced.call("post", "C9", lambda: None)  # a call that needs no wait still goes


def test_a_spent_daily_allowance_stops_the_connector() -> None:
    clock = FakeClock()
    paced = pacer(clock, daily=2)
    paced.call("read", "", lambda: None)
    paced.call("read", "", lambda: None)
    with pytest.raises(DestinationStoppedError, match="daily"):
        paced.call("read", "", lambda: None)


def test_an_undeclared_call_is_a_bug_the_pacer_names() -> None:
    with pytest.raises(KeyError, match="delete"):
        pacer(FakeClock()).call("delete", "", lambda: None)


def test_a_unit_is_run_again_after_transient_failures_but_a_single_call_is_not() -> None:
    clock = FakeClock()
    paced = pacer(clock)
    runs: list[int] = []

    def unit() -> str:
        runs.append(1)
        paced.call("read", "", lambda: None)
        if len(runs) < 3:
            raise TransientError("503")
        return "created"

    assert paced.run(unit) == "created" and len(runs) == 3
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        raise TransientError("no reply")

    with pytest.raises(TransientError):
        paced.call("create", "", flaky)
    assert len(calls) == 1
