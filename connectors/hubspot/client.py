"""hubspot-api-client calls as :class:`~connectors.hubspot.errors.Reply` values, with the SDK's own retries off.

Every call goes through the SDK (its auth, serialisation and urllib3 pool) with ``_preload_content=False``, so the
connector sees the raw status, body and ``X-HubSpot-RateLimit-*`` headers of every reply, 207s included, and the
SDK never deserialises into models the connector would only take apart again. Bodies are plain dicts, which the
SDK serialises as it would its own models. urllib3 is given ``Retry(total=0)``: the executor owns retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from connectors.hubspot.errors import RECORD_STATUSES, Reply, classify, unreachable
from connectors.hubspot.settings import HubSpotSettings
from syncer.contract.destination import RateInfo

TIMEOUT_S = 30.0  # per request; a slower reply counts as no reply (TransientError)


class HubSpotClient:
    """The calls one destination makes on one object type. Thread-safe: each SDK sub-client is built once (every
    attribute access on the SDK would build a new one, with a new connection pool) and urllib3's pool is."""

    def __init__(self, settings: HubSpotSettings, object_type: str, timeout_s: float = TIMEOUT_S) -> None:
        sdk = HubSpot(
            access_token=settings.access_token.get_secret_value(),
            host=settings.base_url.rstrip("/"),
            retry=Retry(total=0, redirect=0, raise_on_status=False),
        )
        # Activities (tasks) live under ``crm.objects``; companies, contacts and deals directly under ``crm``.
        objects = getattr(sdk.crm, object_type, None) or getattr(sdk.crm.objects, object_type)
        self.sdk = sdk
        self.object_type = object_type
        self._batch, self._search = objects.batch_api, objects.search_api
        self._properties = sdk.crm.properties.core_api
        self.timeout_s = timeout_s

    def batch(self, action: str, inputs: list[dict[str, Any]]) -> Reply:
        """``POST /crm/v3/objects/{object_type}/batch/{action}`` (create, update or upsert).

        A 400, 404 or 409 is returned, not raised: for a batch of one it is that record's refusal.
        """
        return self._send(getattr(self._batch, action), {"inputs": inputs}, keep=RECORD_STATUSES)

    def read_by_id(self, ids: list[str], properties: list[str]) -> Reply:
        """``POST /crm/v3/objects/{object_type}/batch/read`` by record id (ids that match nothing come back as a
        207's errors, not raised)."""
        body = {"inputs": [{"id": i} for i in ids], "properties": properties, "propertiesWithHistory": []}
        return self._send(self._batch.read, body)

    def search(self, body: dict[str, Any]) -> Reply:
        return self._send(self._search.do_search, body)

    def properties(self) -> Reply:
        return self._send(self._properties.get_all, self.object_type)

    def create_property(self, definition: dict[str, Any]) -> Reply:
        return self._send(self._properties.create, self.object_type, definition)

    def close(self) -> None:
        """Close the sub-clients' connection pools."""
        for api in (self._batch, self._search, self._properties):
            client = api.api_client
            client.rest_client.pool_manager.clear()
            client.close()

    def _send(self, method: Callable[..., Any], *args: Any, keep: frozenset[int] = frozenset()) -> Reply:
        """One call; raises the mapped :class:`~syncer.contract.errors.DeliveryError` for anything but a 2xx or a
        status in ``keep``."""
        try:
            raw = method(*args, _preload_content=False, _request_timeout=self.timeout_s)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise unreachable(exc) from None
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int) or not hasattr(exc, "body"):
                raise
            if status == 0:  # the SDK's wrapper around an SSL failure: no reply was read
                raise unreachable(exc) from None
            reply = Reply.parse(status, exc.body, getattr(exc, "headers", None))
            if status in keep:
                return reply
            raise classify(reply) from None
        try:
            # The body is read here, not by the SDK: a connection dropped mid-body surfaces now.
            return Reply.parse(raw.status, raw.data, dict(raw.headers))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise unreachable(exc) from None
        finally:
            raw.release_conn()


def rate_info(headers: Mapping[str, str]) -> RateInfo | None:
    """What a reply's ``X-HubSpot-RateLimit-*`` headers (lower-cased) say; None when it had none (search)."""

    def number(name: str) -> int | None:
        raw = headers.get(f"x-hubspot-ratelimit-{name}")
        return int(raw) if raw is not None and raw.isdigit() else None

    interval = number("interval-milliseconds")
    info = RateInfo(
        remaining=number("remaining"),
        limit=number("max"),
        interval_s=interval / 1000 if interval is not None else None,
        daily_remaining=number("daily-remaining"),
        daily_limit=number("daily"),
    )
    return None if info == RateInfo() else info
