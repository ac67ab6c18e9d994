"""What ``syncer daemon``, ``trigger`` and ``health`` refuse: one clear line and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from connectors.sandbox import Sandbox
from tests.daemon.procs import (
    ENVIRONMENT,
    SYNCER,
    TOKEN,
    daemon_process,
    free_port,
    project_yaml,
    slack_mapping,
    write_project,
)


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, check=False, capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=60
    )


def test_refusals(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port),
        {"a": slack_mapping("a", "every 1h")},
        accounts=5,
    )
    daemon = [SYNCER, "daemon", "--project", str(root)]

    # The trigger token's variable is unset: the daemon never serves with a placeholder for a secret.
    env_without = {k: v for k, v in {**os.environ, **ENVIRONMENT}.items() if k != "SYNCER_TRIGGER_TOKEN"}
    missing = subprocess.run(daemon, check=False, capture_output=True, text=True, env=env_without, timeout=60)
    assert missing.returncode == 2, missing.stderr
    assert "daemon.trigger_token: environment variable SYNCER_TRIGGER_TOKEN is not set" in missing.stderr
    assert "Traceback" not in missing.stderr

    # The port is taken. It is read from the environment, and shown as it is: only secret-typed settings are
    # redacted (the port once came out as 127.0.0.1:***).
    from_env = write_project(
        tmp_path / "from_env",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port).replace(
            f"port: {port}", "port: ${TEST_DAEMON_PORT}"
        ),
        {"a": slack_mapping("a", "every 1h")},
        accounts=5,
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        taken = run(
            [SYNCER, "daemon", "--project", str(from_env)], {**ENVIRONMENT, "TEST_DAEMON_PORT": str(port)}, tmp_path
        )
    assert taken.returncode == 1 and f"cannot serve HTTP on 127.0.0.1:{port}" in taken.stderr, taken.stderr
    assert "Traceback" not in taken.stderr and TOKEN not in taken.stderr
    refused = [json.loads(line) for line in taken.stderr.splitlines() if '"event":"daemon_refused"' in line]
    assert len(refused) == 1 and f"127.0.0.1:{port}" in refused[0]["error"], taken.stderr
    assert '"event":"daemon_stopped"' not in taken.stderr

    # A DuckDB state serves one process: a second daemon is refused while the first runs.
    with daemon_process(root, port):
        second = run([*daemon, "--port", str(free_port())], ENVIRONMENT, tmp_path)
        assert second.returncode == 1, second.stderr
        assert "in use by another process" in second.stderr and "Traceback" not in second.stderr
        # Its log says why it stopped, and never that it stopped cleanly.
        refused = [json.loads(line) for line in second.stderr.splitlines() if '"event":"daemon_refused"' in line]
        assert len(refused) == 1 and "in use by another process" in refused[0]["error"], second.stderr
        assert '"clean":true' not in second.stderr and '"event":"daemon_stopped"' not in second.stderr
        no_token = run(
            [SYNCER, "trigger", "a", "--url", f"http://127.0.0.1:{port}", "--token-env", "NOPE_UNSET"], {}, tmp_path
        )
        assert no_token.returncode == 2 and "NOPE_UNSET is not set" in no_token.stderr
        unknown = run([SYNCER, "trigger", "zz", "--url", f"http://127.0.0.1:{port}"], ENVIRONMENT, tmp_path)
        assert unknown.returncode == 2 and "no sync named 'zz'" in unknown.stderr
    nobody = run([SYNCER, "trigger", "a", "--url", f"http://127.0.0.1:{port}"], ENVIRONMENT, tmp_path)
    assert nobody.returncode == 1 and "cannot reach the daemon" in nobody.stderr
    down = run([SYNCER, "health", "--url", f"http://127.0.0.1:{port}/healthz"], {}, tmp_path)
    assert down.returncode == 1 and down.stderr.startswith("unhealthy")
