"""Fixtures: Slack alert channels built by ``open_alert_channel``, against the session sandbox's Slack emulator, and
a private emulator on a fake clock for tests that need Slack's own rate limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from connectors.sandbox import Sandbox
from connectors.sandbox.core.server import EmulatorServer
from connectors.slack.channel import SlackAlertChannel, open_alert_channel
from connectors.slack.sandbox import DEMO_BOT_TOKEN, SlackEmulator, SlackLimits
from connectors.slack.settings import SlackSettings
from tests.fakes import FakeClock

TOKEN = DEMO_BOT_TOKEN  # one of the tokens the sandbox workspace issued
JAN_15_2026 = 1_768_478_400.0  # 2026-01-15T12:00:00Z

Open = Callable[..., SlackAlertChannel]


@dataclass
class LimitedSlack:
    """A private emulator, its clocks (``clock`` drives rate windows, ``wall_clock`` stamps ``ts``) and a channel."""

    emulator: SlackEmulator
    channel: SlackAlertChannel
    clock: FakeClock
    wall_clock: FakeClock


MakeLimited = Callable[[SlackLimits], LimitedSlack]


def settings_for(base_url: str, token: str = TOKEN) -> SlackSettings:
    return SlackSettings(type="slack", token=SecretStr(token), base_url=base_url)


@pytest.fixture
def slack(sandbox: Sandbox) -> SlackEmulator:
    return sandbox.slack


@pytest.fixture
def open_channel(sandbox: Sandbox) -> Open:
    """``open_channel(token=...)``: an alert channel on the session sandbox's Slack."""

    def build(token: str = TOKEN) -> SlackAlertChannel:
        return open_alert_channel(settings_for(sandbox.urls["slack"], token), timeout_s=5)

    return build


@pytest.fixture
def limited_slack() -> Iterator[MakeLimited]:
    """``limited_slack(limits)``: a private emulator whose rate windows run on a fake clock, and a channel to it."""
    servers: list[EmulatorServer] = []

    def make(limits: SlackLimits) -> LimitedSlack:
        clock, wall_clock = FakeClock(), FakeClock(JAN_15_2026)
        emulator = SlackEmulator(limits, clock=clock, wall_clock=wall_clock)
        server = EmulatorServer(emulator).start()
        servers.append(server)
        return LimitedSlack(
            emulator, open_alert_channel(settings_for(server.url + "/api/"), timeout_s=5), clock, wall_clock
        )

    yield make
    for server in servers:
        server.stop()
