"""`enrich round plan` (a dry run that counts), `start` (runs the round flow), `status` (counts)."""

from __future__ import annotations

import contextvars
import json
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine

from enrich.cli import exit_codes
from enrich.cli.outreach import unsettled_table
from enrich.cli.plan_forecast import forecast_summary, forecast_table, plan_and_forecast, plan_json
from enrich.cli.prefect_api import prefect_api
from enrich.runtime import doubt_channels, get_engine
from enrich.settings import get_settings
from models.campaigns.spec import CampaignError, CampaignSpec, load_campaign
from models.contact_moments.expiry import expired_moments_exist
from models.forecast.basis import describe_basis
from models.messages.in_doubt import IN_DOUBT, unsettled
from models.rounds.selection import EXCLUSIONS, plan
from models.rounds.status import RoundNotFound, RoundStatus, round_status
from models.tables import ENROLLMENT, OUTREACH, ROUND
from models.types import utcnow
from models.vocabulary import PENDING
from outreach.sending.due import due_enrollment_ids, due_for_advance

# Unsettled messages listed after a run (all are counted; `round status --json` lists all).
LISTED_AFTER_RUN = 20
LISTED_IN_STATUS = 50
round_app = typer.Typer(help="Plan and start enrichment rounds.", no_args_is_help=True)
console = Console()

CAMPAIGN_OPTION = typer.Option(None, "--campaign", help="Campaign file (default: settings).")
EXCLUSION_LABELS = {
    "opted_out": "opted out or objected",
    "restricted": "processing restricted",
    "enrolled": "already in an active round",
    "exhausted": "ladder ran out recently, data unchanged since",
    "cooldown": "contacted within the cool-down",
}


def _spec(campaign: Path | None) -> CampaignSpec:
    try:
        return load_campaign(campaign or get_settings().campaign_file)
    except CampaignError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err


def _table(title: str, header: str, rows: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(header)
    table.add_column("profiles", justify="right")
    for key, value in rows.items():
        table.add_row(key, f"{value:,}")
    return table


def _plan(spec: CampaignSpec) -> Any:
    settings = get_settings()
    with get_engine(settings).connect() as conn:
        return plan(
            conn=conn,
            spec=spec,
            now=utcnow(),
            max_age_days=settings.verification_max_age_days,
            cooldown_days=settings.cooldown_days,
            exhausted_cooldown_days=settings.exhausted_cooldown_days,
            declined_days=settings.declined_field_days,
        )


@round_app.command("plan")
def plan_command(
    campaign: Path | None = CAMPAIGN_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Count whom a round would select, by gap and first channel, and whom it leaves out; and
    forecast the whole ladder: messages, letters, cost, verified profiles, days."""
    spec = _spec(campaign)
    result, forecast = plan_and_forecast(spec)
    if as_json:
        typer.echo(json.dumps(plan_json(spec, result, forecast), indent=2, ensure_ascii=False))
        return
    console.print(f"Campaign [bold]{spec.key}[/bold]: {result.total:,} profiles would be enrolled.")
    console.print(_table("Per gap (a profile can have several)", "gap", result.per_gap))
    channels = {
        ("no usable contact point" if k == "none" else k): v for k, v in result.per_channel.items()
    }
    console.print(_table("Per first channel", "channel", channels))
    console.print(
        _table(
            "Left out (profiles with a gap)",
            "reason",
            {EXCLUSION_LABELS[k]: result.excluded[k] for k in EXCLUSIONS},
        )
    )
    console.print(forecast_table(forecast))
    console.print(escape(forecast_summary(forecast)))
    console.print(escape(describe_basis(forecast)))
    console.print("Dry run: nothing was written or sent.")


def _latest_round_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(ROUND.c.id), 0))).scalar_one())


def _progress_counts(engine: Engine, after_round_id: int) -> tuple[int, int] | None:
    """(enrolled, first step handled) for the round this command started, once it exists."""
    e = ENROLLMENT.c
    with engine.connect() as conn:
        round_id = conn.execute(
            select(func.min(ROUND.c.id)).where(ROUND.c.id > after_round_id)
        ).scalar_one()
        if round_id is None:
            return None
        total, done = conn.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case(((e.step_index >= 0) | (e.state != "active"), 1), else_=0)), 0
                ),
            ).where(e.round_id == round_id)
        ).one()
    return int(total), int(done)


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"Round {summary['round_id']} finished", title_justify="left")
    table.add_column("channel")
    for status in ("sent", "failed", "skipped", "pending"):
        table.add_column(status, justify="right")
    for channel, counts in sorted(summary["per_channel"].items()):
        table.add_row(
            channel, *(f"{counts.get(s, 0):,}" for s in ("sent", "failed", "skipped", "pending"))
        )
    return table


def _report_unsettled(engine: Engine, *, round_id: int | None) -> None:
    """Name what the run left unsettled and exit with UNSETTLED when anything is."""
    with engine.connect() as conn:
        left = unsettled(conn, now=utcnow(), channels=doubt_channels(), round_id=round_id)
    if not left:
        return
    doubts = sum(1 for u in left if u.kind == IN_DOUBT)
    console.print(unsettled_table(left[:LISTED_AFTER_RUN], len(left)))
    where = f"enrich round status {round_id}" if round_id else "enrich outreach in-doubt"
    console.print(
        f"[yellow]{doubts:,} messages in doubt, {len(left) - doubts:,} unsent; "
        f"`{where}` lists them all.[/yellow]"
    )
    raise typer.Exit(exit_codes.UNSETTLED)


def _run_flow(description: str, engine: Engine, before: int | None, call: Any) -> Any:
    """Run ``call`` (a flow) in a worker thread under a Prefect API, with a progress bar for
    the round it creates (``before``: the newest round id before it); returns its result."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as err:  # reported in the main thread
            outcome["error"] = err

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with prefect_api(), Progress(*columns, console=console, transient=False) as progress:
        # The worker gets this thread's context, so the Prefect API in force here applies there.
        worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        bar = progress.add_task(description, total=None)
        worker.start()
        while True:
            worker.join(timeout=0.5)
            counts = _progress_counts(engine, before) if before is not None else None
            if counts is not None:
                progress.update(
                    bar, description="Sending first steps", total=counts[0], completed=counts[1]
                )
            if not worker.is_alive():
                break
    if "error" in outcome:
        console.print(f"[red]The run failed: {escape(str(outcome['error']))}[/red]")
        raise typer.Exit(exit_codes.FAILED)
    return outcome["result"]


@round_app.command("start")
def start_command(
    limit: int | None = typer.Option(None, "--limit", min=1, help="Enrol at most N profiles."),
    started_by: str = typer.Option("steward", "--started-by", help="Recorded on the audit trail."),
    campaign: Path | None = CAMPAIGN_OPTION,
) -> None:
    """Start a round: enrol the selected profiles and send each its first ladder step.

    Exits 3 when messages are left unsettled (in doubt or unsent), 1 when the round failed.
    """
    spec_path = campaign or get_settings().campaign_file
    spec = _spec(spec_path)  # a bad campaign file fails here, before Prefect starts
    if _plan(spec).total == 0:
        console.print("No profile would be enrolled (`enrich round plan` says why): no round.")
        return
    from flows.round import enrichment_round  # importing Prefect takes a moment; only here

    engine = get_engine(get_settings())
    before = _latest_round_id(engine)
    summary = _run_flow(
        "Starting Prefect and selecting profiles",
        engine,
        before,
        lambda: enrichment_round(campaign_file=str(spec_path), started_by=started_by, limit=limit),
    )
    console.print(_summary_table(summary))
    console.print(
        f"{summary['enrolled']:,} enrolled; sent {summary['sent']:,}, failed {summary['failed']:,},"
        f" no usable contact point {summary['exhausted']:,}."
    )
    _report_unsettled(engine, round_id=summary["round_id"])


def _round_has_work(engine: Engine, round_id: int) -> bool:
    """An unfinished round, or a first step due, or a message not yet settled."""
    now = utcnow()
    with engine.connect() as conn:
        running = conn.execute(
            select(ROUND.c.id).where(ROUND.c.id == round_id, ROUND.c.status == "running")
        ).first()
        due = due_enrollment_ids(conn=conn, round_id=round_id, now=now, limit=1)
        pending = conn.execute(
            select(OUTREACH.c.id)
            .select_from(OUTREACH.join(ENROLLMENT, ENROLLMENT.c.id == OUTREACH.c.enrollment_id))
            .where(ENROLLMENT.c.round_id == round_id, OUTREACH.c.status == PENDING)
            .limit(1)
        ).first()
    return bool(running or due or pending)


@round_app.command("resume")
def resume_command(
    round_id: int = typer.Argument(..., help="The round to finish."),
    started_by: str = typer.Option("steward", "--started-by", help="Recorded on the audit trail."),
) -> None:
    """Finish an interrupted round: enrol the rest and send what is due, never a step twice.

    Exits 3 when messages are left unsettled (in doubt or unsent), 1 when the run failed.
    """
    engine = get_engine(get_settings())
    with engine.connect() as conn:
        exists = conn.execute(select(ROUND.c.id).where(ROUND.c.id == round_id)).first()
    if exists is None:
        console.print(f"[red]Round {round_id} does not exist.[/red]")
        raise typer.Exit(exit_codes.INVALID)
    if not _round_has_work(engine, round_id):
        console.print(f"Round {round_id} is finished and nothing of it is due: nothing to do.")
        return
    from flows.round import resume_round

    summary = _run_flow(
        f"Resuming round {round_id}",
        engine,
        None,
        lambda: resume_round(round_id=round_id, started_by=started_by),
    )
    console.print(_summary_table(summary))
    _report_unsettled(engine, round_id=round_id)


@round_app.command("advance")
def advance_command(
    started_by: str = typer.Option("steward", "--started-by", help="Recorded on the audit trail."),
) -> None:
    """Send the next ladder step of every enrollment that is due (what the daily flow does).

    Exits 3 when messages are left unsettled (in doubt or unsent), 1 when the run failed.
    """
    engine = get_engine(get_settings())
    now = utcnow()
    with engine.connect() as conn:
        idle = not due_for_advance(conn=conn, now=now, limit=1) and not expired_moments_exist(
            conn, now=now
        )
    if idle:
        console.print("Nothing is due: no ladder step to send, no contact-moment link expired.")
        return
    from flows.advance import advance_ladders

    summary = _run_flow("Advancing ladders", engine, None, lambda: advance_ladders(started_by))
    console.print(
        f"Sent {summary['sent']:,}, failed {summary['failed']:,}, skipped steps "
        f"{summary['skipped']:,}, exhausted {summary['exhausted']:,}; contact-moment "
        f"enrollments ended {summary.get('moments_closed', 0):,}."
    )
    _report_unsettled(engine, round_id=None)


def _status_tables(status: RoundStatus) -> list[Table]:
    states = _table("Enrollments per state", "state", status.per_state)
    steps = Table(title="Per step", title_justify="left")
    for header in ("step", "channel", "sent", "failed", "pending", "skipped"):
        steps.add_column(header, justify="left" if header == "channel" else "right")
    for step in status.per_step:
        counts = (f"{step.counts[s]:,}" for s in ("sent", "failed", "pending", "skipped"))
        steps.add_row(str(step.step), step.channel, *counts)
    reasons = Table(title="Per reason", title_justify="left")
    reasons.add_column("kind")
    reasons.add_column("reason", overflow="fold")
    reasons.add_column("count", justify="right")
    for item in status.per_reason:
        reasons.add_row(item.kind, escape(item.reason), f"{item.count:,}")
    return [states, steps, reasons]


@round_app.command("status")
def status_command(
    round_id: int = typer.Argument(..., help="The round to report on."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts per step, per enrollment state and per reason (waits, skips, failures, endings)."""
    with get_engine(get_settings()).connect() as conn:
        try:
            status = round_status(conn, round_id)
        except RoundNotFound:
            console.print(f"[red]Round {round_id} does not exist.[/red]")
            raise typer.Exit(exit_codes.INVALID) from None
        left = unsettled(conn, now=utcnow(), channels=doubt_channels(), round_id=round_id)
    if as_json:
        payload = {**status.as_dict(), "unsettled": [u.as_dict() for u in left]}
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    ladder = status.ladder_version or status.campaign_version
    newer = f", ladder of v{ladder}" if ladder != status.campaign_version else ""
    console.print(
        f"Round {status.round_id} (campaign [bold]{escape(status.campaign_key)}[/bold] "
        f"v{status.campaign_version}{newer}): {escape(status.status)}, "
        f"{status.enrolled:,} enrolled."
    )
    finished = f" Finished {status.finished_at:%Y-%m-%d %H:%M} UTC." if status.finished_at else ""
    console.print(
        f"Started {status.started_at:%Y-%m-%d %H:%M} UTC by {escape(status.started_by)}.{finished}"
    )
    for table in _status_tables(status):
        console.print(table)
    if left:
        console.print(unsettled_table(left[:LISTED_IN_STATUS], len(left)))
        if len(left) > LISTED_IN_STATUS:
            console.print(f"... and {len(left) - LISTED_IN_STATUS:,} more (--json lists all).")
    else:
        console.print("Every message of the round is settled.")
