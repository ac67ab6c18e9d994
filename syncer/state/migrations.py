"""Versioned schema of the state: snapshot, run history, row errors and the effects tables (outbox, alert ledger,
owner cache). Same tables in DuckDB and PostgreSQL.

Each migration runs once, in order, inside the store's transaction; ``schema_migrations`` records what has run.
A migration is a list of statements; ``{snapshot_key}`` is the snapshot's key constraint, which differs by backend
(PostgreSQL keeps a primary key for its upserts; DuckDB's commits delete-then-insert, cheaper than an index on
millions of rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    backends: tuple[str, ...] = ("duckdb", "postgres")  # where it applies; it is recorded as run everywhere


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "snapshot, runs and row errors",
        (
            """CREATE TABLE snapshot (
            sync TEXT NOT NULL,
            key TEXT NOT NULL,
            record_id TEXT,
            match_value TEXT,
            fields TEXT,
            row_hash BIGINT,
            present BOOLEAN NOT NULL DEFAULT TRUE,
            synced_at TIMESTAMP NOT NULL{snapshot_key}
        )""",
            "CREATE SEQUENCE run_ids START 1",
            """CREATE TABLE runs (
            id BIGINT PRIMARY KEY,
            sync TEXT NOT NULL,
            dry_run BOOLEAN NOT NULL,
            status TEXT NOT NULL,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            model_rows BIGINT,
            creates BIGINT,
            updates BIGINT,
            clears BIGINT,
            unchanged BIGINT,
            rejected BIGINT,
            error TEXT
        )""",
            """CREATE TABLE row_errors (
            run_id BIGINT NOT NULL,
            sync TEXT NOT NULL,
            key TEXT,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            noted_at TIMESTAMP NOT NULL
        )""",
            "CREATE INDEX row_errors_by_sync ON row_errors (sync, run_id)",
        ),
    ),
    Migration(
        2,
        "snapshot journal for cheap per-batch commits",
        (
            # DuckDB has no cheap point delete on a table of millions of rows, so commits append here and the
            # snapshot absorbs the journal set-wise before each plan. PostgreSQL upserts on its primary key instead.
            "CREATE SEQUENCE journal_seq START 1",
            """CREATE TABLE snapshot_journal (
            seq BIGINT NOT NULL,
            sync TEXT NOT NULL,
            key TEXT NOT NULL,
            record_id TEXT,
            match_value TEXT,
            fields TEXT,
            row_hash BIGINT,
            present BOOLEAN NOT NULL,
            synced_at TIMESTAMP NOT NULL
        )""",
        ),
        backends=("duckdb",),
    ),
    Migration(
        3,
        "row errors per key with attempts and parking; run owners",
        (
            # One row per (sync, key): what RevOps acts on. The earlier per-run rows fold into it, the latest winning.
            """CREATE TABLE row_errors_by_key (
            sync TEXT NOT NULL,
            key TEXT,
            code TEXT NOT NULL,
            message TEXT NOT NULL,
            stage TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            last_run_id BIGINT NOT NULL,
            parked BOOLEAN NOT NULL DEFAULT FALSE
        )""",
            """INSERT INTO row_errors_by_key
           SELECT sync, key, 'rejected', reason, 'plan', n, first_seen, noted_at, run_id, FALSE FROM (
               SELECT *, row_number() OVER (PARTITION BY sync, key ORDER BY run_id DESC) AS latest,
                      count(*) OVER (PARTITION BY sync, key) AS n,
                      min(noted_at) OVER (PARTITION BY sync, key) AS first_seen
               FROM row_errors) AS history
           WHERE latest = 1""",
            "DROP TABLE row_errors",
            "ALTER TABLE row_errors_by_key RENAME TO row_errors",
            "CREATE INDEX row_errors_by_key ON row_errors (sync, key)",
            # Who runs a run: a process id (DuckDB) or a PostgreSQL session, so a run whose owner died is marked killed.
            "ALTER TABLE runs ADD COLUMN owner TEXT",
        ),
    ),
    Migration(
        4,
        "outbox, alert ledger and owner cache for exactly-once effects",
        (
            # One row per effect intent, written before the send; the primary key makes a second add a no-op.
            """CREATE TABLE outbox (
            dedupe_key TEXT PRIMARY KEY,
            sync TEXT NOT NULL,
            trigger TEXT NOT NULL,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            external_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )""",
            "CREATE INDEX outbox_by_status ON outbox (status, sync, created_at)",
            # One row per alert-policy decision (a deferral and its later send are two rows); caps count these.
            """CREATE TABLE alert_ledger (
            dedupe_key TEXT NOT NULL,
            sync TEXT NOT NULL,
            trigger TEXT NOT NULL,
            key TEXT NOT NULL,
            rep TEXT,
            outcome TEXT NOT NULL,
            reason TEXT NOT NULL,
            tier TEXT,
            priority DOUBLE PRECISION,
            decided_at TIMESTAMP NOT NULL,
            not_before TIMESTAMP,
            digest_key TEXT,
            sent_at TIMESTAMP,
            feedback TEXT,
            feedback_at TIMESTAMP
        )""",
            "CREATE INDEX alert_ledger_by_rep ON alert_ledger (rep, decided_at)",
            "CREATE INDEX alert_ledger_by_key ON alert_ledger (dedupe_key)",
            # E-mail -> vendor owner id (null: the vendor knows no such e-mail) and time zone, so runs skip lookups.
            """CREATE TABLE owner_cache (
            vendor TEXT NOT NULL,
            email TEXT NOT NULL,
            owner_id TEXT,
            tz TEXT,
            resolved_at TIMESTAMP NOT NULL,
            PRIMARY KEY (vendor, email)
        )""",
        ),
    ),
    Migration(
        5,
        "outbox: due times, deferred/held/suppressed intents; alert log bookkeeping",
        (
            # DuckDB cannot alter a table that an index depends on: drop it, alter, index again.
            "DROP INDEX outbox_by_status",
            "ALTER TABLE outbox ADD COLUMN not_before TIMESTAMP",
            "CREATE INDEX outbox_by_status ON outbox (status, sync, created_at)",
            "CREATE INDEX outbox_by_key ON outbox (sync, key, kind)",
            # One row: a version every change the alert log shows counts up, and the version last written back.
            """CREATE TABLE effects_marks (
            id INTEGER PRIMARY KEY,
            version BIGINT NOT NULL,
            written_version BIGINT NOT NULL,
            written_at TIMESTAMP,
            error TEXT
        )""",
            "INSERT INTO effects_marks VALUES (1, 0, 0, NULL, NULL)",
        ),
    ),
    Migration(
        6,
        "daemon replicas, sync leases and seen interaction requests",
        (
            # Each live `syncer daemon` beats here; a sync's share of the work is counted over the live ones.
            """CREATE TABLE daemon_replicas (
            replica TEXT PRIMARY KEY,
            host TEXT,
            started_at TIMESTAMP NOT NULL,
            heartbeat_at TIMESTAMP NOT NULL
        )""",
            # One row per sync: who may run it until when, and the last scheduled time it was run for (claimed once).
            """CREATE TABLE daemon_leases (
            sync TEXT PRIMARY KEY,
            owner TEXT,
            expires_at TIMESTAMP,
            acquired_at TIMESTAMP,
            last_due_at TIMESTAMP
        )""",
            # Signatures of accepted interaction requests (button presses), so a replay to another replica is refused.
            """CREATE TABLE daemon_seen_requests (
            signature TEXT PRIMARY KEY,
            expires_at TIMESTAMP NOT NULL
        )""",
        ),
        backends=("postgres",),
    ),
    Migration(
        7,
        "alert ledger: who gave the feedback",
        (
            # A press is recorded with the member who pressed it (on a channel alert, not always the rep it was for).
            # DuckDB cannot alter a table that an index depends on: drop them, alter, index again.
            "DROP INDEX alert_ledger_by_rep",
            "DROP INDEX alert_ledger_by_key",
            "ALTER TABLE alert_ledger ADD COLUMN feedback_by TEXT",
            "CREATE INDEX alert_ledger_by_rep ON alert_ledger (rep, decided_at)",
            "CREATE INDEX alert_ledger_by_key ON alert_ledger (dedupe_key)",
        ),
    ),
    Migration(
        8,
        "owner cache: chat members under chat:<connector>",
        (
            # The engine names no vendor: chat members were cached under the vendor's name and a colon (six characters);
            # they keep their entries under the generic prefix.
            "UPDATE owner_cache SET vendor = 'chat:' || substr(vendor, 7) WHERE vendor LIKE 'slack:%'",
        ),
    ),
    Migration(
        9,
        "runs: parked rows; trigger crossings",
        (
            # How many rows a run skipped because their delivery is parked: "succeeded, 3 parked" is not "succeeded".
            "ALTER TABLE runs ADD COLUMN parked BIGINT",
            # Per trigger and key: which crossing of the condition fired last, at which new-row hash, and whether that
            # row has reached the snapshot since (then the next firing is a new crossing, whatever its values).
            """CREATE TABLE trigger_crossings (
            sync TEXT NOT NULL,
            trigger TEXT NOT NULL,
            key TEXT NOT NULL,
            crossing BIGINT NOT NULL,
            fired_hash BIGINT NOT NULL,
            landed BOOLEAN NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (sync, trigger, key)
        )""",
        ),
    ),
)


def pending(applied: set[int]) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version not in applied]


def apply_migrations(
    execute: Callable[[str], object], applied: set[int], backend: str, snapshot_key: str = ""
) -> list[int]:
    """Run every migration not in ``applied`` that applies to ``backend`` through ``execute``; return the versions.

    A migration for other backends is still recorded, so the version history is the same everywhere.
    """
    done = []
    for migration in pending(applied):
        statements = migration.statements if backend in migration.backends else ()
        for statement in statements:
            execute(statement.format(snapshot_key=snapshot_key))
        execute(
            f"INSERT INTO schema_migrations (version, description) VALUES "
            f"({migration.version}, '{migration.description}')"
        )
        done.append(migration.version)
    return done
