"""`enrich round plan`'s counts and ladder forecast: made in one read, shown as a table or JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from enrich.runtime import get_engine, plan_with_forecast
from enrich.settings import get_settings
from models.campaigns.spec import CampaignSpec
from models.forecast.basis import describe_basis
from models.forecast.forecast import Forecast, ForecastStep
from models.forecast.stored import campaign_version
from models.rounds.selection import EXCLUSIONS, Plan


def plan_and_forecast(spec: CampaignSpec) -> tuple[Plan, Forecast]:
    """What a round of ``spec`` would select now, and its forecast; reads only."""
    settings = get_settings()
    with get_engine(settings).connect() as conn:
        return plan_with_forecast(
            conn, spec, settings, campaign_version=campaign_version(conn, spec=spec)
        )


def plan_dict(spec: CampaignSpec, counted: Plan) -> dict[str, Any]:
    return {
        "campaign": spec.key,
        "selected": counted.total,
        "per_gap": counted.per_gap,
        "per_first_channel": counted.per_channel,
        "excluded": {reason: counted.excluded.get(reason, 0) for reason in EXCLUSIONS},
    }


def plan_json(spec: CampaignSpec, counted: Plan, forecast: Forecast) -> dict[str, Any]:
    """``--json``: the plan, the forecast (the shape stored with a round) and its basis."""
    return {
        "plan": plan_dict(spec, counted),
        "forecast": forecast.as_dict(),
        "basis_note": describe_basis(forecast),
    }


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _count(value: int) -> str:
    return f"{value:,}"


def _days(value: float) -> str:
    return f"{value:g}"


# (row label, how a step shows it, the total's key or None): steps are columns, so a
# three-step ladder fits a narrow terminal.
ROWS: tuple[tuple[str, Callable[[ForecastStep], str], str | None], ...] = (
    ("basis", lambda s: s.rates.basis, None),
    ("reaching the step", lambda s: _count(s.reaching), None),
    ("messages", lambda s: _count(s.messages), "messages"),
    ("letters to print", lambda s: _count(s.letters), "letters"),
    ("cost", lambda s: _money(s.cost), "cost"),
    ("answered", lambda s: _count(s.answered), None),
    ("verified profiles", lambda s: _count(s.verified), "verified"),
    ("completed", lambda s: _count(s.completed), "completed"),
    ("wait days", lambda s: _days(s.wait_days), None),
    ("send days", lambda s: _days(s.send_days), None),
)


def forecast_table(forecast: Forecast) -> Table:
    """Steps as columns, with a total column; rows as in :data:`ROWS`."""
    table = Table(title="Forecast per ladder step", title_justify="left")
    table.add_column("")
    for step in forecast.steps:
        table.add_column(f"{step.step} {step.channel}", justify="right")
    table.add_column("total", justify="right")
    total = forecast.total()
    for label, show, key in ROWS:
        if label == "cost" and forecast.currency:
            label = f"cost ({forecast.currency})"
        cell = "" if key is None else _money(total[key]) if key == "cost" else _count(total[key])
        table.add_row(label, *(show(step) for step in forecast.steps), cell)
    table.add_row("days in all", *("" for _ in forecast.steps), _days(total["days"]))
    return table


def forecast_summary(forecast: Forecast) -> str:
    total = forecast.total()
    cost = "" if total["cost"] is None else f", {forecast.currency} {total['cost']:,.2f}"
    return (
        f"In all: {total['messages']:,} messages ({total['letters']:,} letters to print){cost}; "
        f"{total['verified']:,} verified profiles, {total['completed']:,} completed; the last "
        f"enrollment's ladder ends in about {total['days']:g} days."
    )
