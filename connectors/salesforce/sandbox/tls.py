"""A throwaway certificate authority and server certificate, so the emulator can serve HTTPS on 127.0.0.1.

simple-salesforce only builds ``https://`` URLs. Rather than turn verification off, clients trust this CA:
``session.verify = str(paths.ca_pem)``, with ``session.trust_env = False``: requests lets
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment override ``Session.verify`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsPaths:
    """Files written by :func:`make_tls_files`."""

    ca_pem: Path
    cert_chain_pem: Path
    key_pem: Path


def make_tls_files(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsPaths:
    """Create a CA and a server certificate for ``hosts`` in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    server = authority.issue_cert(*hosts)
    paths = TlsPaths(directory / "ca.pem", directory / "server-chain.pem", directory / "server-key.pem")
    authority.cert_pem.write_to_path(str(paths.ca_pem))
    server.private_key_pem.write_to_path(str(paths.key_pem))
    with paths.cert_chain_pem.open("wb") as chain:
        for blob in server.cert_chain_pems:
            chain.write(blob.bytes())
    return paths
