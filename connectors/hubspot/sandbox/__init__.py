"""Local, stateful emulator of HubSpot's CRM v3 / associations v4 APIs for hubspot-api-client."""

from connectors.hubspot.sandbox.emulator import HubSpotEmulator
from connectors.hubspot.sandbox.limits import HubSpotLimits

__all__ = ["HubSpotEmulator", "HubSpotLimits"]
