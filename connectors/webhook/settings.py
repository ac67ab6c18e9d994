"""The ``type: webhook`` entry of ``syncer.yaml``: any HTTP endpoint that takes JSON batches."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class WebhookSettings(BaseModel):
    """POST JSON batches to ``url``, signed with HMAC-SHA256 over the timestamp and body when ``signing_secret`` is set.

    ``batch_size`` records per POST; ``requests_per_second`` paces the POSTs; ``timeout_s`` bounds each one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"]
    url: str
    signing_secret: SecretStr | None = None
    batch_size: int = Field(500, gt=0, le=10_000)
    requests_per_second: float = Field(10.0, gt=0)
    timeout_s: float = Field(30.0, gt=0)

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value
