"""The steward's report as one JSON-ready dict: the query parameters, then per round its figures.

Each round's section comes from a fixed set of queries whatever its size, each driven by the
rows it counts and read in the order of an index where one serves: the round's messages (the
funnel's first stages and the statuses), their delivery events, their opened links, the answered
messages (read once, for the funnel, the results per place and the time to answer), the few
contact points that broke (drop-off reasons), the enrollments and their profiles (results by
country and language, completeness at the start, where enrollments stopped) and the fresh
verified contact points and answered purposes (completeness now); the sibling modules define
every figure. Counts only: no name, contact value or external id is read into the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Connection

from models.campaigns.spec import Costs, Incentive
from models.round_report.answer_times import answer_times
from models.round_report.answered import answered_messages
from models.round_report.breakdown import outcomes
from models.round_report.completeness import complete_now, completeness, fields_of
from models.round_report.cost import cost
from models.round_report.drop_off import drop_off
from models.round_report.forecast_actual import forecast_actual
from models.round_report.funnel import step_figures
from models.round_report.incentives import incentive_figures
from models.round_report.scope import ChosenRound, chosen_rounds
from models.rounds.completeness import campaign_purposes
from models.rounds.completion import spec_of

# The verification age a round that did not record its own is read with (the settings' default).
DEFAULT_MAX_AGE_DAYS = 730
# The SQLite page cache the report reads with (KiB).
REPORT_CACHE_KIB = 256 * 1024


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def channels_per_step(funnel: list[dict[str, Any]]) -> dict[int, list[str]]:
    """The channels each step (by index) went out on."""
    found: dict[int, list[str]] = {}
    for row in funnel:
        found.setdefault(int(row["step"]) - 1, []).append(str(row["channel"]))
    return found


def _round(
    conn: Connection,
    chosen: ChosenRound,
    *,
    now: datetime,
    ladder: list[str],
    purposes: list[tuple[str, str]],
    costs: Costs | None,
    max_age_days: int,
    incentive: Incentive | None = None,
) -> dict[str, Any]:
    round_id = chosen.round_id
    answered = answered_messages(conn, round_id)
    figures = step_figures(conn, round_id, answered, now=now)
    results = outcomes(conn, round_id, answered)
    now_masks = complete_now(conn, round_id, now=now, max_age_days=max_age_days, purposes=purposes)
    spent = cost(
        figures.funnel,
        costs,
        verified_profiles=results.total("verified"),
        completed_enrollments=results.total("completed"),
    )
    offered = incentive_figures(conn, round_id, incentive, costs)
    if offered is not None:  # its awards' cost: a line of its own, not the messages' spend
        spent["incentive"] = {k: offered[k] for k in ("earned", "unit_cost", "cost")}
    return {
        "round_id": round_id,
        "campaign": {"key": chosen.campaign_key, "version": chosen.campaign_version},
        "status": chosen.status,
        "started_at": _iso(chosen.started_at),
        "started_by": chosen.started_by,
        "finished_at": _iso(chosen.finished_at),
        "enrolled": results.total("enrolled"),
        "erased_profiles": results.total("erased"),
        "max_age_days": max_age_days,
        "funnel": figures.funnel,
        "drop_off": drop_off(
            conn,
            round_id,
            figures.message_counts,
            results.standing(),
            channels=channels_per_step(figures.funnel),
            ladder_channels=ladder,
        ),
        "completeness": completeness(results.total, now_masks, fields_of(purposes)),
        "cost": spent,
        "incentive": offered,
        "time_to_answer": answer_times(answered),
        "by_country": results.by_country(),
        "by_language": results.by_language(),
        "forecast": forecast_actual(chosen.forecast, figures.funnel, spent),
    }


def _of_round(
    conn: Connection, item: ChosenRound, now: datetime, default_max_age_days: int
) -> dict[str, Any]:
    # A definition that does not read as a campaign (never stored by Enrich itself) gives no
    # ladder, purposes or costs; its counts are reported all the same.
    own, newest = spec_of(item.definition), spec_of(item.newest_definition)
    followed = newest or own
    ladder = followed.ladder if followed is not None else []
    stored_age = item.parameters.get("max_age_days")
    return _round(
        conn,
        item,
        now=now,
        ladder=[step.channel for step in ladder],
        purposes=campaign_purposes(own.purposes) if own is not None else [],
        costs=newest.costs if newest is not None else None,
        max_age_days=int(stored_age) if stored_age else default_max_age_days,
        incentive=newest.incentive if newest is not None else None,
    )


@contextmanager
def _roomy_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache big enough for the report's few large GROUP BY walks while it
    runs (the connection's own setting is put back after): a 1M-profile round reads several
    hundred megabytes, and re-reading pages through the operating system costs a third more."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{REPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or 0)}")


def collect_report(
    conn: Connection,
    *,
    round_id: int | None = None,
    campaign: str | None = None,
    since: date | None = None,
    now: datetime,
    default_max_age_days: int = DEFAULT_MAX_AGE_DAYS,
) -> dict[str, Any]:
    """The report over the rounds :func:`models.round_report.scope.chosen_rounds` picks.

    ``now`` is the instant "now" means for completeness and for enrollments still running;
    ``default_max_age_days`` applies to rounds that did not record their ``max_age_days``.
    Raises what :func:`~models.round_report.scope.chosen_rounds` raises.
    """
    with _roomy_cache(conn):
        chosen = chosen_rounds(conn, round_id=round_id, campaign=campaign, since=since)
        rounds = [_of_round(conn, item, now, default_max_age_days) for item in chosen]
    return {
        "report": {
            "generated_at": now.isoformat(),
            "database": conn.dialect.name,
            "parameters": {
                "round": round_id,
                "campaign": campaign,
                "since": since.isoformat() if since is not None else None,
            },
        },
        "rounds": rounds,
    }
