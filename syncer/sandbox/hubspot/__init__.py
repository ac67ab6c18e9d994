"""Local, stateful emulator of HubSpot's CRM v3 / associations v4 APIs for hubspot-api-client."""

from syncer.sandbox.hubspot.emulator import HubSpotEmulator
from syncer.sandbox.hubspot.limits import HubSpotLimits

__all__ = ["HubSpotEmulator", "HubSpotLimits"]
