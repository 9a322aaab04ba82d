"""`enrich sweep run | list | decide`: the stale sweep's proposals and the steward's decisions.

The listing shows only the external id, the proposal, its reason code and the last interaction
date: never a name or a contact value.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.db import truncate_wal
from models.retention.sweep_runs import (
    ERASE,
    OPEN,
    REASONS,
    Decided,
    ProposalView,
    SweepError,
    decide,
    list_proposals,
    run_sweep,
)
from models.tables import PROPOSAL
from models.types import utcnow

sweep_app = typer.Typer(
    help="Find stale profiles and decide to keep, archive or erase them.", no_args_is_help=True
)
console = Console()


class Kind(StrEnum):
    keep = "keep"
    archive = "archive"
    erase = "erase"


class Status(StrEnum):
    open = "open"
    decided = "decided"
    all = "all"


@sweep_app.command("run")
def run_command(
    idle_days: int | None = typer.Option(
        None, "--idle-days", min=30, help="Idle period in days (default: ENRICH_SWEEP_IDLE_DAYS)."
    ),
    started_by: str = typer.Option("steward", "--by", help="Recorded on the audit trail."),
) -> None:
    """Propose keep, archive or erase for every stale profile (what the quarterly flow does)."""
    settings = get_settings()
    summary = run_sweep(
        get_engine(settings),
        started_by=started_by,
        idle_days=idle_days or settings.sweep_idle_days,
        now=utcnow(),
        batch_size=settings.batch_size,
    )
    table = Table(title=f"Stale sweep {summary['sweep_run_id']}", title_justify="left")
    table.add_column("proposal")
    table.add_column("reason")
    table.add_column("profiles", justify="right")
    for reason, n in summary["per_reason"].items():
        table.add_row(REASONS[reason], reason, f"{n:,}")
    console.print(table)
    console.print(
        f"{summary['proposed']:,} new proposals. Nothing was changed: review them with "
        "`enrich sweep list` and decide with `enrich sweep decide`."
    )


def _as_json(view: ProposalView) -> dict[str, object]:
    return {
        "id": view.id,
        "sweep": view.sweep_run_id,
        "external_id": view.external_id,
        "proposal": view.proposal,
        "reason": view.reason,
        "last_interaction": view.last_interaction_at.date().isoformat()
        if view.last_interaction_at
        else None,
        "status": view.status,
        "decision": view.decision,
    }


@sweep_app.command("list")
def list_command(
    proposal: Kind | None = typer.Option(None, "--proposal", help="Only this proposal."),
    status: Status = typer.Option(Status.open, "--status", help="Open, decided or all."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array on stdout."),
) -> None:
    """List proposals: external id, proposal, reason, last interaction (no contact data)."""
    with get_engine(get_settings()).connect() as conn:
        views = list_proposals(
            conn,
            status=None if status is Status.all else status.value,
            proposal=proposal.value if proposal else None,
        )
    rows = [_as_json(v) for v in views]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows):,} proposals ({status.value})", title_justify="left")
    for column in ("id", "external id", "proposal", "reason", "last interaction", "decision"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["external_id"]),
            str(row["proposal"]),
            str(row["reason"]),
            str(row["last_interaction"] or "-"),
            str(row["decision"] or "-"),
        )
    console.print(table)


def _count_open(kind: str) -> int:
    p = PROPOSAL.c
    with get_engine(get_settings()).connect() as conn:
        query = select(func.count()).where(p.status == OPEN, p.proposal == kind)
        return int(conn.execute(query).scalar_one())


@sweep_app.command("decide")
def decide_command(
    proposal_ids: list[int] | None = typer.Argument(None, help="The proposals to decide."),
    all_proposed: Kind | None = typer.Option(
        None, "--all-proposed", help="Every open proposal of this kind instead of ids."
    ),
    decision: Kind = typer.Option(..., "--decision", help="keep, archive or erase."),
    decided_by: str = typer.Option(..., "--by", help="Who decides; recorded on the audit trail."),
    note: str | None = typer.Option(None, "--note", help="Why (no personal data, ≤ 500 chars)."),
    yes: bool = typer.Option(False, "--yes", help="Erase without asking for confirmation."),
) -> None:
    """Decide proposals: keep (nothing changes), archive (hidden), erase (personal data gone)."""
    if bool(proposal_ids) == (all_proposed is not None):
        console.print("[red]Name proposal ids or --all-proposed KIND (one of the two).[/red]")
        raise typer.Exit(2)
    if decision.value == ERASE and not yes:
        count = len(set(proposal_ids)) if proposal_ids else _count_open(str(all_proposed))
        if not typer.confirm(
            f"Erase the personal data of {count:,} profile(s)? This cannot be undone."
        ):
            console.print("Nothing was changed.")
            raise typer.Exit(1)
    engine = get_engine(get_settings())
    try:
        with engine.begin() as conn:
            outcome: Decided = decide(
                conn,
                decision=decision.value,
                decided_by=decided_by,
                now=utcnow(),
                proposal_ids=proposal_ids or None,
                all_proposed=all_proposed.value if all_proposed else None,
                note=note,
            )
    except SweepError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    if outcome.decision == ERASE:
        truncate_wal(engine)
    done = {"keep": "kept", "archive": "archived", "erase": "erased"}[outcome.decision]
    console.print(
        f"{len(outcome.proposal_ids):,} proposal(s) decided: {done}; "
        f"{outcome.profiles_changed:,} profile(s) changed, "
        f"{outcome.enrollments_stopped:,} enrollment(s) stopped."
    )
