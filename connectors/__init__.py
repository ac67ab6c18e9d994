"""Connectors, one package per vendor, behind syncer's batch-first destination interface.

``REGISTRY`` maps the ``type:`` of a ``syncer.yaml`` connector entry to its
:class:`~syncer.contract.registry.ConnectorType`. Only settings models and capabilities (plain data) are imported
here; the factories below import a vendor's code, and its SDK, when a destination, task destination or alert channel
is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.hubspot import capabilities as hubspot_capabilities
from connectors.hubspot.settings import HubSpotSettings
from connectors.salesforce import capabilities as salesforce_capabilities
from connectors.salesforce.settings import SalesforceSettings
from connectors.slack import capabilities as slack_capabilities
from connectors.slack.settings import SlackSettings
from connectors.webhook import capabilities as webhook_capabilities
from connectors.webhook.settings import WebhookSettings
from syncer.contract.destination import Destination, Target
from syncer.contract.interactions import InteractionHandler, SeenRequests
from syncer.contract.registry import ConnectorType, Registry

if TYPE_CHECKING:
    from connectors.hubspot.tasks import HubSpotTaskDestination
    from connectors.salesforce.tasks import SalesforceTaskDestination
    from connectors.slack.channel import SlackAlertChannel


def _hubspot_destination(settings: HubSpotSettings, target: Target) -> Destination:
    from connectors.hubspot.connector import open_destination

    return open_destination(settings, target)


def _hubspot_tasks(settings: HubSpotSettings) -> HubSpotTaskDestination:
    from connectors.hubspot.tasks import open_task_destination

    return open_task_destination(settings)


def _salesforce_destination(settings: SalesforceSettings, target: Target) -> Destination:
    from connectors.salesforce.connector import open_destination

    return open_destination(settings, target)


def _salesforce_tasks(settings: SalesforceSettings) -> SalesforceTaskDestination:
    from connectors.salesforce.tasks import open_task_destination

    return open_task_destination(settings)


def _slack_alerts(settings: SlackSettings) -> SlackAlertChannel:
    from connectors.slack.channel import open_alert_channel

    return open_alert_channel(settings)


def _slack_interactions(settings: SlackSettings, seen: SeenRequests) -> InteractionHandler | None:
    from connectors.slack.interactions import open_interactions

    return open_interactions(settings, seen)


def _webhook_destination(settings: WebhookSettings, target: Target) -> Destination:
    from connectors.webhook.connector import open_destination

    return open_destination(settings, target)


REGISTRY: Registry = {
    "hubspot": ConnectorType[HubSpotSettings](
        "hubspot",
        HubSpotSettings,
        hubspot_capabilities.capabilities,
        destination=_hubspot_destination,
        tasks=_hubspot_tasks,
    ),
    "salesforce": ConnectorType[SalesforceSettings](
        "salesforce",
        SalesforceSettings,
        salesforce_capabilities.capabilities,
        destination=_salesforce_destination,
        tasks=_salesforce_tasks,
        path_settings=("ca_bundle",),
    ),
    "slack": ConnectorType[SlackSettings](
        "slack",
        SlackSettings,
        slack_capabilities.capabilities,
        alerts=_slack_alerts,
        interactions=_slack_interactions,
        quiet_loggers=("slack_sdk",),
    ),
    "webhook": ConnectorType[WebhookSettings](
        "webhook", WebhookSettings, webhook_capabilities.capabilities, destination=_webhook_destination
    ),
}

__all__ = ["REGISTRY"]
