"""Logging in to a Salesforce org: which grant the settings call for, the token request, and the HTTP session.

Three ways in, chosen from the settings in this order:

- ``access_token``: used as given; it cannot be renewed, so a 401 stops the destination.
- ``client_id`` + ``client_secret`` + ``username`` + ``password``: the OAuth password grant.
- ``client_id`` + ``client_secret``: the OAuth client-credentials grant (a connected app's run-as user).

Both OAuth grants post to the org's own ``{instance_url}/services/oauth2/token`` (simple-salesforce's login helpers
only know ``login.salesforce.com``-style hosts) and can be repeated when a session expires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from connectors.salesforce.settings import SalesforceSettings
from syncer.contract.errors import DestinationStoppedError, TransientError

DEFAULT_TIMEOUT_S = 60.0


class Grant(StrEnum):
    ACCESS_TOKEN = "access_token"
    PASSWORD = "password"
    CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True)
class Session:
    """A live API session: the bearer token and the instance the token is valid for."""

    access_token: str = field(repr=False)
    instance_url: str


class TimeoutSession(requests.Session):
    """A requests session that gives every call a timeout, since simple-salesforce passes none."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def http_session(settings: SalesforceSettings, timeout_s: float = DEFAULT_TIMEOUT_S) -> requests.Session:
    """The session every call goes through; it trusts ``settings.ca_bundle`` when one is given."""
    session = TimeoutSession(timeout_s)
    if settings.ca_bundle:
        session.verify = settings.ca_bundle
        # Else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment would override session.verify.
        session.trust_env = False
    return session


def grant_for(settings: SalesforceSettings) -> Grant:
    """Which way in the settings describe; a one-line DestinationStoppedError when they describe none."""
    if settings.access_token is not None:
        return Grant.ACCESS_TOKEN
    app = settings.client_id is not None and settings.client_secret is not None
    if settings.username is not None or settings.password is not None:
        if not (app and settings.username is not None and settings.password is not None):
            raise DestinationStoppedError(
                "a Salesforce username/password login needs username, password, "
                "client_id and client_secret (the connected app)",
                "CONFIGURATION",
            )
        return Grant.PASSWORD
    if app:
        return Grant.CLIENT_CREDENTIALS
    raise DestinationStoppedError(
        "Salesforce settings need access_token, or client_id and client_secret "
        "(with username and password for the password grant)",
        "CONFIGURATION",
    )


def log_in(settings: SalesforceSettings, session: requests.Session) -> Session:
    """A session for the org. Raises DestinationStoppedError when the org refuses the credentials and
    TransientError when the token endpoint cannot be reached or fails."""
    grant = grant_for(settings)
    instance = settings.instance_url.rstrip("/")
    if grant is Grant.ACCESS_TOKEN:
        assert settings.access_token is not None
        return Session(settings.access_token.get_secret_value(), instance)
    assert settings.client_id is not None and settings.client_secret is not None
    form = {
        "grant_type": grant.value,
        "client_id": settings.client_id.get_secret_value(),
        "client_secret": settings.client_secret.get_secret_value(),
    }
    if grant is Grant.PASSWORD:
        assert settings.username is not None and settings.password is not None
        form.update(username=settings.username, password=settings.password.get_secret_value())
    try:
        reply = session.post(f"{instance}/services/oauth2/token", data=form)
        body = reply.json()
    except requests.exceptions.RequestException as exc:
        raise TransientError(
            f"the Salesforce token endpoint could not be reached ({type(exc).__name__})", "CONNECTION"
        ) from None
    except ValueError:
        raise TransientError(
            f"the Salesforce token endpoint answered HTTP {reply.status_code} without JSON", f"HTTP_{reply.status_code}"
        ) from None
    if reply.status_code >= 500:
        raise TransientError(
            f"the Salesforce token endpoint failed with HTTP {reply.status_code}", f"HTTP_{reply.status_code}"
        )
    if reply.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error", "error") if isinstance(body, dict) else "error"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        raise DestinationStoppedError(
            f"Salesforce refused the {grant.value} login: {error} ({description})", str(error)
        )
    return Session(str(body["access_token"]), str(body.get("instance_url") or instance).rstrip("/"))
