"""The ``type: salesforce`` entry of ``syncer.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SalesforceSettings(BaseModel):
    """A Salesforce org: OAuth client credentials, a username and password, or a ready access token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["salesforce"]
    instance_url: str = Field(description="https://yourorg.my.salesforce.com, or the sandbox's URL")
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    api_version: str = "59.0"
    ca_bundle: str | None = Field(None, description="CA certificates to trust (the sandbox's local CA).")
    bulk_threshold: int = Field(2_000, gt=0, description="Changes above this many rows go through Bulk API 2.0.")
