"""The project file ``syncer.yaml``: where the warehouse and the state live, the named connectors and defaults.

Secrets are ``SecretStr`` and are written in the file as ``${ENV_VAR}`` references, so the file can be committed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from syncer.config.sync import Guards


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Strict):
    """``url``: ``duckdb:///path/to/file.duckdb`` (the embedded default) or any SQLAlchemy URL.

    URLs are secrets: a database URL usually carries a password (``postgresql://user:${PG_PASSWORD}@host/db``).
    """

    url: SecretStr = SecretStr("duckdb:///warehouse.duckdb")
    batch_size: int = Field(50_000, gt=0, description="Rows per batch when streaming a model from the warehouse.")


class StateConfig(_Strict):
    """``url``: ``duckdb:///.syncer/state.duckdb`` (default, a local file) or ``postgresql://...`` (shared)."""

    url: SecretStr = SecretStr("duckdb:///.syncer/state.duckdb")
    memory_limit: str = Field("1GB", description="DuckDB memory limit for planning; larger plans spill to disk.")


class ConnectorEntry(BaseModel):
    """A named connector in ``syncer.yaml``: its ``type`` picks the settings model (``connectors.REGISTRY``), which
    the loader validates the rest of the entry against."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str = Field(description="hubspot, salesforce, slack or webhook")


class Defaults(_Strict):
    schedule: str = Field("every 15m", description="Default schedule: 'every 15m' or a cron expression.")
    guards: Guards = Field(default_factory=Guards, description="Mass-change limits of every sync (see Guards).")


class ProjectConfig(_Strict):
    """The whole of ``syncer.yaml``."""

    warehouse: WarehouseConfig = WarehouseConfig()
    state: StateConfig = StateConfig()
    connectors: dict[str, ConnectorEntry] = Field(default_factory=dict)
    defaults: Defaults = Defaults()
    mappings_dir: str = "mappings"
