"""Connectors, one package per vendor, behind syncer's batch-first destination interface.

``REGISTRY`` maps the ``type:`` of a ``syncer.yaml`` connector entry to what the engine needs to know about it.
Only settings models and capabilities (plain data) are imported here; each vendor's SDK loads when one of its
destinations is opened.
"""

from __future__ import annotations

from connectors.hubspot.capabilities import OBJECTS as HUBSPOT_OBJECTS
from connectors.hubspot.settings import HubSpotSettings
from connectors.salesforce.settings import SalesforceSettings
from connectors.slack.settings import SlackSettings
from connectors.webhook.settings import WebhookSettings
from syncer.config.sync import SyncMode
from syncer.delivery.registry import ConnectorType, Registry

_ALL_MODES = frozenset(SyncMode)

REGISTRY: Registry = {
    "hubspot": ConnectorType("hubspot", HubSpotSettings, _ALL_MODES, HUBSPOT_OBJECTS,
                             "connectors.hubspot.connector:open_destination",
                             tasks="connectors.hubspot.tasks:open_task_destination"),
    "salesforce": ConnectorType("salesforce", SalesforceSettings, _ALL_MODES, None,
                                "connectors.salesforce.connector:open_destination", path_settings=("ca_bundle",),
                                tasks="connectors.salesforce.tasks:open_task_destination"),
    "slack": ConnectorType("slack", SlackSettings, frozenset({SyncMode.UPSERT}), frozenset({"alerts"}), None,
                           alerts="connectors.slack.channel:open_alert_channel",
                           interactions="connectors.slack.interactions:open_interactions"),
    "webhook": ConnectorType("webhook", WebhookSettings, _ALL_MODES, None,
                             "connectors.webhook.connector:open_destination"),
}

__all__ = ["REGISTRY"]
