"""The ``syncer`` command line. Exit codes: 0 ok, 1 a sync or the environment failed, 2 bad input.

Commands live in the modules of this package by theme; each registers itself on :data:`cli` when imported.
"""

from __future__ import annotations

from syncer.cli import demo_commands, project_commands, sync_commands  # noqa: F401 (they register commands)
from syncer.cli import error_commands as error_commands  # registers errors and retry (explicit re-export)
from syncer.cli.base import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, cli


def main() -> None:
    cli()


__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "cli", "main"]
