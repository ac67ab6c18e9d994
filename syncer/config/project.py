"""The project file ``syncer.yaml``: where the warehouse and the state live, the named connectors and defaults.

Secrets are ``SecretStr`` and are written in the file as ``${ENV_VAR}`` references, so the file can be committed.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from syncer.config.alerts import AlertPolicy
from syncer.config.schedule import parse_duration, parse_schedule
from syncer.config.sync import Guards

# DuckDB's own memory-limit syntax: a number and a unit (1000- or 1024-based), or a share of the machine's memory.
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(kb|mb|gb|tb|kib|mib|gib|tib)$|^(\d+(?:\.\d+)?)\s*%$", re.IGNORECASE)
_UNIT_BYTES = {
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
}
MIN_MEMORY_BYTES = 64 * 10**6  # below this DuckDB cannot plan even a small sync


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Strict):
    """``url``: ``duckdb:///path/to/file.duckdb`` (the embedded default) or any SQLAlchemy URL.

    URLs are secrets: a database URL usually carries a password (``postgresql://user:${PG_PASSWORD}@host/db``).
    """

    url: SecretStr = SecretStr("duckdb:///warehouse.duckdb")
    batch_size: int = Field(
        50_000, gt=0, le=10_000_000, description="Rows per batch when streaming a model from the warehouse."
    )


class RowErrorsConfig(_Strict):
    park_after: int = Field(
        5, gt=0, description="Park a row the destination refused this many runs in a row; 'syncer retry' re-queues it."
    )


class StateConfig(_Strict):
    """``url``: ``duckdb:///.syncer/state.duckdb`` (default, a local file) or ``postgresql://...`` (shared)."""

    url: SecretStr = SecretStr("duckdb:///.syncer/state.duckdb")
    memory_limit: str = Field(
        "1GB",
        description="DuckDB memory limit for planning; larger plans spill to disk: "
        "'1GB', '512MiB' or a share of the machine's memory, '50%'.",
    )
    lock_timeout_s: float = Field(
        0,
        ge=0,
        description="How long a run waits for another run of the same sync to "
        "finish; 0: it gives up at once (the next schedule retries).",
    )
    row_errors: RowErrorsConfig = RowErrorsConfig()

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, text: str) -> str:
        match = _MEMORY.match(text.strip())
        if match is None:
            raise ValueError(f"'{text}' is not a memory size: write it as '1GB', '512MiB' or '50%'")
        if match.group(3) is not None:
            if not 0 < float(match.group(3)) <= 100:
                raise ValueError("a share of memory must be above 0% and at most 100%")
        elif float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()] < MIN_MEMORY_BYTES:
            raise ValueError("give DuckDB at least 64MB to plan in")
        return text.strip()


class ConnectorEntry(BaseModel):
    """A named connector in ``syncer.yaml``: its ``type`` picks the settings model (``connectors.REGISTRY``), which
    the loader validates the rest of the entry against."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str = Field(description="hubspot, salesforce, slack or webhook")


class ValidateDefaults(_Strict):
    """How ``syncer validate`` tries each mapping on the data: on a sample of the model's rows."""

    sample_rows: int = Field(
        300,
        ge=1,
        le=100_000,
        description="Model rows each sync's fields, tasks and alerts are "
        "cast and rendered on ('validate --sample' overrides).",
    )
    max_reject_percent: float = Field(
        10,
        ge=0,
        le=100,
        description="A field rejecting more of the sampled rows than this is an error (exit 2); fewer, a warning.",
    )


class Defaults(_Strict):
    schedule: str = Field("every 15m", description="Default schedule: 'every 15m' or a cron expression.")
    guards: Guards = Field(default_factory=Guards, description="Mass-change limits of every sync (see Guards).")
    validate_: ValidateDefaults = Field(
        default_factory=ValidateDefaults,
        alias="validate",
        description="How 'syncer validate' tries the mappings on the data.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule_parses(cls, text: str) -> str:
        parse_schedule(text)  # its ValueError names what is wrong
        return text


class TasksConfig(_Strict):
    """CRM tasks of every trigger."""

    fallback_owner: str | None = Field(
        None,
        description="E-mail of the user who gets a task whose owner resolves "
        "to no active user (a trigger's task.fallback_owner wins); "
        "without one such a task is held, never created "
        "unassigned.",
    )


class OpsAlertsConfig(_Strict):
    """Where ``syncer daemon`` tells operators that a sync started failing, and that it recovered."""

    connector: str = Field(min_length=1, description="A connector of this file that posts alerts.")
    channel: str = Field(min_length=1, description="The channel id to post to (the vendor's own id).")


class DaemonConfig(_Strict):
    """``syncer daemon``: its HTTP server, scheduling, replicas and operations alerts."""

    host: str = Field(
        "127.0.0.1", min_length=1, description="Address the HTTP server binds to; 0.0.0.0 in a container."
    )
    port: int = Field(
        8780,
        ge=1,
        le=65535,
        description="Port of the HTTP server (/healthz, /readyz, /metrics, triggers, alert interactions).",
    )
    trigger_token: SecretStr | None = Field(
        None,
        description="Bearer token POST /syncs/NAME/trigger requires; "
        "write it as ${SYNCER_TRIGGER_TOKEN}. Unset or "
        "empty: triggers are refused.",
    )
    max_body_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body the HTTP server reads, in bytes; a larger one "
        "is cut off as it streams in and refused (413). Alert interactions "
        "are refused above 256 KiB whatever this says.",
    )
    timezone: str = Field("UTC", description="Time zone cron schedules are read in (IANA name).")
    overdue_after: str = Field(
        "2h",
        description="A sync without a successful run for this long is overdue (/readyz, metrics): '90m', '2h', '1d'.",
    )
    lease_s: float = Field(
        30,
        ge=1,
        le=3600,
        description="Replicas (PostgreSQL state): a sync's lease lasts this "
        "long; a dead replica's syncs move within about one lease.",
    )
    workers: int = Field(
        4, ge=1, le=64, description="Syncs run at once (PostgreSQL state; a DuckDB state runs one at a time)."
    )
    stop_timeout_s: float = Field(
        25, gt=0, le=300, description="On SIGTERM, how long runs in flight may take to finish their batch and commit."
    )
    reload: bool = Field(
        default=False, description="Watch syncer.yaml and the mappings and reload on change (as SIGHUP)."
    )
    ops_alerts: OpsAlertsConfig | None = Field(
        None, description="Post to a chat channel when a sync starts failing and when it recovers."
    )

    @field_validator("trigger_token")
    @classmethod
    def _no_empty_token(cls, token: SecretStr | None) -> SecretStr | None:
        # ``${SYNCER_TRIGGER_TOKEN:-}`` unset: no token, so triggers are refused (never "any empty bearer").
        return token if token is not None and token.get_secret_value() else None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, text: str) -> str:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{text}' is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
        return text

    @field_validator("overdue_after")
    @classmethod
    def _overdue_after(cls, text: str) -> str:
        parse_duration(text)  # its ValueError names what is wrong
        return text


class ProjectConfig(_Strict):
    """The whole of ``syncer.yaml``."""

    warehouse: WarehouseConfig = WarehouseConfig()
    state: StateConfig = StateConfig()
    connectors: dict[str, ConnectorEntry] = Field(default_factory=dict)
    defaults: Defaults = Defaults()
    mappings_dir: str = Field("mappings", min_length=1, description="Where the sync files are, below the project.")
    alerts: AlertPolicy = Field(
        default_factory=AlertPolicy,
        description="Per-rep caps, cooldowns, quiet hours and digests for every trigger's alerts.",
    )
    daemon: DaemonConfig = DaemonConfig()
    tasks: TasksConfig = Field(default_factory=TasksConfig, description="CRM tasks of every trigger (fallback owner).")
