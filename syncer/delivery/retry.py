"""One retry policy for every vendor call syncer makes: field batches, task creation and alert posts alike.

How the failure of one attempt is met (the classes of :mod:`syncer.contract.errors`)::

    RateLimitedError      wait what the vendor asked (``retry_after``: Retry-After, or a window a connector's error
                          table read from the vendor's headers) and try again; never counted as a failed attempt
    TransientError        back off with jitter and try again, at most ``max_attempts`` attempts; only for a unit
                          that is safe to run again after a failure whose effect is unknown (a field upsert, a task
                          batch that looks its keys up before it creates)
    anything else         not retried: raised to the caller

Every wait of one connector in one run is taken from its :class:`Patience` (``max_wait_s``): a wait that would go
past it is not taken, the error that asked for it is raised, and the caller leaves the rest for the next run.
Nothing here reads the wall clock or sleeps on its own: the sleep is injected, so tests run on a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity
from tenacity import RetryCallState, Retrying

from syncer.contract.errors import (
    BatchRejectedError,
    DestinationStoppedError,
    RateLimitedError,
    TransientError,
)

T = TypeVar("T")


class Patience:
    """The waiting one run may do for one connector, and the sleep that does it.

    Once a wait has been refused, every later one is too: a caller that gave up leaves the others no reason to try.
    Not thread-safe: it is used from the thread that runs the delivery.
    """

    def __init__(self, max_wait_s: float, sleep: Callable[[float], None]) -> None:
        self.max_wait_s = max_wait_s
        self._sleep = sleep
        self.waited_s = 0.0
        self.exhausted = False

    def allows(self, seconds: float) -> bool:
        """Whether ``seconds`` more of waiting fit; a refusal is remembered (see the class docstring)."""
        if not self.exhausted and self.waited_s + seconds > self.max_wait_s:
            self.exhausted = True
        return not self.exhausted

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (already allowed) and count them."""
        if seconds > 0:
            self._sleep(seconds)
            self.waited_s += seconds


@dataclass(frozen=True)
class RetryPolicy:
    """The retry policy as a value (see the module docstring); the same for every connector and effect kind."""

    max_attempts: int = 5  # attempts per unit for transient failures (rate-limit waits do not count)
    backoff_base_s: float = 0.5  # exponential backoff with jitter
    backoff_max_s: float = 30.0
    max_wait_s: float = 900.0  # total time a run may spend waiting on one connector before leaving the rest pending

    def retrying(self) -> Retrying:
        """The tenacity controller of transient failures, for a caller that runs its own loop (the executor keeps
        many batches in flight and asks it, batch by batch, whether and when to try again)."""
        return Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._backoff_wait(),
            retry=tenacity.retry_if_exception(may_pass),
        )

    def backoff(self, attempt: int) -> float:
        """The jittered wait after the ``attempt``-th transient failure of a unit."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = attempt
        return float(self._backoff_wait()(state))

    @staticmethod
    def rate_limit_wait(error: RateLimitedError, default_s: float) -> float:
        """How long a rate limit asks to wait: the vendor's ``retry_after``, or ``default_s`` (its window)."""
        if error.retry_after is not None and error.retry_after > 0:
            return error.retry_after
        return default_s

    def call(
        self,
        unit: Callable[[], T],
        patience: Patience,
        *,
        transient: bool,
        rate_limit_wait: Callable[[RateLimitedError], float] | None = None,
    ) -> T:
        """Run ``unit`` until it returns, retrying as the module docstring says, within ``patience``.

        ``transient``: the unit is safe to run again after a transient failure. ``rate_limit_wait``: how long to wait
        after a rate limit (default: :meth:`rate_limit_wait` with the backoff as the default); a caller whose limiter
        already holds the calls for the vendor's wait passes ``lambda _: 0.0``. Raises the last error when it gives
        up (attempts used up, or a wait the patience refuses).
        """
        transient_failures = 0

        def count(state: RetryCallState) -> None:
            nonlocal transient_failures
            if state.outcome is not None and isinstance(state.outcome.exception(), TransientError):
                transient_failures += 1

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            if isinstance(error, RateLimitedError):
                if rate_limit_wait is not None:
                    return rate_limit_wait(error)
                return self.rate_limit_wait(error, self.backoff(1))
            return self.backoff(transient_failures)

        def stop(state: RetryCallState) -> bool:
            return transient_failures >= self.max_attempts or not patience.allows(state.upcoming_sleep)

        def retried(error: BaseException) -> bool:
            return isinstance(error, RateLimitedError) or (transient and isinstance(error, TransientError))

        retrying = Retrying(
            sleep=patience.sleep,
            retry=tenacity.retry_if_exception(retried),
            after=count,
            wait=wait,
            stop=stop,
            reraise=True,
        )
        return retrying(unit)

    def _backoff_wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_random_exponential(multiplier=self.backoff_base_s, max=self.backoff_max_s)


def may_pass(error: BaseException) -> bool:
    """Whether a failure may pass on a transient retry: anything but the errors met in their own way (a rate limit
    is waited out, a refused batch is split, a stopped destination is left alone)."""
    return not isinstance(error, RateLimitedError | BatchRejectedError | DestinationStoppedError)
