"""Chat members are cached under a vendor-free key, and those an older version cached under the vendor's name are
still found after the upgrade (migration 8), with no lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from syncer.contract.effects import AlertChannel
from syncer.effects.owners import OwnerDirectory
from syncer.state.duckdb_store import DuckDBStateStore

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _no_channel() -> AlertChannel:
    """The alert channel must not be opened: every owner comes from the cache."""
    raise AssertionError("the channel was opened")


def test_members_cached_under_the_vendors_name_are_found_under_the_chat_key_after_the_upgrade(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.duckdb"
    DuckDBStateStore(path).close()
    con = duckdb.connect(str(path))  # the state as an older version left it: migration 8 not run, old keys
    con.execute("DELETE FROM schema_migrations WHERE version = 8")
    con.execute(
        "INSERT INTO owner_cache VALUES ('slack:alerts', 'dana.kim@yourco.com', 'U_DANA', 'Europe/Berlin', ?)",
        [NOW.replace(tzinfo=None)],
    )
    con.close()
    store = DuckDBStateStore(path)
    try:
        owners = OwnerDirectory(store, NOW).chat("alerts", _no_channel, [" Dana.Kim@yourco.com"])
        assert owners[" Dana.Kim@yourco.com"].id == "U_DANA"
        assert owners[" Dana.Kim@yourco.com"].time_zone == "Europe/Berlin"
        assert store.owners.get("slack:alerts", ["dana.kim@yourco.com"], timedelta(days=1), NOW) == {}
    finally:
        store.close()
