"""What ``syncer daemon``, ``trigger`` and ``health`` refuse: one clear line and an exit code, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from connectors.sandbox import Sandbox
from tests.daemon.procs import (
    ENVIRONMENT,
    SYNCER,
    daemon_process,
    free_port,
    project_yaml,
    slack_mapping,
    write_project,
)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd,
                          timeout=60)


def test_refusals(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    root = write_project(tmp_path / "project", project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port),
                         {"a": slack_mapping("a", "every 1h")}, accounts=5)
    daemon = [SYNCER, "daemon", "--project", str(root)]

    # The trigger token's variable is unset: the daemon never serves with a placeholder for a secret.
    env_without = {k: v for k, v in {**os.environ, **ENVIRONMENT}.items() if k != "SYNCER_TRIGGER_TOKEN"}
    missing = subprocess.run(daemon, check=False, capture_output=True, text=True, env=env_without, timeout=60)
    assert missing.returncode == 2, missing.stderr
    assert "daemon.trigger_token: environment variable SYNCER_TRIGGER_TOKEN is not set" in missing.stderr
    assert "Traceback" not in missing.stderr

    # The port is taken.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        taken = run(daemon, ENVIRONMENT, tmp_path)
    assert taken.returncode == 1 and f"cannot serve HTTP on 127.0.0.1:{port}" in taken.stderr, taken.stderr
    assert "Traceback" not in taken.stderr

    # A DuckDB state serves one process: a second daemon is refused while the first runs.
    with daemon_process(root, port):
        second = run([*daemon, "--port", str(free_port())], ENVIRONMENT, tmp_path)
        assert second.returncode == 1, second.stderr
        assert "in use by another process" in second.stderr and "Traceback" not in second.stderr
        no_token = run([SYNCER, "trigger", "a", "--url", f"http://127.0.0.1:{port}", "--token-env", "NOPE_UNSET"],
                       {}, tmp_path)
        assert no_token.returncode == 2 and "NOPE_UNSET is not set" in no_token.stderr
        unknown = run([SYNCER, "trigger", "zz", "--url", f"http://127.0.0.1:{port}"], ENVIRONMENT, tmp_path)
        assert unknown.returncode == 2 and "no sync named 'zz'" in unknown.stderr
    nobody = run([SYNCER, "trigger", "a", "--url", f"http://127.0.0.1:{port}"], ENVIRONMENT, tmp_path)
    assert nobody.returncode == 1 and "cannot reach the daemon" in nobody.stderr
    down = run([SYNCER, "health", "--url", f"http://127.0.0.1:{port}/healthz"], {}, tmp_path)
    assert down.returncode == 1 and down.stderr.startswith("unhealthy")
