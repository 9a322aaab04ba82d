"""``enrich check``: is this installation ready to send? One line per check, exit 1 on a problem."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from enrich.cli.checks import check_configuration
from enrich.settings import get_settings

console = Console(soft_wrap=True)  # one line per finding, whatever the terminal width


def check_command(
    credentials: Annotated[
        bool,
        typer.Option("--credentials", help="Also ask SendGrid and Twilio whether the keys work."),
    ] = False,
) -> None:
    """Validate the configuration (and with --credentials the provider keys)."""
    settings = get_settings()
    findings = check_configuration(settings)
    if credentials:
        from enrich.cli.credentials import check_credentials

        findings.extend(check_credentials(settings))
    for finding in findings:
        mark = "[green]ok[/green]  " if finding.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {finding.subject}: {finding.message}", highlight=False)
    if not all(f.ok for f in findings):
        raise typer.Exit(1)
