"""Salesforce emulator for the sandbox: REST sObjects, SOQL, sObject Collections, Bulk API 2.0, OAuth and limits.

Serve it over HTTPS (simple-salesforce only speaks https)::

    paths = make_tls_files(tmp_dir)
    server = EmulatorServer(SalesforceEmulator(), certfile=paths.cert_chain_pem, keyfile=paths.key_pem).start()
    session = requests.Session(); session.verify = str(paths.ca_pem)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides session.verify
    sf = Salesforce(instance_url=server.url, session_id=server.emulator.issue_token(), session=session)
"""

from connectors.salesforce.sandbox.auth import SalesforceCredentials
from connectors.salesforce.sandbox.emulator import SalesforceEmulator
from connectors.salesforce.sandbox.limits import SalesforceLimits
from connectors.salesforce.sandbox.schema import DEFAULT_CUSTOM_FIELDS, FieldSpec, FieldType, with_default_custom_fields
from connectors.salesforce.sandbox.tls import TlsPaths, make_tls_files

__all__ = [
    "DEFAULT_CUSTOM_FIELDS",
    "FieldSpec",
    "FieldType",
    "SalesforceCredentials",
    "SalesforceEmulator",
    "SalesforceLimits",
    "TlsPaths",
    "make_tls_files",
    "with_default_custom_fields",
]
