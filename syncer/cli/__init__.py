"""The ``syncer`` command line. Exit codes: 0 ok, 1 a sync or the environment failed, 2 bad input.

Commands live in the modules of this package by theme; each registers itself on :data:`cli` when imported.
"""

from __future__ import annotations

# Importing a command module registers its commands (one line each, so new modules merge cleanly).
import syncer.cli.alert_commands
import syncer.cli.daemon_commands
import syncer.cli.demo_commands
import syncer.cli.destination_commands
import syncer.cli.drift_commands
import syncer.cli.error_commands
import syncer.cli.project_commands
import syncer.cli.sync_commands  # noqa: F401
from syncer.cli.base import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, cli


def main() -> None:
    cli()


__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "cli", "main"]
