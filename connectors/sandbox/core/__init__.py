"""The vendor-free sandbox core: the emulator base with inspection routes, fault injection, the request log and the
HTTP server. Each vendor's emulator lives with its connector (``connectors/<vendor>/sandbox/``); the three served
together are :class:`connectors.sandbox.Sandbox`.
"""

from connectors.sandbox.core.base import VendorEmulator
from connectors.sandbox.core.faults import Fault, FaultRule
from connectors.sandbox.core.server import EmulatorServer

__all__ = ["EmulatorServer", "Fault", "FaultRule", "VendorEmulator"]
