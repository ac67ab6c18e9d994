"""Running ``syncer daemon`` as a real subprocess in tests: free ports, JSON log lines, polling with a deadline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from connectors.sandbox import Sandbox
from connectors.slack.sandbox.tokens import DEMO_BOT_TOKEN
from syncer.demo.sample_warehouse import build_sample_warehouse

SYNCER = str(Path(sys.executable).parent / "syncer")
TOKEN = "trigger-token-for-tests"
SIGNING_SECRET = "slack-signing-secret-for-tests"
ENVIRONMENT = {
    "TEST_HUBSPOT_TOKEN": "pat-na1-daemon-test",
    "TEST_SLACK_TOKEN": DEMO_BOT_TOKEN,
    "SYNCER_TRIGGER_TOKEN": TOKEN,
    "TEST_SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SYNCER_LOG_FORMAT": "json",
}
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slack_root(sandbox: Sandbox) -> str:
    """The Slack emulator's root URL: its response URLs live under it, so daemons under test may POST there."""
    return sandbox.urls["slack"].removesuffix("api/")


def project_yaml(sandbox: Sandbox, state_url: str, port: int, daemon_extra: str = "") -> str:
    return textwrap.dedent(f"""\
        warehouse:
          url: duckdb:///warehouse.duckdb
        state:
          url: {state_url}
        connectors:
          hubspot:
            type: hubspot
            access_token: ${{TEST_HUBSPOT_TOKEN}}
            base_url: {sandbox.urls["hubspot"]}
          slack:
            type: slack
            token: ${{TEST_SLACK_TOKEN}}
            base_url: {sandbox.urls["slack"]}
            signing_secret: ${{TEST_SLACK_SIGNING_SECRET}}
            response_url_prefixes: ["{slack_root(sandbox)}"]
        daemon:
          port: {port}
          trigger_token: ${{SYNCER_TRIGGER_TOKEN}}
        """) + textwrap.indent(textwrap.dedent(daemon_extra), "  ")


def hubspot_mapping(name: str, schedule: str, model: str = "table: scored_accounts") -> str:
    return textwrap.dedent(f"""\
        name: {name}
        model:
          {model}
        key: account_id
        destination:
          connector: hubspot
          object: companies
          match:
            column: account_id
            field: product_account_id
        fields:
          pql_score:
            source: pql_score
            type: number
          pql_tier: pql_tier
        schedule: "{schedule}"
        """)


def slack_mapping(name: str, schedule: str, model: str = "table: scored_accounts") -> str:
    """A sync to a connector that takes no field writes: each run plans and commits, and sends nothing."""
    return textwrap.dedent(f"""\
        name: {name}
        model:
          {model}
        key: account_id
        destination:
          connector: slack
          object: alerts
          match:
            column: owner_email
            field: email
        fields:
          pql_tier: pql_tier
        schedule: "{schedule}"
        """)


def write_project(root: Path, project: str, mappings: dict[str, str], accounts: int = 50) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "syncer.yaml").write_text(project)
    (root / "mappings").mkdir(exist_ok=True)
    for name, text in mappings.items():
        (root / "mappings" / f"{name}.yaml").write_text(text)
    if not (root / "warehouse.duckdb").exists():
        build_sample_warehouse(root / "warehouse.duckdb", accounts=accounts)
    return root


def poll(check: Callable[[], T | None], deadline_s: float, what: str, every: float = 0.1) -> T:
    """``check()`` until it answers something truthy; fail naming ``what`` after ``deadline_s`` seconds."""
    end = time.monotonic() + deadline_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(every)


@dataclass(eq=False)
class DaemonProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        parsed = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if name is None or record.get("event") == name:
                parsed.append(record)
        return parsed

    def runs(self) -> list[dict[str, Any]]:
        return self.events("run")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def ready(self) -> bool:
        try:
            return self.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout)


@contextmanager
def daemon_process(
    root: Path,
    port: int,
    argv: Sequence[str] | None = None,
    name: str = "daemon",
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[DaemonProcess]:
    """``syncer daemon --project root`` (or ``argv``), logs in ``root/<name>.log``; killed at the end if alive."""
    log_path = root / f"{name}.log"
    command = list(argv) if argv is not None else [SYNCER, "daemon", "--project", str(root)]
    env = {**os.environ, **ENVIRONMENT, **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd or root)
    handle = DaemonProcess(process, log_path, f"http://127.0.0.1:{port}")
    try:
        poll(
            lambda: (handle.ready() and handle.events("daemon_started")) or process.poll() is not None,
            60,
            f"{name} to serve /healthz",
        )
        assert process.poll() is None, f"{name} exited: {log_path.read_text()[-2000:]}"
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
