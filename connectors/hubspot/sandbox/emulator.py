"""The HubSpot emulator: CRM v3 objects, search, properties, owners and associations v4 behind HubSpot's auth,
rate limits and error shapes.

Every vendor request passes, in order: bearer-token auth (401 ``INVALID_AUTHENTICATION``, not counted), the rate
limiter (429 with HubSpot's body; search has its own 5/s limit and no rate-limit headers), then the handler, whose
:class:`HubSpotError` becomes HubSpot's JSON error. Non-search replies carry the ``X-HubSpot-RateLimit-*`` headers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.hubspot.sandbox.associations import AssociationStore, AssociationType
from connectors.hubspot.sandbox.associations_api import AssociationRoutes
from connectors.hubspot.sandbox.batch_api import BatchRoutes
from connectors.hubspot.sandbox.errors import (
    HubSpotError,
    rate_limit_body,
    search_rate_limit_body,
    server_error_body,
    unauthenticated,
)
from connectors.hubspot.sandbox.limits import HubSpotLimits, RateLimiter, Verdict
from connectors.hubspot.sandbox.misc_api import MiscRoutes
from connectors.hubspot.sandbox.portal import Portal, Reply
from connectors.hubspot.sandbox.properties import seed_definitions
from connectors.hubspot.sandbox.store import ObjectStore, Owner, Record, object_type
from connectors.sandbox.core.base import Clock, VendorEmulator
from connectors.sandbox.people import departed_rep, sample_reps

Handler = Callable[[Request], Awaitable[Reply]]


class HubSpotEmulator(VendorEmulator):
    """A stateful HubSpot portal. ``tokens`` None accepts any non-empty bearer token; otherwise only those listed.

    Python API for tests and the demo: :meth:`records`, :meth:`record`, :meth:`add_record`, :meth:`tasks`,
    :meth:`associations_of`, :meth:`add_association_label`, :meth:`usage` and :meth:`state`.
    """

    vendor = "hubspot"

    def __init__(
        self,
        *,
        limits: HubSpotLimits | None = None,
        tokens: frozenset[str] | None = None,
        seed: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limits = limits or HubSpotLimits()
        self.tokens = tokens
        # seed() (called by the base constructor) fills the portal in; its lock is replaced by the base's below.
        self.portal = Portal(
            ObjectStore({}, []), AssociationStore(), self.limits, threading.RLock(), self.reject_record
        )
        self.limiter = RateLimiter(self.limits, clock)
        super().__init__(seed=seed, clock=clock)
        self.portal.lock = self.lock
        self.limiter = RateLimiter(self.limits, self.clock)
        self._objects = BatchRoutes(self.portal)
        self._misc = MiscRoutes(self.portal)
        self._assoc = AssociationRoutes(self.portal)

    # -- VendorEmulator -----------------------------------------------------------------------------------------
    def seed(self) -> None:
        owners = [
            Owner(rep.hubspot_owner_id, rep.email, rep.first_name, rep.last_name, 9_100_000 + rep.index)
            for rep in sample_reps()
        ]
        gone = departed_rep()
        owners.append(
            Owner(
                gone.hubspot_owner_id,
                gone.email,
                gone.first_name,
                gone.last_name,
                9_100_000 + gone.index,
                archived=True,
            )
        )
        options = [(o.id, f"{o.first_name} {o.last_name}") for o in owners if not o.archived]
        self.portal.store = ObjectStore(seed_definitions(options), owners)
        self.portal.associations = AssociationStore()
        self.limiter = RateLimiter(self.limits, self.clock)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "objects": {
                    kind: [r.as_json() for r in self.portal.store.live(kind)]
                    for kind in ("companies", "contacts", "tasks")
                },
                "associations": self.portal.associations.as_json(),
                "owners": [o.as_json() for o in self.portal.store.owners],
                "custom_properties": {
                    kind: [d.name for d in defs.values() if not d.hubspot_defined]
                    for kind, defs in self.portal.store.definitions.items()
                },
                "usage": self.limiter.usage(),
            }

    def rate_limited_response(self) -> Response:
        with self.lock:
            headers = {**self.limiter.headers(), "X-HubSpot-RateLimit-Remaining": "0"}
        return JSONResponse(rate_limit_body("TEN_SECONDLY_ROLLING"), status_code=429, headers=headers)

    def server_error_response(self, status: int) -> Response:
        return JSONResponse(server_error_body(status), status_code=status)

    def unauthorized_response(self, path: str) -> Response:
        return unauthenticated().response()

    # -- Python API ---------------------------------------------------------------------------------------------
    def records(self, kind: str) -> list[dict[str, Any]]:
        """Every live record of ``kind`` (companies, contacts, tasks) as the API returns it."""
        with self.lock:
            return [r.as_json() for r in self.portal.store.live(_kind(kind))]

    def record(self, kind: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.portal.store.get(_kind(kind), record_id)
            return found.as_json() if found else None

    def find(self, kind: str, name: str, value: str) -> dict[str, Any] | None:
        """The live record whose property ``name`` equals ``value``."""
        with self.lock:
            found = self.portal.store.find_by(_kind(kind), name, value)
            return found.as_json() if found else None

    def add_record(self, kind: str, properties: dict[str, str]) -> str:
        """Seed one record directly (no validation, no rate limit); returns its id."""
        with self.lock:
            created: Record = self.portal.store.create(_kind(kind), properties)
            return created.id

    def tasks(self) -> list[dict[str, Any]]:
        return self.records("tasks")

    def associations_of(self, from_kind: str, record_id: str, to_kind: str) -> list[tuple[str, list[int]]]:
        """``[(to_id, [typeId, ...])]`` for one record."""
        with self.lock:
            return [
                (target, [k.type_id for k in kinds])
                for target, kinds in self.portal.associations.targets(_kind(from_kind), record_id, _kind(to_kind))
            ]

    def add_association_label(self, from_kind: str, to_kind: str, label: str) -> AssociationType:
        with self.lock:
            return self.portal.associations.add_label(_kind(from_kind), _kind(to_kind), label)

    def set_limits(self, limits: HubSpotLimits) -> None:
        """Change the portal's limits on a running emulator (its usage starts again); tests restore them after."""
        with self.lock:
            self.limits = limits
            self.portal.limits = limits
            self.limiter = RateLimiter(limits, self.clock)

    def accept_tokens(self, tokens: frozenset[str] | None) -> None:
        """Accept only ``tokens`` from now on (None: any non-empty token); survives :meth:`reset`, as configuration."""
        with self.lock:
            self.tokens = tokens

    def usage(self) -> dict[str, int]:
        with self.lock:
            return self.limiter.usage()

    # -- HTTP ---------------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        o, m, a = self._objects, self._misc, self._assoc
        objects = "/crm/v3/objects/{object_type}"
        v4 = "/crm/v4/objects/{object_type}/{object_id}/associations"
        batch4 = "/crm/v4/associations/{from_type}/{to_type}/batch"
        table: list[tuple[str, Handler, str, bool]] = [
            (f"{objects}/search", m.search, "POST", True),
            (f"{objects}/batch/create", o.batch_create, "POST", False),
            (f"{objects}/batch/read", o.batch_read, "POST", False),
            (f"{objects}/batch/update", o.batch_update, "POST", False),
            (f"{objects}/batch/upsert", o.batch_upsert, "POST", False),
            (f"{objects}/batch/archive", o.batch_archive, "POST", False),
            (objects, o.create, "POST", False),
            (objects, o.list_page, "GET", False),
            (f"{objects}/{{object_id}}", o.get, "GET", False),
            (f"{objects}/{{object_id}}", o.update, "PATCH", False),
            (f"{objects}/{{object_id}}", o.archive, "DELETE", False),
            ("/crm/v3/properties/{object_type}", m.list_properties, "GET", False),
            ("/crm/v3/properties/{object_type}", m.create_property, "POST", False),
            ("/crm/v3/properties/{object_type}/{name}", m.get_property, "GET", False),
            ("/crm/v3/owners/", m.list_owners, "GET", False),
            ("/crm/v3/owners", m.list_owners, "GET", False),
            ("/crm/v3/owners/{owner_id}", m.get_owner, "GET", False),
            (f"{v4}/{{to_type}}", a.read, "GET", False),
            (f"{v4}/default/{{to_type}}/{{to_id}}", a.create_default, "PUT", False),
            (f"{v4}/{{to_type}}/{{to_id}}", a.create_labelled, "PUT", False),
            (f"{v4}/{{to_type}}/{{to_id}}", a.remove, "DELETE", False),
            (f"{batch4}/read", a.batch_read, "POST", False),
            (f"{batch4}/create", a.batch_create, "POST", False),
            (f"{batch4}/associate/default", a.batch_default, "POST", False),
            (f"{batch4}/archive", a.batch_archive, "POST", False),
        ]
        return [
            Route(path, self._endpoint(handler, search=search), methods=[method])
            for path, handler, method, search in table
        ]

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        with self.lock:
            return self.tokens is None or token in self.tokens

    def _endpoint(self, handler: Handler, *, search: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self._authorised(request):
                return unauthenticated().response()
            with self.lock:
                verdict = self.limiter.admit(search=search)
                headers = {} if search else self.limiter.headers()
            if verdict is Verdict.SEARCH:
                return JSONResponse(search_rate_limit_body(), status_code=429)
            if verdict is not Verdict.OK:
                return JSONResponse(rate_limit_body(verdict.value), status_code=429, headers=headers)
            try:
                status, body = await handler(request)
            except HubSpotError as exc:
                return exc.response(headers)
            if body is None:
                return Response(status_code=status, headers=headers)
            return JSONResponse(body, status_code=status, headers=headers)

        return endpoint


def _kind(name: str) -> str:
    kind = object_type(name)
    if kind is None:
        raise ValueError(f"the HubSpot sandbox does not emulate {name!r}")
    return kind
