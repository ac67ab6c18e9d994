"""The demo and the local sandbox."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncer import output
from syncer.cli.base import EXIT_BAD_INPUT, EXIT_FAILED, ProjectOption, cli, open_app, validate_models

if TYPE_CHECKING:
    from syncer.app import App
    from syncer.demo.sandbox_link import SandboxLink


@cli.command()
def demo(
    project: ProjectOption = Path("."),
    accounts: Annotated[int, typer.Option(help="Accounts in the sample warehouse.")] = 5_000,
    day: Annotated[int, typer.Option(help="Simulated day: each day some accounts heat up.")] = 0,
    *,
    rebuild: Annotated[bool, typer.Option(help="Rebuild the sample warehouse even if it exists.")] = False,
) -> None:
    """The whole story on the sample warehouse and the sandbox CRM and Slack: a first sync, a simulated day of
    product usage, a second sync, and what landed: rows sent, tasks created, alerts sent and held back per rep."""
    from syncer.demo.command import DEMO_ENVIRONMENT, prepare_demo, sandbox_urls
    from syncer.demo.sandbox_link import DemoError, demo_sandbox

    environ = {**DEMO_ENVIRONMENT, **os.environ}
    with open_app(project, environ) as app:
        prepare_demo(app, accounts, day, rebuild=rebuild)
        problems = validate_models(app)
        if problems:
            output.show_problems(problems)
            raise typer.Exit(EXIT_BAD_INPUT)
        output.console.print(f"[green]ok[/]: {len(app.project.syncs)} mapping(s) valid")
        tokens = frozenset({environ["HUBSPOT_ACCESS_TOKEN"]})
        with ExitStack() as stack:
            try:
                link = stack.enter_context(demo_sandbox(project / ".syncer" / "sandbox", sandbox_urls(app), tokens))
            except DemoError as exc:
                output.show_error(str(exc))
                raise typer.Exit(EXIT_BAD_INPUT) from None
            _run_demo(app, link, accounts, day)


def _run_demo(app: App, link: SandboxLink, accounts: int, day: int) -> None:
    from syncer.demo.command import show_landed
    from syncer.demo.story import tell

    if link.started:
        output.console.print(f"started the sandbox CRM and Slack on 127.0.0.1 ({', '.join(link.urls.values())})")
    if not tell(app, link, accounts, day):
        raise typer.Exit(EXIT_FAILED)
    show_landed(link)
    output.console.rule("next")
    output.console.print(
        "run it on a schedule: syncer daemon   (every sync on its mapping's schedule; see README)",
        markup=False,
        highlight=False,
    )


@cli.command()
def sandbox(
    directory: Annotated[Path, typer.Option(help="Where TLS files go.")] = Path(".syncer/sandbox"),
    hubspot_port: int = 8701,
    salesforce_port: int = 8702,
    slack_port: int = 8703,
) -> None:
    """Serve the local HubSpot, Salesforce and Slack emulators on 127.0.0.1 until interrupted."""
    import time

    from connectors.sandbox import Sandbox
    from syncer.demo.command import DEMO_ENVIRONMENT

    ports = {"hubspot": hubspot_port, "salesforce": salesforce_port, "slack": slack_port}
    # HubSpot answers 401 to any token but the demo's, as the real portal does to an unknown one.
    tokens = frozenset({DEMO_ENVIRONMENT["HUBSPOT_ACCESS_TOKEN"]})
    with Sandbox.start(directory, ports, hubspot_tokens=tokens) as served:
        for name, url in served.urls.items():
            output.console.print(f"{name:<11} {url}")
        output.console.print(
            f"Salesforce clients trust the CA in {served.ca_file}; inspect any of them under "
            "/_sandbox/ (state, requests, requests/counts, reset, faults). Ctrl-C stops."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            output.console.print("sandbox stopped")
