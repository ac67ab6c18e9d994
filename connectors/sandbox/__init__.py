"""The sandbox: the HubSpot, Salesforce and Slack emulators and a webhook receiver served together, for the demo and
every connector test.

:class:`Sandbox` serves all four on 127.0.0.1 (Salesforce over HTTPS with a throwaway local CA, since its SDK only
speaks https) and exposes each emulator's Python API for inspection::

    with Sandbox.start(Path(".syncer/sandbox")) as sandbox:
        sandbox.urls        # {"hubspot": "http://127.0.0.1:...", "salesforce": "https://...", "slack": ".../api/",
                            #  "webhook": ".../hook"}
        sandbox.hubspot     # HubSpotEmulator: records, tasks, request log, faults

The package also holds what the emulators share: their vendor-free core (:mod:`connectors.sandbox.core`: the base
with inspection routes, faults, the request log, the server) and the sample company's people
(:mod:`connectors.sandbox.people`). Each vendor's emulator imports those, so this module imports the emulators only
when a sandbox starts: importing one emulator first must not come back here for another half-loaded one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from connectors.sandbox.core.server import EmulatorServer

if TYPE_CHECKING:
    from connectors.hubspot.sandbox import HubSpotEmulator
    from connectors.salesforce.sandbox import SalesforceEmulator
    from connectors.slack.sandbox import SlackEmulator
    from connectors.webhook.sandbox import WebhookReceiver

DEFAULT_PORTS = {"hubspot": 8701, "salesforce": 8702, "slack": 8703, "webhook": 8704}


@dataclass
class Sandbox:
    """The four emulators, served. Build it with :meth:`start`; stop it with :meth:`stop` or a ``with`` block."""

    hubspot: HubSpotEmulator
    salesforce: SalesforceEmulator
    slack: SlackEmulator
    webhook: WebhookReceiver
    servers: dict[str, EmulatorServer]
    ca_file: Path

    @classmethod
    def start(
        cls,
        directory: Path,
        ports: dict[str, int] | None = None,
        host: str = "127.0.0.1",
        hubspot_tokens: frozenset[str] | None = None,
    ) -> Sandbox:
        """Serve all four; ``ports`` 0 (the default for each missing name) picks free ports.

        ``directory`` receives the TLS files; clients of the Salesforce emulator trust ``ca_file``.
        ``hubspot_tokens``: the only access tokens HubSpot accepts (None: any non-empty one).
        """
        from connectors.hubspot.sandbox import HubSpotEmulator
        from connectors.salesforce.sandbox import SalesforceEmulator, make_tls_files
        from connectors.slack.sandbox import SlackEmulator
        from connectors.webhook.sandbox import WebhookReceiver

        chosen = {name: 0 for name in DEFAULT_PORTS} | (ports or {})
        tls = make_tls_files(directory)
        hubspot, salesforce, slack = HubSpotEmulator(tokens=hubspot_tokens), SalesforceEmulator(), SlackEmulator()
        webhook = WebhookReceiver()
        servers: dict[str, EmulatorServer] = {}
        try:
            servers["hubspot"] = EmulatorServer(hubspot, host, chosen["hubspot"]).start()
            servers["salesforce"] = EmulatorServer(
                salesforce, host, chosen["salesforce"], certfile=tls.cert_chain_pem, keyfile=tls.key_pem
            ).start()
            servers["slack"] = EmulatorServer(slack, host, chosen["slack"]).start()
            servers["webhook"] = EmulatorServer(webhook, host, chosen["webhook"]).start()
        except BaseException:
            for server in servers.values():
                server.stop()
            raise
        return cls(hubspot, salesforce, slack, webhook, servers, tls.ca_pem)

    @property
    def urls(self) -> dict[str, str]:
        """The base URL each SDK is given (Slack's includes the ``/api/`` prefix its WebClient expects); the webhook's
        is the full URL a webhook destination posts to."""
        from connectors.webhook.sandbox import HOOK_PATH

        return {
            "hubspot": self.servers["hubspot"].url,
            "salesforce": self.servers["salesforce"].url,
            "slack": self.servers["slack"].url + "/api/",
            "webhook": self.servers["webhook"].url + HOOK_PATH,
        }

    def reset(self) -> None:
        """Every emulator back to its seed data, with an empty request log and no faults."""
        for emulator in (self.hubspot, self.salesforce, self.slack, self.webhook):
            emulator.reset()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


__all__ = ["DEFAULT_PORTS", "Sandbox"]
