"""The quarterly stale sweep: propose keep, archive or erase for every stale profile, in batches.

It only proposes; the steward decides with ``enrich sweep decide``. Each batch is one task and
one transaction; proposals are unique per (sweep, profile) and one open proposal per profile,
so a retried task or a second run proposes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from enrich.runtime import get_engine
from enrich.settings import get_settings
from flows.tasks import RETRIES
from models.audit_trail.sealing import seal
from models.retention.sweep_runs import finish_sweep, start_sweep, sweep_batch
from models.types import utcnow


@task(name="sweep-batch", **RETRIES)
def propose_batch(
    sweep_run_id: int, now: datetime, idle_days: int, after_id: int
) -> tuple[int | None, int]:
    """Propose for the next batch of stale profiles after ``after_id``: (last id or None, new)."""
    settings = get_settings()
    with get_engine(settings).begin() as conn:
        return sweep_batch(
            conn,
            sweep_run_id=sweep_run_id,
            now=now,
            idle_days=idle_days,
            limit=settings.batch_size,
            after_id=after_id,
        )


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# Stale sweep {summary['sweep_run_id']}",
        "",
        f"{summary['proposed']} profiles proposed (idle for {summary['idle_days']} days, ladder "
        "exhausted). Nothing changes until the steward decides: `enrich sweep list`, "
        "`enrich sweep decide`.",
        "",
        "| proposal | profiles |",
        "| --- | ---: |",
    ]
    lines += [f"| {kind} | {n} |" for kind, n in summary["per_proposal"].items()]
    lines += ["", "| reason | profiles |", "| --- | ---: |"]
    lines += [f"| {reason} | {n} |" for reason, n in summary["per_reason"].items()]
    return "\n".join(lines)


@flow(name="stale-sweep")
def stale_sweep(started_by: str = "system:sweep", idle_days: int | None = None) -> dict[str, Any]:
    """Record a proposal for every stale profile; returns the counts per proposal and reason."""
    settings = get_settings()
    idle = idle_days if idle_days is not None else settings.sweep_idle_days
    engine = get_engine(settings)
    now = utcnow()
    with engine.begin() as conn:
        run_id = start_sweep(conn, started_by=started_by, idle_days=idle, now=now)
    after: int | None = 0
    while after is not None:
        after, _new = propose_batch(run_id, now, idle, after)
    with engine.begin() as conn:
        summary = finish_sweep(conn, sweep_run_id=run_id, now=utcnow(), actor=started_by)
    seal(engine)  # the sweep's audit rows join the chain
    get_run_logger().info("stale sweep %d: %s", run_id, summary["per_proposal"])
    create_markdown_artifact(
        markdown=_markdown(summary),
        key=f"stale-sweep-{run_id}",
        description=f"Stale sweep {run_id}: proposals to decide",
    )
    return summary
