"""``enrich providers sync-suppressions``: SendGrid's suppression lists onto our contact points."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from enrich.runtime import get_engine, outreach_config
from enrich.settings import get_settings
from models.db import session_scope
from models.feedback.suppressions import ListCounts, apply_suppressions
from models.types import utcnow
from outreach.errors import ConfigurationError, ProviderUnavailable
from outreach.providers.sendgrid.suppressions import EFFECTS, LISTS, fetch_suppressions

providers_app = typer.Typer(help="Messaging providers (SendGrid, Twilio).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@providers_app.command("sync-suppressions")
def sync_suppressions_command(
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
            help="Only entries created on or after this UTC date (default: all).",
        ),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who runs the sync (for the audit).")] = "cli",
) -> None:
    """Mark addresses on SendGrid's bounce, invalid and spam-report lists; blocks are counted."""
    settings = get_settings()
    config = outreach_config(settings).sendgrid
    if config is None:
        errors.print("SendGrid is not configured: set ENRICH_SENDGRID_API_KEY", markup=False)
        raise typer.Exit(2)
    try:
        entries = fetch_suppressions(config, since=since.replace(tzinfo=UTC) if since else None)
    except ConfigurationError as err:
        errors.print(str(err), markup=False)
        raise typer.Exit(2) from None
    except ProviderUnavailable as err:
        errors.print(str(err), markup=False)
        raise typer.Exit(1) from None
    with session_scope(get_engine(settings)) as session:
        outcome = apply_suppressions(session, entries, now=utcnow(), actor=actor)
    table = Table(title="SendGrid suppression lists")
    for column in ("list", "effect", "entries", "matched", "changed"):
        table.add_column(column, justify="left" if column in ("list", "effect") else "right")
    for name in LISTS:
        counts = outcome.lists.get(name, ListCounts())
        effect = EFFECTS[name] or "none (temporary)"
        table.add_row(name, effect, str(counts.entries), str(counts.matched), str(counts.changed))
    console.print(table)
    console.print(f"{outcome.changed} contact points changed.")
