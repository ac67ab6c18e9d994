"""Fixtures: the Salesforce emulator served over HTTPS (throwaway CA) and simple-salesforce clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce

from connectors.salesforce.sandbox import (
    FieldSpec,
    FieldType,
    SalesforceEmulator,
    SalesforceLimits,
    TlsPaths,
    make_tls_files,
    with_default_custom_fields,
)
from connectors.sandbox.core.server import EmulatorServer
from tests.fakes import FakeClock

# A non-unique external id, so tests can make one key match several records (the 300 case).
LEGACY_ID = FieldSpec("Legacy_Id__c", FieldType.STRING, "Legacy Id", length=40, external_id=True)
START = 1_000.0

# simple-salesforce resolves sf.Account / sf.bulk2.Account dynamically and types them as unions, and types error
# content as bytes although it holds the decoded JSON; tests therefore hold clients and error content as Any.
SF = Any


def content(raised: pytest.ExceptionInfo[Any]) -> Any:
    """The decoded error body simple-salesforce attached to the exception."""
    return raised.value.content


@dataclass
class Org:
    """A served emulator, its clock, and what a client needs to reach it."""

    emulator: SalesforceEmulator
    server: EmulatorServer
    clock: FakeClock
    tls: TlsPaths
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.tls.ca_pem)
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify unless trust_env is off.
        session.trust_env = False
        self.sessions.append(session)
        return session

    def close_sessions(self) -> None:
        # uvicorn's shutdown waits for keep-alive connections, so clients hang up first.
        for session in self.sessions:
            session.close()
        self.sessions.clear()

    def client(self, version: str = "59.0") -> SF:
        return Salesforce(
            instance_url=self.url, session_id=self.emulator.issue_token(), session=self.session(), version=version
        )


def _serve(tls: TlsPaths, emulator: SalesforceEmulator) -> EmulatorServer:
    return EmulatorServer(emulator, certfile=tls.cert_chain_pem, keyfile=tls.key_pem).start()


@pytest.fixture(scope="session")
def tls_paths(tmp_path_factory: pytest.TempPathFactory) -> TlsPaths:
    return make_tls_files(Path(tmp_path_factory.mktemp("salesforce-tls")))


@pytest.fixture(scope="session")
def _shared_org(tls_paths: TlsPaths) -> Iterator[Org]:
    clock = FakeClock()
    emulator = SalesforceEmulator(custom_fields=with_default_custom_fields({"Account": [LEGACY_ID]}), clock=clock)
    server = _serve(tls_paths, emulator)
    yield Org(emulator, server, clock, tls_paths)
    server.stop()


@pytest.fixture
def org(_shared_org: Org) -> Iterator[Org]:
    """The shared org, reset to its seed data, with the clock back at its start."""
    _shared_org.clock.now = START
    _shared_org.emulator.reset()
    yield _shared_org
    _shared_org.close_sessions()


@pytest.fixture
def sf(org: Org) -> SF:
    return org.client()


@pytest.fixture
def make_org(tls_paths: TlsPaths) -> Iterator[Callable[[SalesforceLimits], Org]]:
    """A separately served org with its own limits (stopped after the test)."""
    started: list[Org] = []

    def build(limits: SalesforceLimits) -> Org:
        clock = FakeClock()
        emulator = SalesforceEmulator(limits=limits, clock=clock)
        started.append(Org(emulator, _serve(tls_paths, emulator), clock, tls_paths))
        return started[-1]

    yield build
    for built in started:
        built.close_sessions()
        built.server.stop()
