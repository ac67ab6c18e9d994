"""A pool of :class:`syncer.app.App` for the daemon's threads: each App holds its own state and warehouse
connections, which are not shared between threads.

With a DuckDB state the pool holds one App (the state file is this process's, and its connection is used by one
thread at a time), so runs take turns; with PostgreSQL, up to ``size`` Apps work at once. After a reload the pool
hands out Apps over the new project; Apps of the old one are closed as they come back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from syncer.app import App
from syncer.config.loader import Project


class PoolBusyError(Exception):
    """Every App is in use and none came back in time."""


class AppPool:
    def __init__(self, root: Path, environ: Mapping[str, str] | None, project: Project, size: int) -> None:
        self._root, self._environ = root, environ
        self._project = project
        self._generation = 0
        self._free: list[tuple[int, App]] = []
        self._slots = threading.BoundedSemaphore(size)
        self._guard = threading.Lock()
        self._closed = False

    @property
    def project(self) -> Project:
        return self._project

    @contextmanager
    def app(self, timeout: float | None = None) -> Iterator[App]:
        """An App for this thread alone until the block ends; raises :class:`PoolBusyError` after ``timeout``."""
        acquired = self._slots.acquire(timeout=timeout) if timeout is not None else self._slots.acquire()
        if not acquired:
            raise PoolBusyError("every state connection is in use by a run")
        try:
            with self._guard:
                generation = self._generation
                app = self._free.pop()[1] if self._free else self._new_app()
            healthy = False
            try:
                yield app
                healthy = True
            finally:
                with self._guard:
                    if healthy and generation == self._generation and not self._closed:
                        self._free.append((generation, app))
                    else:  # a broken connection, or an App of the old project: start afresh next time
                        app.close()
        finally:
            self._slots.release()

    def _new_app(self) -> App:
        # The project the daemon validated, not whatever the files hold now.
        return App.with_project(self._root, self._project, self._environ)

    def reload(self, project: Project) -> None:
        """Hand out Apps over ``project`` from now on; idle Apps of the old one are closed now."""
        with self._guard:
            self._project = project
            self._generation += 1
            stale, self._free = self._free, []
        for _, app in stale:
            app.close()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            idle, self._free = self._free, []
        for _, app in idle:
            app.close()
