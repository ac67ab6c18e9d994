"""The state one emulated HubSpot portal shares between its route modules."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from connectors.hubspot.sandbox.associations import AssociationStore
from connectors.hubspot.sandbox.errors import HubSpotError, validation_error
from connectors.hubspot.sandbox.limits import HubSpotLimits
from connectors.hubspot.sandbox.store import ObjectStore, iso, object_type

# What a handler returns: HTTP status and JSON body (None for an empty 204).
Reply = tuple[int, Any]


@dataclass
class Portal:
    """Store, associations and limits, swapped wholesale by the emulator's ``seed()``; guarded by ``lock``."""

    store: ObjectStore
    associations: AssociationStore
    limits: HubSpotLimits
    lock: threading.RLock
    reject: Callable[[Request], bool]


def kind_of(request: Request, param: str = "object_type") -> str:
    """The emulated object type named in the path, or HubSpot's 400 for one it cannot resolve."""
    name = str(request.path_params[param])
    kind = object_type(name)
    if kind is None:
        raise validation_error(f"Unable to infer object type from: {name}")
    return kind


def batch_reply(results: list[Any], errors: list[dict[str, Any]], ok_status: int, started: datetime) -> Reply:
    """HubSpot's batch envelope: ``ok_status`` when every input succeeded, 207 Multi-Status otherwise."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(datetime.now(UTC)),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return 207, body
    return ok_status, body


def now() -> datetime:
    return datetime.now(UTC)


__all__ = ["HubSpotError", "Portal", "Reply", "batch_reply", "kind_of", "now"]
