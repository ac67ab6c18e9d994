"""Which tokens the emulated workspace accepts, and whom each acts as.

Slack issues bot tokens (``xoxb-``), user tokens (``xoxp-``, acting as the member who installed the app) and, with
token rotation on, bot access tokens that expire after twelve hours (``xoxe.xoxb-``). Any other token, or one this
workspace did not issue, answers HTTP 200 ``invalid_auth``; a revoked one ``token_revoked``; an expired rotated one
``token_expired``. Not thread-safe: the emulator holds its lock around every use.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from connectors.slack.sandbox.errors import SlackError

DEMO_BOT_TOKEN = "xoxb-sandbox-token"  # what `syncer demo` configures
SANDBOX_TOKENS = (
    DEMO_BOT_TOKEN,
    "xoxb-sandbox",  # the seed-consistency test's client
    "xoxp-sandbox-user-token",
    "xoxe.xoxb-1-sandbox-rotated-token",
)


class TokenKind(StrEnum):
    """A token's kind, told by its prefix as Slack's are."""

    BOT = "xoxb-"
    USER = "xoxp-"
    ROTATED_BOT = "xoxe.xoxb-"

    @classmethod
    def of(cls, token: str) -> TokenKind | None:
        # xoxe.xoxb- first: it is the longest prefix.
        for kind in (cls.ROTATED_BOT, cls.BOT, cls.USER):
            if token.startswith(kind.value) and len(token) > len(kind.value):
                return kind
        return None


class TokenRegistry:
    """The tokens issued for the workspace; revocations and expiries last until the next reset."""

    def __init__(self, tokens: Collection[str]) -> None:
        unknown = sorted(token[:5] + "..." for token in tokens if TokenKind.of(token) is None)
        if unknown:
            raise ValueError(f"Slack tokens start with xoxb-, xoxp- or xoxe.xoxb-; got {', '.join(unknown)}")
        self.issued = frozenset(tokens)
        self.revoked: set[str] = set()
        self.expired: set[str] = set()

    def kind(self, token: str | None) -> TokenKind:
        """The accepted token's kind; raises the ``ok: false`` error Slack answers otherwise."""
        if token is None:
            raise SlackError("not_authed")
        kind = TokenKind.of(token)
        if kind is None or token not in self.issued:
            raise SlackError("invalid_auth")
        if token in self.revoked:
            raise SlackError("token_revoked")
        if token in self.expired:
            raise SlackError("token_expired")
        return kind

    def revoke(self, token: str) -> None:
        self._known(token)
        self.revoked.add(token)

    def expire(self, token: str) -> None:
        if TokenKind.of(self._known(token)) is not TokenKind.ROTATED_BOT:
            raise ValueError("only rotated (xoxe.xoxb-) tokens expire")
        self.expired.add(token)

    def clear(self) -> None:
        self.revoked.clear()
        self.expired.clear()

    def _known(self, token: str) -> str:
        if token not in self.issued:
            raise KeyError("the workspace did not issue this token")
        return token
