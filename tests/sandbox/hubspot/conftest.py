"""Fixtures: a HubSpot emulator on a fake clock, served over real HTTP, and SDK clients without retries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hubspot import HubSpot

from connectors.hubspot.sandbox import HubSpotEmulator, HubSpotLimits
from connectors.sandbox.core.server import EmulatorServer
from tests.fakes import FakeClock

TOKEN = "pat-sandbox-test"


@dataclass
class Sandbox:
    emulator: HubSpotEmulator
    server: EmulatorServer
    clock: FakeClock

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str = TOKEN) -> HubSpot:
        # retry=None leaves urllib3's defaults, which never retry POSTs anyway; a 0-retry Retry makes it explicit.
        from urllib3.util.retry import Retry

        return HubSpot(access_token=token, host=self.url, retry=Retry(total=0, status=0, read=0, connect=0))

    def raw(self, method: str, path: str, json: object = None, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.url + path, json=json, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[HubSpotEmulator, EmulatorServer, FakeClock]]:
    clock = FakeClock()
    emulator = HubSpotEmulator(clock=clock, limits=HubSpotLimits(ten_second_max=1_000))
    server = EmulatorServer(emulator).start()
    yield emulator, server, clock
    server.stop()


@pytest.fixture
def sandbox(_served: tuple[HubSpotEmulator, EmulatorServer, FakeClock]) -> Sandbox:
    """A fresh portal (seed data, no faults) on the shared server; limits are generous unless a test swaps them."""
    emulator, server, clock = _served
    emulator.limits = HubSpotLimits(ten_second_max=1_000)
    emulator.portal.limits = emulator.limits
    emulator.reset()
    clock.advance(100_000)
    return Sandbox(emulator, server, clock)


def use_limits(sandbox: Sandbox, limits: HubSpotLimits) -> None:
    """Swap the rate limits of the running emulator (tests of the limiter itself)."""
    sandbox.emulator.limits = limits
    sandbox.emulator.portal.limits = limits
    sandbox.emulator.reset()
