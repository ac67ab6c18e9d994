"""The ``type: slack`` entry of ``syncer.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class SlackSettings(BaseModel):
    """A Slack workspace reached with a bot (``xoxb-``), user (``xoxp-``) or rotated (``xoxe.xoxb-``) token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["slack"]
    token: SecretStr
    base_url: str = "https://slack.com/api/"
    # The app's signing secret: ``syncer daemon`` verifies Slack's interaction requests (alert buttons) with it.
    signing_secret: SecretStr | None = None
    # Where a press's ``response_url`` may point: the daemon POSTs nowhere else (Slack's own host by default; the
    # sandbox adds its emulator). Each prefix is a scheme and host ending in "/", so it cannot be extended.
    response_url_prefixes: tuple[str, ...] = Field(
        ("https://hooks.slack.com/",),
        description="Where a button press's response_url may point; anything else is refused and never fetched.",
    )

    @field_validator("response_url_prefixes")
    @classmethod
    def _whole_hosts(cls, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in prefixes:
            scheme, _, rest = prefix.partition("://")
            if scheme not in ("http", "https") or "/" not in rest or not rest.split("/", 1)[0]:
                raise ValueError(f"'{prefix}' is not a URL prefix like https://hooks.slack.com/ (scheme, host, '/')")
        return prefixes
