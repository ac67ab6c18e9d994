"""The ``type: webhook`` entry of ``syncer.yaml``: any HTTP endpoint that takes JSON batches."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class WebhookSettings(BaseModel):
    """POST JSON batches to ``url``, signed with HMAC-SHA256 over the body when ``signing_secret`` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"]
    url: str
    signing_secret: SecretStr | None = None
    batch_size: int = Field(500, gt=0, le=10_000)
    requests_per_second: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0)
