"""``enrich outreach show ID`` (one message's step, provider ids, status, events and audit
trail), ``in-doubt`` (what is not settled) and ``resolve`` (the steward's decision on it)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from enrich.cli import exit_codes
from enrich.runtime import doubt_channels, get_engine, outreach_config
from enrich.settings import get_settings
from models.messages.in_doubt import Unsettled, unsettled
from models.messages.report import outreach_report
from models.types import utcnow
from outreach.channels import build_channels
from outreach.sending.resolution import DECISIONS, resolve_in_doubt, send_again

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


@outreach_app.command("in-doubt")
def in_doubt_command(
    round_id: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")] = False,
) -> None:
    """List the messages not settled: in doubt (handed to a provider, no answer recorded) or
    unsent, with the reason and what settles each."""
    with get_engine(get_settings()).connect() as conn:
        left = unsettled(conn, now=utcnow(), channels=doubt_channels(), round_id=round_id)
    if as_json:
        typer.echo(json.dumps([u.as_dict() for u in left], indent=2))
        return
    if not left:
        console.print("Every message is settled.")
        return
    console.print(unsettled_table(left, len(left)))


def unsettled_table(items: list[Unsettled], total: int) -> Table:
    """Unsettled messages for the steward: what, since when, why, and what settles each."""
    table = Table(title=f"Not settled: {total:,}", title_justify="left")
    for header in ("outreach", "round", "step", "channel", "kind", "since (UTC)", "reason", "next"):
        table.add_column(header, overflow="fold")
    for u in items:
        table.add_row(
            str(u.outreach_id),
            str(u.round_id),
            str(u.step),
            u.channel,
            u.kind.replace("_", " "),
            f"{u.since:%Y-%m-%d %H:%M}",
            escape(u.reason),
            escape(u.next_action),
        )
    return table


@outreach_app.command("resolve")
def resolve_command(
    outreach_ids: Annotated[list[int], typer.Argument(help="The in-doubt outreach ids.")],
    decision: Annotated[
        str, typer.Option("--decision", help="send: hand it to its channel again; drop: give up.")
    ],
    decided_by: Annotated[str, typer.Option("--by", help="Who decides (on the audit trail).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (on the audit trail).")],
) -> None:
    """Decide on messages left in doubt: send them again (after checking the provider did not
    deliver them) or drop them (the next ladder step is due at once). Audited. Exits 1 when an
    id could not be resolved (the reason is printed), 3 when a resent message is in doubt again.
    """
    if decision not in DECISIONS:
        console.print(f"[red]--decision must be one of: {', '.join(DECISIONS)}.[/red]")
        raise typer.Exit(exit_codes.INVALID)
    if not reason.strip() or not decided_by.strip():
        console.print("[red]--by and --reason must not be empty.[/red]")
        raise typer.Exit(exit_codes.INVALID)
    settings = get_settings()
    engine = get_engine(settings)
    now = utcnow()
    resolution = resolve_in_doubt(
        engine,
        outreach_ids=outreach_ids,
        decision=decision,  # type: ignore[arg-type]
        decided_by=decided_by,
        reason=reason,
        now=now,
        lease_seconds=settings.lease_seconds,
    )
    for outreach_id, why in sorted(resolution.refused.items()):
        console.print(f"[yellow]Outreach {outreach_id} not resolved: {why}.[/yellow]")
    verb = "given back to be sent again" if decision == "send" else "dropped (recorded as failed)"
    console.print(f"{len(resolution.resolved):,} messages {verb}.")
    if resolution.to_send:
        config = outreach_config(settings)
        outcome = send_again(
            engine,
            resolution.to_send,
            channels=build_channels(config),
            config=config,
            now=now,
            actor=decided_by,
        )
        console.print(
            f"Sent {outcome.sent:,}, failed {outcome.failed:,}, in doubt {outcome.in_doubt:,}."
        )
        if outcome.in_doubt:
            raise typer.Exit(exit_codes.UNSETTLED)
    if resolution.refused:
        raise typer.Exit(exit_codes.FAILED)
