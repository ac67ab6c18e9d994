"""OAuth token endpoint and session checks, through requests (the token call) and simple-salesforce (the API)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from tests.sandbox.salesforce.conftest import Org, content


def _token(org: Org, form: dict[str, str], auth: tuple[str, str] | None = None) -> tuple[int, dict[str, str]]:
    response = org.session().post(f"{org.url}/services/oauth2/token", data=form, auth=auth)
    return response.status_code, response.json()


def test_password_grant_issues_a_working_session(org: Org) -> None:
    creds = org.emulator.credentials
    status, body = _token(
        org,
        {
            "grant_type": "password",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": creds.password + creds.security_token,
        },
    )
    assert status == 200
    assert body["instance_url"] == org.url
    assert body["token_type"] == "Bearer"
    assert body["id"].endswith(f"/{org.emulator.running_user_id}")
    expected = hmac.new(creds.client_secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert base64.b64decode(body["signature"]) == expected.digest()
    sf = Salesforce(instance_url=body["instance_url"], session_id=body["access_token"], session=org.session())
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 25  # the 24 sample reps and one who left
    assert sf.query("SELECT COUNT() FROM User WHERE IsActive = true")["totalSize"] == 24


def test_client_credentials_grant_with_basic_auth(org: Org) -> None:
    creds = org.emulator.credentials
    status, body = _token(org, {"grant_type": "client_credentials"}, auth=(creds.client_id, creds.client_secret))
    assert status == 200
    assert body["access_token"]


@pytest.mark.parametrize(
    ("form", "error", "description"),
    [
        ({"username": "dana.kim@yourco.com", "password": "wrong"}, "invalid_grant", "authentication failure"),
        ({"username": "nobody@yourco.com", "password": "sandbox-password"}, "invalid_grant", "authentication failure"),
        ({"client_id": "other-app"}, "invalid_client_id", "client identifier invalid"),
        ({"client_secret": "leaked"}, "invalid_client", "invalid client credentials"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type", "grant type not supported"),
    ],
)
def test_bad_credentials_are_400_with_oauth_error(org: Org, form: dict[str, str], error: str, description: str) -> None:
    creds = org.emulator.credentials
    base = {
        "grant_type": "password",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "username": creds.username,
        "password": creds.password,
    }
    status, body = _token(org, {**base, **form})
    assert status == 400
    assert body == {"error": error, "error_description": description}


def test_unknown_or_revoked_token_is_401_invalid_session_id(org: Org) -> None:
    stranger = Salesforce(instance_url=org.url, session_id="00D!forged", session=org.session())
    with pytest.raises(SalesforceExpiredSession) as forged:
        stranger.query("SELECT Id FROM User")
    assert content(forged)[0]["errorCode"] == "INVALID_SESSION_ID"
    sf = org.client()
    sf.query("SELECT Id FROM User LIMIT 1")
    org.emulator.revoke_tokens()
    with pytest.raises(SalesforceExpiredSession) as revoked:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert content(revoked) == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_401_is_not_counted_against_the_allocation(org: Org) -> None:
    stranger = Salesforce(instance_url=org.url, session_id="bad", session=org.session())
    with pytest.raises(SalesforceExpiredSession):
        stranger.limits()
    assert org.emulator.api_usage()[0] == 0
