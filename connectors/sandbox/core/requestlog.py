"""The sandbox's record of every request it received, for tests and benchmarks to count calls."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it.

    ``route`` is the route template, e.g. ``POST /crm/v3/objects/{object_type}/batch/update``.
    """

    at: float
    method: str
    path: str
    route: str
    status: int
    fault: str
    body: str


class RequestLog:
    """Append-only, thread-safe list of :class:`LoggedRequest`."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def add(self, method: str, path: str, route: str, status: int, fault: str, body: bytes) -> None:
        text = body[:4096].decode("utf-8", "replace")
        with self._lock:
            self._entries.append(LoggedRequest(time.time(), method, path, route, status, fault, text))

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, int]:
        """Requests per route template."""
        with self._lock:
            return dict(Counter(entry.route for entry in self._entries))

    def count(self, route_contains: str = "") -> int:
        """How many requests had a route containing ``route_contains``."""
        with self._lock:
            return sum(1 for entry in self._entries if route_contains in entry.route)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(entry) for entry in self.entries()]
