"""The run-time preflight: before a run sends anything, the destination's schema is checked as ``syncer check``
does (:meth:`syncer.contract.destination.Destination.check`), and a problem blocks the run.

A clean answer is cached for the process (a daemon checks each sync's destination once, not every few minutes) and
forgotten after a run that met a schema error (:func:`forget`), so the next run checks again. Problems are never
cached: once fixed in the CRM, the next run passes.

Only findings about the mapping's own fields, match field and object block: a refused credential is left to the
run's own first call, which reports it as such. A type finding on a field whose type the mapping does not declare
is left out too: the runner opens the destination with declared types only (the inferred ones are ``check``'s).
"""

from __future__ import annotations

import threading

from syncer.config.sync import SyncConfig
from syncer.contract.destination import Destination, FieldCheck

_checked: set[tuple[str, str]] = set()
_lock = threading.Lock()


def _identity(sync: SyncConfig) -> tuple[str, str]:
    """What the check depends on: the destination and the fields as configured (a reload that changes them checks
    again)."""
    return sync.name, sync.model_dump_json(include={"destination", "fields"})


def forget(sync: str) -> None:
    """Check the destination of ``sync`` again on its next run (a schema error was met)."""
    with _lock:
        for entry in [e for e in _checked if e[0] == sync]:
            _checked.discard(entry)


def preflight(sync: SyncConfig, destination: Destination) -> list[str]:
    """One line per schema problem that blocks ``sync`` (empty: send). Raises what ``check`` raises."""
    if not destination.capabilities.has_schema:
        return []
    identity = _identity(sync)
    with _lock:
        if identity in _checked:
            return []
    problems = [f"{finding.field}: {finding.problem}" for finding in destination.check() if _blocks(sync, finding)]
    if not problems:
        with _lock:
            _checked.add(identity)
    return problems


def _blocks(sync: SyncConfig, finding: FieldCheck) -> bool:
    destination = sync.destination
    if destination is None:
        return False
    if finding.field in sync.fields:
        return not finding.about_type or sync.fields[finding.field].type is not None
    return finding.field in (destination.match.field, destination.object)
