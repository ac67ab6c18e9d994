"""The demo's CRM and Slack: a sandbox already serving on the default ports, or one started in this process.

The demo reads what landed back over the sandbox's inspection API (``/_sandbox/state``), the same way whichever of
the two it uses, so what it shows is what the emulated vendors hold, not what syncer believes it sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class SandboxLink:
    """Base URLs of the served emulators; ``started`` when this process started them (their data is new)."""

    urls: dict[str, str]
    ca_file: Path
    started: bool

    def state(self, vendor: str) -> dict[str, Any]:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(self.ca_file)) if self.urls[vendor].startswith("https") else True
        )
        reply = httpx.get(f"{self.urls[vendor]}/_sandbox/state", verify=verify, timeout=30)
        reply.raise_for_status()
        state: dict[str, Any] = reply.json()
        return state


def _serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sandbox/state", timeout=2).is_success
    except httpx.HTTPError:
        return False


def local_ports(urls: dict[str, str]) -> dict[str, int]:
    """The loopback port of each vendor URL; a URL elsewhere is refused (the demo never writes to a real CRM)."""
    ports = {}
    for vendor, url in urls.items():
        parsed = urlsplit(url)
        if parsed.hostname not in ("127.0.0.1", "localhost") or parsed.port is None:
            raise DemoError(f"the demo runs against the local sandbox, but syncer.yaml points {vendor} at {url}")
        ports[vendor] = parsed.port
    return ports


class DemoError(Exception):
    """The demo cannot run as configured."""


@contextmanager
def demo_sandbox(directory: Path, urls: dict[str, str], tokens: frozenset[str]) -> Iterator[SandboxLink]:
    """Use the sandbox already serving at ``urls`` (``syncer sandbox``), or serve one there until the block ends.

    ``urls``: each vendor's base URL as ``syncer.yaml`` gives it; ``tokens``: the HubSpot tokens to accept.
    """
    ports = local_ports(urls)
    bases = {vendor: url.rstrip("/").removesuffix("/api") for vendor, url in urls.items()}
    if _serving(bases["hubspot"]) and (directory / "ca.pem").exists():
        yield SandboxLink(bases, directory / "ca.pem", started=False)
        return
    from connectors.sandbox import Sandbox

    with Sandbox.start(directory, ports, hubspot_tokens=tokens) as served:
        yield SandboxLink(bases, served.ca_file, started=True)
