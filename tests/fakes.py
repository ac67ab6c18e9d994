"""Fakes that run: a clock tests move by hand, so rate-limit windows pass without sleeping."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeClock:
    """Seconds that only move when a test says so (monotonic by default; give ``now`` an epoch for wall time)."""

    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
