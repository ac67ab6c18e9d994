"""The daemon and the commands that talk to one: ``daemon``, ``trigger`` (for a dbt job), ``health`` (a probe)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from syncer import output
from syncer.cli.base import EXIT_BAD_INPUT, EXIT_FAILED, JsonOption, ProjectOption, cli, open_app
from syncer.config.errors import ConfigError

FAILED_STATUSES = ("failed", "blocked", "killed", "error")


@cli.command()
def daemon(
    project: ProjectOption = Path("."),
    *,
    reload: Annotated[
        bool, typer.Option("--reload", help="Reload when syncer.yaml or a mapping changes (as on SIGHUP).")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Bind address (default: daemon.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: daemon.port).")] = None,
) -> None:
    """Run every enabled sync on its schedule and serve /healthz, /readyz, /metrics and triggers until SIGTERM.

    SIGHUP reloads the project (a broken change is refused and logged; the running one stays). SIGTERM lets the
    runs in flight finish their batch and commit, then exits.
    """
    from connectors import REGISTRY
    from syncer.daemon.logs import configure_logging, quiet
    from syncer.daemon.service import Daemon
    from syncer.state import StateUnavailableError

    configure_logging()
    quiet(name for kind in REGISTRY.values() for name in kind.quiet_loggers)  # the vendors' SDKs
    with open_app(project) as app:
        loaded = app.project  # configuration problems: exit 2, as every command
        missing = loaded.missing_under(("daemon",))  # e.g. the trigger token's variable: never serve without it
        if missing:
            raise ConfigError([variable.problem for variable in missing])
        runner = Daemon(project, None, loaded, watch=reload, host=host, port=port)
        runner.install_signal_handlers()  # a SIGTERM while starting stops it once started
        try:
            runner.start()
        except OSError as exc:
            runner.abort(str(exc))
            output.show_error(str(exc))
            raise typer.Exit(EXIT_FAILED) from None
        except (StateUnavailableError, ConfigError) as exc:  # shown by open_app: one line, exit 1 (or 2)
            runner.abort(str(exc))
            raise
        clean = runner.serve_forever()
    if not clean:
        # A run outlived daemon.stop_timeout_s: leave now rather than wait for it (it is marked killed when the
        # state is next opened, and planned again); interpreter exit would join its thread.
        logging.shutdown()
        os._exit(EXIT_FAILED)


@cli.command()
def trigger(
    sync: Annotated[str, typer.Argument(help="The sync to run now.")],
    url: Annotated[str, typer.Option(help="The daemon's base URL.")] = "http://127.0.0.1:8780",
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the trigger token.")
    ] = "SYNCER_TRIGGER_TOKEN",
    *,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run and exit 1 if it failed.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the daemon's answer.")] = 3600.0,
    as_json: JsonOption = False,
) -> None:
    """Ask a running daemon to run SYNC now (e.g. from a dbt job, right after the model is rebuilt)."""
    import httpx

    token = os.environ.get(token_env, "")
    if not token:
        output.show_error(f"environment variable {token_env} is not set: it holds the daemon's trigger token")
        raise typer.Exit(EXIT_BAD_INPUT)
    target = f"{url.rstrip('/')}/syncs/{sync}/trigger" + ("?wait=true" if wait else "")
    try:
        reply = httpx.post(target, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    except httpx.InvalidURL as exc:
        output.show_error(f"bad --url: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except httpx.HTTPError as exc:
        output.show_error(f"cannot reach the daemon at {url}: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    try:
        body = reply.json()
    except ValueError:
        body = {"error": reply.text[:200]}
    if as_json:
        output.print_json(body)
    if reply.status_code >= 400:
        if not as_json:
            output.show_error(f"the daemon refused ({reply.status_code}): {body.get('error', body)}")
        raise typer.Exit(EXIT_BAD_INPUT if reply.status_code == 404 else EXIT_FAILED)
    if not as_json:
        output.console.print(json.dumps(body) if wait else f"queued a run of {sync}", markup=False, highlight=False)
    if wait and str(body.get("status")) in FAILED_STATUSES:
        raise typer.Exit(EXIT_FAILED)


@cli.command()
def health(
    url: Annotated[
        str | None,
        typer.Option(
            help="The probe URL (default: http://127.0.0.1:<daemon.port>/healthz, the port read from the project)."
        ),
    ] = None,
    project: ProjectOption = Path("."),
    timeout: Annotated[float, typer.Option(help="Seconds before giving up.")] = 5.0,
) -> None:
    """Exit 0 when the daemon's probe answers 200, 1 otherwise (the container's HEALTHCHECK)."""
    import httpx

    if url is None:
        url = f"http://127.0.0.1:{_configured_port(project)}/healthz"
    try:
        reply = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        output.show_error(f"unhealthy: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    if reply.status_code != 200:
        output.show_error(f"unhealthy: {reply.status_code} {reply.text[:200]}")
        raise typer.Exit(EXIT_FAILED)
    output.console.print("healthy", markup=False, highlight=False)


def _configured_port(root: Path) -> int:
    """``daemon.port`` of the project in ``root``; the default when the project cannot be read (the probe then
    tells whether a daemon answers there)."""
    from syncer.app import App
    from syncer.config.errors import ConfigError
    from syncer.config.project import DaemonConfig

    app = App(root)
    try:
        return app.project.config.daemon.port
    except ConfigError:
        return DaemonConfig().port
    finally:
        app.close()
