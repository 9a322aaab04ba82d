"""``enrich outreach show ID``: one message's step, provider ids, status, events and audit trail."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.outreach_report import outreach_report

outreach_app = typer.Typer(help="Single messages (outreaches).", no_args_is_help=True)
console = Console()


@outreach_app.command("show")
def show_command(
    outreach_id: Annotated[int, typer.Argument(help="The outreach id (in audit rows, events).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """Show one outreach: provider ids, statuses, errors, delivery events and audit trail."""
    with get_engine(get_settings()).connect() as conn:
        report = outreach_report(conn, outreach_id)
    if report is None:
        console.print(f"[red]Outreach {outreach_id} does not exist.[/red]")
        raise typer.Exit(2)
    if as_json:
        payload = {"outreach": report.fields, "events": report.events, "audit": report.audit}
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    table = Table(title=f"Outreach {outreach_id}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in report.fields.items():
        if value is not None:
            table.add_row(key, str(value))
    console.print(table)
    for title, rows in (("Delivery events", report.events), ("Audit trail", report.audit)):
        if not rows:
            console.print(f"{title}: none")
            continue
        listing = Table(title=title, title_justify="left")
        for column in rows[0]:
            listing.add_column(column)
        for item in rows:
            listing.add_row(*(str(v) if v is not None else "" for v in item.values()))
        console.print(listing)
