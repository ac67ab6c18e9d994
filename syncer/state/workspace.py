"""The planning workspace's connection and its scratch directory: UTC session, memory cap with spilling, the plans
catalog, and the clean-up of directories left by processes that died.

A state store opens its workspace here (for DuckDB state it is the state's own connection); the functions the field
SQL calls are registered by planning (:func:`syncer.planning.render.register_functions`), which knows templates.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import duckdb

PLANS_CATALOG = "syncer_plans"
_workspace_numbers = itertools.count(1)


def prepare_workspace(con: duckdb.DuckDBPyConnection, memory_limit: str, spill_root: Path) -> Path:
    """Configure ``con`` for planning.

    Returns the workspace's own directory under ``spill_root`` (``<pid>-<n>``), which the caller deletes
    (:func:`discard_workspace`) when it closes ``con``. It holds DuckDB's spill files and the plans catalog. Plans'
    change rows live there: unlike temporary tables, every cursor of the connection sees them (so they can be
    streamed out on one cursor while the store commits on another), and being file-backed, a first sync of millions
    of rows is written out instead of held in memory. Directories of processes that died (a killed run) are removed
    here, by the next process that plans.
    """
    spill_root.mkdir(parents=True, exist_ok=True)
    remove_orphaned_workspaces(spill_root)
    directory = spill_root / f"{os.getpid()}-{next(_workspace_numbers)}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    con.execute("SET TimeZone = 'UTC'")  # naive warehouse timestamps are read as UTC
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{_quoted(directory)}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{_quoted(directory / 'plans.duckdb')}' AS {PLANS_CATALOG}")
    return directory


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def discard_workspace(directory: Path) -> None:
    """Delete a workspace directory (call after closing its connection)."""
    shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def remove_orphaned_workspaces(spill_root: Path) -> list[Path]:
    """Delete the workspace directories (and older loose plans files) of processes that are gone; return them."""
    removed = []
    for path in spill_root.iterdir():
        owner = path.name.removeprefix("plans-").split("-")[0]
        if not owner.isdigit() or _alive(int(owner)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
