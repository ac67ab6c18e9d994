"""Serve the sandbox in a process of its own, for the crash soak: ``python -m tests.reliability.soak_sandbox DIR``.

Unlike ``syncer sandbox`` (fixed ports, the demo's HubSpot token only) it picks free ports, serves the webhook
receiver too, and writes ``DIR/sandbox.json`` (``{"urls": {vendor: base URL}, "hook": URL, "ca_file": path}``) once
every emulator is listening. It serves until SIGTERM or SIGINT, so the soak's ``syncer run`` processes can be killed
without taking the CRM's records with them.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from connectors.sandbox import Sandbox

READY_FILE = "sandbox.json"


def serve(directory: Path) -> None:
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with Sandbox.start(directory) as sandbox:
        ready = {
            "urls": {name: server.url for name, server in sandbox.servers.items()},
            "hook": sandbox.urls["webhook"],
            "ca_file": str(sandbox.ca_file),
        }
        partial = directory / (READY_FILE + ".tmp")
        partial.write_text(json.dumps(ready))
        partial.rename(directory / READY_FILE)  # appears whole: the harness waits for it
        done.wait()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
