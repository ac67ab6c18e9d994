"""Serving an emulator on 127.0.0.1 from a background thread (tests) or the foreground (``syncer sandbox``)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import uvicorn

from connectors.sandbox.core.base import VendorEmulator


class _Server(uvicorn.Server):
    """uvicorn's server, which also drops the connections still open when its graceful shutdown ends.

    A client that keeps a connection (a response still referenced by a test's exception, say) never answers the TLS
    close, so uvicorn gives up on it and its loop ends with the socket open. In a process that lives on after the
    sandbox stops (the test suite), that socket would leak; aborting it closes it now.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            connection.transport.abort()


class EmulatorServer:
    """Runs one emulator with uvicorn on ``host:port`` (port 0 picks a free one) in a daemon thread.

    With ``certfile``/``keyfile`` it serves HTTPS (the Salesforce emulator, whose SDK only speaks https).
    """

    def __init__(
        self,
        emulator: VendorEmulator,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        self.emulator = emulator
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.scheme = "https" if certfile else "http"
        config = uvicorn.Config(
            emulator.asgi(),
            log_level="critical",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        # uvicorn logs the faults we inject on purpose (dropped connections) as errors; they are not errors here.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sandbox-{self.emulator.vendor}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.emulator.vendor} sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
