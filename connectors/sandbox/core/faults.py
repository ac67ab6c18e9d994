"""Deterministic fault injection for the sandbox emulators.

A :class:`FaultRule` names a route pattern (``fnmatch`` over ``"METHOD /path"``) and the probability of each fault.
Every decision is drawn from a generator seeded with ``(seed, rule, n)`` where ``n`` counts the requests the rule has
seen, so a test that sends the same requests in the same order sees the same faults, whatever else runs concurrently.

Faults, in the order they are considered:

- ``unauthorized_after``: from the rule's ``n``-th request on (0: every one), the vendor's answer to credentials it
  no longer accepts (a token revoked mid-run). Not drawn: it holds until the rules change.
- ``latency_ms``: added delay before the request is handled.
- ``timeout_rate``: the request hangs for ``timeout_seconds`` and the connection is then closed with no reply.
- ``drop_rate``: the connection closes before the request is handled (nothing was written).
- ``error_rate``: the vendor's 5xx reply with ``error_status`` (nothing was written).
- ``ratelimit_rate``: the vendor's own rate-limit reply (a "rate-limit storm" at high rates).
- ``lost_response_rate``: the request is handled (the write happens) and the reply never arrives.
- ``reject_rate``: consulted by the vendor per record inside a batch; a hit rejects that record with a vendor error.

``max_faults`` caps how many request faults a rule injects (``-1``: no cap), turning a rate into a burst: with
``error_rate=1.0, max_faults=3`` the first three matching requests fail and the rest pass.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    """What the sandbox does to one request instead of (or besides) answering it normally."""

    NONE = "none"
    TIMEOUT = "timeout"
    DROP = "drop"
    SERVER_ERROR = "server_error"
    RATE_LIMIT = "rate_limit"
    LOST_RESPONSE = "lost_response"
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True)
class FaultRule:
    """Fault probabilities for the requests whose ``"METHOD /path"`` matches ``route`` (fnmatch syntax)."""

    route: str = "*"
    latency_ms: int = 0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    ratelimit_rate: float = 0.0
    lost_response_rate: float = 0.0
    reject_rate: float = 0.0
    max_faults: int = -1
    unauthorized_after: int = -1

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(f"{method} {path}", self.route)


@dataclass(frozen=True)
class FaultDecision:
    """The faults chosen for one request."""

    fault: Fault = Fault.NONE
    latency_ms: int = 0
    timeout_seconds: float = 0.0
    error_status: int = 503
    rule: FaultRule | None = None


@dataclass
class FaultInjector:
    """Holds the active rules and draws deterministic decisions from them. Thread-safe."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    _counters: dict[tuple[int, str], int] = field(default_factory=dict)
    _injected: dict[int, int] = field(default_factory=dict)  # request faults injected per rule (for max_faults)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, rules: list[FaultRule], seed: int | None = None) -> None:
        """Replace the rules (and optionally the seed); the draw sequence starts again."""
        with self._lock:
            self.rules = list(rules)
            if seed is not None:
                self.seed = seed
            self._counters.clear()
            self._injected.clear()

    def clear(self) -> None:
        self.configure([])

    def _draw(self, index: int, rule: FaultRule, stream: str) -> tuple[int, random.Random]:
        """How many requests (or records) of ``stream`` the rule saw before this one, and this one's generator."""
        key = (index, stream)
        with self._lock:
            n = self._counters.get(key, 0)
            self._counters[key] = n + 1
        return n, random.Random(f"{self.seed}:{index}:{rule.route}:{stream}:{n}")

    def _rule_for(self, method: str, path: str) -> tuple[int, FaultRule] | None:
        for index, rule in enumerate(self.rules):
            if rule.matches(method, path):
                return index, rule
        return None

    def decide(self, method: str, path: str) -> FaultDecision:
        """Choose what happens to one request; the first matching rule applies."""
        found = self._rule_for(method, path)
        if found is None:
            return FaultDecision()
        index, rule = found
        n, rng = self._draw(index, rule, "request")
        draws = [
            (Fault.TIMEOUT, rule.timeout_rate),
            (Fault.DROP, rule.drop_rate),
            (Fault.SERVER_ERROR, rule.error_rate),
            (Fault.RATE_LIMIT, rule.ratelimit_rate),
            (Fault.LOST_RESPONSE, rule.lost_response_rate),
        ]
        chosen = Fault.NONE
        for fault, rate in draws:
            # Always draw, so one fault's rate does not shift the sequence of another's.
            hit = rng.random() < rate
            if hit and chosen is Fault.NONE:
                chosen = fault
        if 0 <= rule.unauthorized_after <= n:
            chosen = Fault.UNAUTHORIZED
        elif chosen is not Fault.NONE and rule.max_faults >= 0:
            with self._lock:
                injected = self._injected.get(index, 0)
                if injected >= rule.max_faults:
                    chosen = Fault.NONE  # the burst is over
                else:
                    self._injected[index] = injected + 1
        return FaultDecision(chosen, rule.latency_ms, rule.timeout_seconds, rule.error_status, rule)

    def reject_record(self, method: str, path: str) -> bool:
        """Whether to reject the next record of a batch sent to ``method path`` (drawn per record)."""
        found = self._rule_for(method, path)
        if found is None or found[1].reject_rate <= 0:
            return False
        index, rule = found
        return self._draw(index, rule, "record")[1].random() < rule.reject_rate
