"""One logged-in simple-salesforce client, with the error table applied and the org's usage read from every reply.

:meth:`SalesforceClient.call` runs one request through the SDK. A 401 ``INVALID_SESSION_ID`` logs in again once
when the grant allows it (OAuth) and repeats that request (a 401 wrote nothing); every other failure is raised as
the :mod:`connectors.salesforce.errors` table says. A response hook on the requests session reads
``Sforce-Limit-Info: api-usage=USED/TOTAL`` from every reply, error replies and Bulk calls included, which
simple-salesforce's own ``api_usage`` does not cover.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession, SalesforceOperationError

from connectors.salesforce.auth import DEFAULT_TIMEOUT_S, Grant, Session, grant_for, http_session, log_in
from connectors.salesforce.errors import delivery_error
from connectors.salesforce.settings import SalesforceSettings
from syncer.contract.destination import RateInfo
from syncer.contract.errors import TransientError

T = TypeVar("T")
_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


class SalesforceClient:
    """Not thread-safe: a re-login replaces the SDK client that every request goes through."""

    def __init__(self, settings: SalesforceSettings, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.settings = settings
        self.grant = grant_for(settings)
        self.http = http_session(settings, timeout_s)
        self.http.hooks["response"].append(self._observe)
        self.calls = 0
        self.usage: tuple[int, int] | None = None
        self.sf = self._connect(log_in(settings, self.http))

    def _connect(self, session: Session) -> Salesforce:
        return Salesforce(
            instance_url=session.instance_url,
            session_id=session.access_token,
            session=self.http,
            version=self.settings.api_version,
        )

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" not in response.url:
            return  # the token endpoint does not count against the allocation
        self.calls += 1
        found = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if found:
            self.usage = (int(found.group(1)), int(found.group(2)))

    def reset_counters(self) -> None:
        """Start counting the calls and usage of a new batch."""
        self.calls = 0
        self.usage = None

    def rate_info(self) -> RateInfo | None:
        """What the last reply since :meth:`reset_counters` said about the daily allocation."""
        if self.usage is None:
            return None
        used, total = self.usage
        return RateInfo(daily_remaining=max(0, total - used), daily_limit=total)

    def call(self, doing: str, action: Callable[[Salesforce], T]) -> T:
        """Run ``action`` with the SDK client; failures are raised as DeliveryError subclasses."""
        relogged = False
        while True:
            try:
                return action(self.sf)
            except SalesforceExpiredSession as exc:
                if relogged or self.grant is Grant.ACCESS_TOKEN:
                    raise delivery_error(exc, doing) from None
                self.sf = self._connect(log_in(self.settings, self.http))
                relogged = True
            except (SalesforceError, SalesforceOperationError, requests.exceptions.RequestException, ValueError) as exc:
                # "from None": the SDK's exception text carries URLs and whole reply bodies.
                raise delivery_error(exc, doing) from None
            except (KeyError, TypeError) as exc:
                raise TransientError(f"{doing}: Salesforce's reply lacked {exc}", "BAD_REPLY") from None

    def rest(self, doing: str, method: str, path: str, body: Any = None) -> Any:
        """A REST call under ``/services/data/vXX.X/``; its decoded JSON reply (``None`` for 204)."""
        return self.call(doing, lambda sf: sf.restful(path, method=method, json=body))

    def bulk_jobs(self, sf: Salesforce, object_name: str) -> _Bulk2Client:
        """simple-salesforce's Bulk API 2.0 job client, for the steps one at a time.

        Its public ``sf.bulk2.X.upsert`` waits with ``time.sleep`` inside; the step-wise client lets the connector
        own the wait (see :mod:`connectors.salesforce.bulk`).
        """
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + sf.session_id, "X-PrettyPrint": "1"}
        return _Bulk2Client(object_name, sf.bulk2_url, headers, self.http)

    def close(self) -> None:
        self.http.close()
