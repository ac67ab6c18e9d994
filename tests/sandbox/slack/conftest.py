"""Fixtures: a Slack emulator served over real HTTP on 127.0.0.1, and slack_sdk clients pointed at it.

Time is fake: ``clock`` drives every rate-limit window (advance it instead of sleeping) and ``wall_clock`` stamps
message ``ts`` values and fixes "today" for time-zone offsets (15 January 2026, so US zones are on standard time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk import WebClient

from connectors.sandbox.core.server import EmulatorServer
from connectors.slack.sandbox import SlackEmulator, SlackLimits
from tests.fakes import FakeClock

TOKEN = "xoxb-sandbox-test"
USER_TOKEN = "xoxp-sandbox-test-user"
ROTATED_TOKEN = "xoxe.xoxb-1-sandbox-test-rotated"
TOKENS = (TOKEN, USER_TOKEN, ROTATED_TOKEN)  # what the workspace issued, unless a test says otherwise
JAN_15_2026 = 1_768_478_400.0  # 2026-01-15T12:00:00Z


@dataclass
class Sandbox:
    """One served emulator, its clocks and an SDK client (no retry handlers unless a test adds them)."""

    emulator: SlackEmulator
    server: EmulatorServer
    clock: FakeClock
    wall_clock: FakeClock
    clients: list[WebClient] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.url + "/api/"

    def last_request_body(self) -> str:
        """The body of the latest logged request (the log is written before the reply's last byte is sent)."""
        return self.emulator.log.entries()[-1].body

    def client(self, token: str | None = TOKEN, **kwargs: Any) -> WebClient:
        kwargs.setdefault("retry_handlers", [])
        kwargs.setdefault("timeout", 5)
        client = WebClient(token=token, base_url=self.base_url, **kwargs)
        self.clients.append(client)
        return client


SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def make_sandbox() -> Iterator[SandboxFactory]:
    """Start emulators on demand (``make_sandbox(limits=SlackLimits(...), tokens=...)``); all stop at teardown."""
    servers: list[EmulatorServer] = []

    def make(limits: SlackLimits | None = None, **kwargs: Any) -> Sandbox:
        clock, wall_clock = FakeClock(), FakeClock(JAN_15_2026)
        kwargs.setdefault("tokens", TOKENS)
        emulator = SlackEmulator(limits, clock=clock, wall_clock=wall_clock, **kwargs)
        server = EmulatorServer(emulator).start()
        servers.append(server)
        return Sandbox(emulator, server, clock, wall_clock)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    """An emulator with Slack's default limits."""
    return make_sandbox()


@pytest.fixture
def client(sandbox: Sandbox) -> WebClient:
    return sandbox.client()
