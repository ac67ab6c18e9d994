"""For any mix of destination behaviour, every key ends in exactly one of confirmed, rejected or pending."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.contract.destination import RatePolicy
from syncer.contract.errors import DestinationStoppedError, RateLimitedError, TransientError
from syncer.delivery.executor import RetryPolicy
from tests.delivery.conftest import Delivery
from tests.delivery.plans import change_rows, keys

# What the destination does with one key: confirm it, reject it, answer RETRYABLE n times, refuse its whole batch.
_BEHAVIOUR = st.one_of(
    st.just(("confirm", 0)),
    st.just(("reject", 0)),
    st.just(("poison", 0)),
    st.tuples(st.just("retryable"), st.integers(1, 4)),
)
_FAULTS = st.lists(
    st.sampled_from(
        [
            TransientError("503"),
            RateLimitedError("slow", retry_after=2.0),
            KeyError("sdk"),
            DestinationStoppedError("revoked"),
        ]
    ),
    max_size=4,
)


@settings(max_examples=120, deadline=None)
@given(
    behaviours=st.lists(_BEHAVIOUR, min_size=1, max_size=30),
    creates=st.integers(0, 30),
    max_batch=st.integers(1, 8),
    attempts=st.integers(1, 4),
    concurrency=st.integers(1, 3),
    faults=_FAULTS,
    stop_after=st.none() | st.integers(0, 12),
)
def test_every_key_ends_confirmed_rejected_or_pending_exactly_once(
    behaviours: list[tuple[str, int]],
    creates: int,
    max_batch: int,
    attempts: int,
    concurrency: int,
    faults: list[Exception],
    stop_after: int | None,
) -> None:
    names = keys("k", len(behaviours))
    created = names[: min(creates, len(names))]
    plan = change_rows(("create", created), ("update", names[len(created) :]))
    delivery = Delivery()
    fake = delivery.destination(
        max_batch=max_batch,
        rate=RatePolicy(requests=50, window_s=1.0, concurrency=concurrency),
        faults=faults,
        stop_after=stop_after,
        rejected={k: ("INVALID", "no") for k, (b, _) in zip(names, behaviours, strict=True) if b == "reject"},
        poison={k for k, (b, _) in zip(names, behaviours, strict=True) if b == "poison"},
        retryable={k: n for k, (b, n) in zip(names, behaviours, strict=True) if b == "retryable"},
    )
    report, sink = delivery.run(plan, fake, policy=RetryPolicy(max_attempts=attempts))

    confirmed = Counter(sink.confirmed_keys)
    failed = Counter(f.key for f in sink.failures)
    assert all(n == 1 for n in (confirmed + failed).values())  # nothing settled twice, or both ways
    rejected = {f.key for f in sink.failures if not f.retryable}
    pending = set(names) - set(confirmed) - rejected
    assert {f.key for f in sink.failures if f.retryable} <= pending
    assert (report.confirmed, report.rejected, report.pending) == (len(confirmed), len(rejected), len(pending))
    assert set(confirmed) <= set(fake.stored)  # confirmed only what the destination holds
    assert report.sent <= len(names)

    if report.stopped is None:  # every key had its full chance: the outcome follows from its behaviour alone
        for key, (behaviour, times) in zip(names, behaviours, strict=True):
            if key in failed and sink.failure(key).code in ("TRANSIENT", "CONNECTOR_ERROR"):
                continue  # its batch met more faults than it had attempts
            expected = {
                "confirm": "confirmed",
                "reject": "rejected",
                "poison": "rejected",
                "retryable": "confirmed" if times < attempts else "pending",
            }[behaviour]
            actual = "confirmed" if key in confirmed else "rejected" if key in rejected else "pending"
            assert actual == expected, (key, behaviour, times)
