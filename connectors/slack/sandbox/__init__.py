"""The Slack sandbox: a local, stateful emulator of the Slack Web API methods syncer uses.

``SlackEmulator`` serves ``/api/{method}`` for ``slack_sdk.WebClient(base_url=url + "/api/")``; ``SlackLimits``
configures its rate and size limits (Slack's documented values by default).
"""

from connectors.slack.sandbox.emulator import SlackEmulator
from connectors.slack.sandbox.limits import SlackLimits, Tier
from connectors.slack.sandbox.store import GENERAL_ID, PQL_ALERTS_ID, WorkspaceIdentity
from connectors.slack.sandbox.tokens import DEMO_BOT_TOKEN, SANDBOX_TOKENS, TokenKind

__all__ = [
    "DEMO_BOT_TOKEN",
    "GENERAL_ID",
    "PQL_ALERTS_ID",
    "SANDBOX_TOKENS",
    "SlackEmulator",
    "SlackLimits",
    "Tier",
    "TokenKind",
    "WorkspaceIdentity",
]
