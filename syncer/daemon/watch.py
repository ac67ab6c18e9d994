"""Reloading the project: which files to watch for changes, and the checks a new project must pass first."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from syncer.app import App
from syncer.config.errors import Problem
from syncer.config.loader import PROJECT_FILE, Project
from syncer.planning.validate import check_against_model


class FileWatch:
    """Notices a change to ``syncer.yaml`` or a mapping file (added, removed, modified) by polling mtimes."""

    def __init__(self, root: Path, mappings_dir: str) -> None:
        self.root, self.mappings_dir = root, mappings_dir
        self._seen = self._signature()

    def _signature(self) -> frozenset[tuple[str, int, int]]:
        directory = self.root / self.mappings_dir
        files = [self.root / PROJECT_FILE]
        if directory.is_dir():
            files += [*directory.glob("*.yaml"), *directory.glob("*.yml")]
        found = set()
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            found.add((str(path), stat.st_mtime_ns, stat.st_size))
        return frozenset(found)

    def changed(self) -> bool:
        """True once per change since the last call."""
        now = self._signature()
        if now == self._seen:
            return False
        self._seen = now
        return True


def check_models(root: Path, environ: Mapping[str, str] | None, project: Project) -> list[Problem]:
    """What a reload checks beyond loading: every model's columns against the warehouse (as ``syncer validate``),
    on a scratch App over ``project`` (closed here)."""
    app = App.with_project(root, project, environ)
    try:
        return [problem for loaded in project.syncs.values() for problem in check_against_model(loaded, app.warehouse)]
    finally:
        app.close()
