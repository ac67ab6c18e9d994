"""Rate limiting as Slack signals it (HTTP 429, Retry-After, ``ratelimited``), driven by a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from connectors.sandbox.core.faults import FaultRule
from connectors.sandbox.people import sample_reps
from connectors.slack.sandbox import PQL_ALERTS_ID, SlackLimits, Tier
from tests.fakes import FakeClock

from .conftest import Sandbox, SandboxFactory

DANA = sample_reps()[0]


def assert_ratelimited(excinfo: pytest.ExceptionInfo[SlackApiError], retry_after: int) -> None:
    response = excinfo.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.data == {"ok": False, "error": "ratelimited"}


RetrySleep = Callable[[FakeClock | None], list[float]]


@pytest.fixture
def retry_sleep(monkeypatch: pytest.MonkeyPatch) -> RetrySleep:
    """Replace RateLimitErrorRetryHandler's ``time.sleep``: record each wait and, given a clock, advance it instead
    of sleeping. Returns the list of waits."""

    def patch(clock: FakeClock | None) -> list[float]:
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            if clock is not None:
                clock.advance(seconds)

        monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=sleep))
        return waits

    return patch


def test_channel_allows_a_burst_then_one_per_second(sandbox: Sandbox, client: WebClient) -> None:
    for i in range(3):  # the default burst allowance
        client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"burst {i}")
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="too fast")
    assert_ratelimited(excinfo, 1)
    # Other channels have their own allowance.
    assert client.chat_postMessage(channel=DANA.slack_id, text="dm")["ok"]
    sandbox.clock.advance(1.0)
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="after a second")["ok"]
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="again too fast")
    assert [m["text"] for m in sandbox.emulator.messages(PQL_ALERTS_ID)] == [
        "burst 0",
        "burst 1",
        "burst 2",
        "after a second",
    ]


def test_retry_after_counts_whole_seconds_to_the_next_token(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(SlackLimits(channel_posts_per_second=0.25, channel_post_burst=1))
    client = sandbox.client()
    client.chat_postMessage(channel=PQL_ALERTS_ID, text="one")
    sandbox.clock.advance(1.5)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="two")
    assert_ratelimited(excinfo, 3)  # 4 s per message, 1.5 s gone: 2.5 s left, rounded up


def test_tier_3_allows_fifty_lookups_a_minute(sandbox: Sandbox, client: WebClient) -> None:
    for _ in range(50):
        client.users_lookupByEmail(email=DANA.email)
    sandbox.clock.advance(20)
    with pytest.raises(SlackApiError) as excinfo:
        client.users_lookupByEmail(email=DANA.email)
    assert_ratelimited(excinfo, 40)
    assert client.users_info(user=DANA.slack_id)["ok"]  # limits are per method
    sandbox.clock.advance(40)
    assert client.users_lookupByEmail(email=DANA.email)["ok"]


def test_tiers_are_configurable(make_sandbox: SandboxFactory) -> None:
    limits = SlackLimits(tier_per_minute={Tier.TIER_1: 1, Tier.TIER_2: 2, Tier.TIER_3: 2, Tier.TIER_4: 3})
    sandbox = make_sandbox(limits)
    client = sandbox.client()
    for _ in range(3):
        client.auth_test()  # Tier 4
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert_ratelimited(excinfo, 60)
    for _ in range(2):
        client.conversations_open(users=DANA.slack_id)  # Tier 3
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_open(users=DANA.slack_id)
    assert excinfo.value.response.status_code == 429
    for _ in range(2):
        client.conversations_history(channel=PQL_ALERTS_ID)
    with pytest.raises(SlackApiError):
        client.conversations_history(channel=PQL_ALERTS_ID)


def test_errors_count_against_the_tier(make_sandbox: SandboxFactory) -> None:
    sandbox = make_sandbox(
        SlackLimits(tier_per_minute={Tier.TIER_1: 1, Tier.TIER_2: 1, Tier.TIER_3: 1, Tier.TIER_4: 1})
    )
    client = sandbox.client()
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U0NOSUCH001")
    assert excinfo.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user=DANA.slack_id)
    assert excinfo.value.response.status_code == 429


def test_retry_handler_recovers_from_the_channel_limit(sandbox: Sandbox, retry_sleep: RetrySleep) -> None:
    waits = retry_sleep(sandbox.clock)
    client = sandbox.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
    stamps = [client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"alert {i}")["ts"] for i in range(6)]
    assert len(set(stamps)) == 6
    assert len(sandbox.emulator.messages(PQL_ALERTS_ID)) == 6  # each retried post landed exactly once
    # Each 429 said Retry-After: 1; the SDK adds up to 1 s of jitter, which decides how many posts had to wait.
    assert 2 <= len(waits) <= 3 and all(1 <= wait < 2 for wait in waits)
    sandbox.last_request_body()
    assert sandbox.emulator.log.counts()["POST /api/chat.postMessage"] == 6 + len(waits)


def test_retry_handler_recovers_from_a_tier_limit(make_sandbox: SandboxFactory, retry_sleep: RetrySleep) -> None:
    sandbox = make_sandbox(
        SlackLimits(tier_per_minute={Tier.TIER_1: 1, Tier.TIER_2: 2, Tier.TIER_3: 2, Tier.TIER_4: 4})
    )
    waits = retry_sleep(sandbox.clock)
    client = sandbox.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    ids = [client.users_lookupByEmail(email=rep.email)["user"]["id"] for rep in sample_reps()[:5]]
    assert ids == [rep.slack_id for rep in sample_reps()[:5]]
    assert [int(wait) for wait in waits] == [60, 60]  # Retry-After: 60 each time the minute's 2 calls ran out


def test_retry_handler_gives_up_after_its_budget(sandbox: Sandbox, retry_sleep: RetrySleep) -> None:
    waits = retry_sleep(None)
    client = sandbox.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    for i in range(3):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"burst {i}")
    with pytest.raises(SlackApiError) as excinfo:  # the clock never moves, so every retry is refused again
        client.chat_postMessage(channel=PQL_ALERTS_ID, text="stuck")
    assert_ratelimited(excinfo, 1)
    assert len(waits) == 2


def test_rate_limit_storm_fault_uses_slacks_429(sandbox: Sandbox, client: WebClient) -> None:
    sandbox.emulator.set_faults([FaultRule(route="POST /api/users.info", ratelimit_rate=1.0)])
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user=DANA.slack_id)
    assert_ratelimited(excinfo, 1)


def test_reset_clears_rate_windows(sandbox: Sandbox, client: WebClient) -> None:
    for i in range(3):
        client.chat_postMessage(channel=PQL_ALERTS_ID, text=f"burst {i}")
    sandbox.emulator.reset()
    assert client.chat_postMessage(channel=PQL_ALERTS_ID, text="fresh")["ok"]
