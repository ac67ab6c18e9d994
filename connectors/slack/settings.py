"""The ``type: slack`` entry of ``syncer.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr


class SlackSettings(BaseModel):
    """A Slack workspace reached with a bot (``xoxb-``), user (``xoxp-``) or rotated (``xoxe.xoxb-``) token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["slack"]
    token: SecretStr
    base_url: str = "https://slack.com/api/"
    # The app's signing secret: ``syncer daemon`` verifies Slack's interaction requests (alert buttons) with it.
    signing_secret: SecretStr | None = None
