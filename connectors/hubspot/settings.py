"""The ``type: hubspot`` entry of ``syncer.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class HubSpotSettings(BaseModel):
    """A HubSpot portal reached with a private-app access token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["hubspot"]
    access_token: SecretStr
    base_url: str = "https://api.hubapi.com"
    requests_per_10s: int = Field(100, gt=0, description="The app's rolling limit: 100 (Starter) or 190 (Pro+).")
    daily_limit: int | None = Field(250_000, gt=0, description="The portal's daily request cap.")
