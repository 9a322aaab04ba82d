"""The sections of one round in the steward's report: its funnel, drop-off, completeness, cost,
time to answer, results by country and language, and the forecast next to what happened, each a
chart (inline SVG) over a table of the same numbers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from markupsafe import Markup

from enrich.documents import charts
from enrich.documents.charts import DASH, Panel, Series
from enrich.documents.incentive_section import incentive_cost_facts, incentive_tables
from enrich.documents.report_cells import (
    NO_ANSWERS,
    NO_COSTS,
    NO_FIGURE,
    Cell,
    Table,
    campaign_name,
    count,
    hours,
    money,
    percent,
    step_label,
    text,
    when,
)

STAGES: Final = {
    "enrolled": "reached the step",
    "sent": "sent",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "link_opened": "opened the link",
    "answered": "answered",
    "verified": "verified",
    "completed": "completed",
}
ANSWER_STAGES: Final = frozenset({"answered", "verified", "completed"})
FIELDS: Final = {
    "email": "email address",
    "mobile": "mobile number",
    "postal": "postal address",
    "consents": "consents",
}
# What each drop-off reason means, and its colour in every round's chart; any other reason is
# listed in the table and drawn as "other".
REASONS: Final = {
    "exhausted": ("no answer after the last step", charts.BLUE),
    "waiting": ("no answer yet, still within the step's wait", charts.LIGHT),
    "skipped": ("no usable contact point on the step's channel", charts.SKY),
    "bounced": ("the message bounced", charts.VERMILLION),
    "invalid": ("the provider said the address or number does not exist", charts.ORANGE),
    "failed": ("the provider could not deliver it", charts.YELLOW),
    "opted_out": ("the customer opted out", charts.PURPLE),
    "capped": ("held back by a sending cap", charts.GREEN),
}
BASES: Final = {
    "observed": "on the rates observed in earlier rounds",
    "defaults": "on the default rates (no earlier round to learn from)",
    "mixed": "partly on observed rates, partly on the default rates",
}
NOT_REPORTED: Final = (
    "The channel does not report this: opens and clicks only email does, deliveries email and SMS."
)
_SLUG = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class Block:
    id: str
    title: str
    table: Table | None = None
    svg: Markup | None = None
    lead: str | None = None
    facts: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class RoundView:
    id: str
    heading: str
    facts: Sequence[tuple[str, str]]
    blocks: Sequence[Block]


def anchor(round_id: Any) -> str:
    return f"round-{_SLUG.sub('-', str(round_id))}"


def _series(
    name: str,
    values: Sequence[float | None],
    fmt: Callable[[float], str],
    colour: str,
    hatch: str | None = None,
) -> Series:
    return Series(name, values, [DASH if v is None else fmt(v) for v in values], colour, hatch)


def _chart(r: Mapping[str, Any], name: str, what: str, panels: Sequence[Panel]) -> Markup:
    svg = charts.panels_chart(
        panels,
        chart_id=f"{anchor(r['round_id'])}-{name}-chart",
        title=f"Round {r['round_id']}: {what}",
    )
    return Markup(svg)  # drawn by matplotlib, whose SVG writer escapes every label


# ------------------------------------------------------------------------------------ blocks


def _funnel(r: Mapping[str, Any]) -> Block:
    steps = r["funnel"]
    if not steps:
        return Block("funnel", "Funnel", lead="Nothing sent yet.")
    table = Table(["", *(step_label(s) for s in steps)])
    for key, name in STAGES.items():
        why = NOT_REPORTED if key in ("delivered", "opened", "clicked") else NO_FIGURE
        table.add(text(name), *(table.count(s[key], why) for s in steps))
    panels = [
        (f"Step {step_label(s)}", [(n, s[k], k in ANSWER_STAGES) for k, n in STAGES.items()])
        for s in steps
    ]
    svg = charts.funnel_chart(
        panels,
        chart_id=f"{anchor(r['round_id'])}-funnel-chart",
        title=f"Round {r['round_id']}: funnel per step and channel",
    )
    lead = (
        "Per step: the enrollments that reached it, what was sent and what the provider "
        "reported (blue), and the answers on the landing page (green)."
    )
    return Block("funnel", "Funnel", table, Markup(svg), lead)


def _drop_off(r: Mapping[str, Any]) -> Block:
    rows = r["drop_off"]
    if not rows:
        return Block("drop-off", "Drop-off", lead="No enrollment dropped off.")
    table = Table(["Step", "Reason", "Enrollments", "Means"])
    for d in rows:
        means = REASONS.get(d["reason"], ("", ""))[0]
        table.add(text(step_label(d)), text(d["reason"]), table.count(d["count"]), text(means))
    labels = list(dict.fromkeys(step_label(d) for d in rows))
    summed: dict[tuple[str, str], int] = {}
    for d in rows:
        key = (d["reason"] if d["reason"] in REASONS else "other", step_label(d))
        summed[key] = summed.get(key, 0) + d["count"]
    colours = {**{reason: colour for reason, (_, colour) in REASONS.items()}, "other": charts.DARK}
    drawn = {reason for reason, _ in summed}
    parts = [
        (reason, [summed.get((reason, s), 0) for s in labels], colour)
        for reason, colour in colours.items()
        if reason in drawn
    ]
    svg = charts.stacked_chart(
        labels,
        parts,
        chart_id=f"{anchor(r['round_id'])}-drop-off-chart",
        title=f"Round {r['round_id']}: why enrollments dropped off, per step",
        xlabel="enrollments",
    )
    return Block("drop-off", "Drop-off", table, Markup(svg))


def _completeness(r: Mapping[str, Any]) -> Block:
    rows = r["completeness"]
    if not rows:
        return Block("completeness", "Completeness", lead="No enrollments.")
    unrecorded = max(c["unrecorded"] for c in rows)
    headers = ["Field", "Of", "At start", "Share", "Now", "Share"]
    table = Table([*headers, "Not recorded"] if unrecorded else headers)
    for c in rows:
        cells = [
            text(FIELDS.get(c["field"], c["field"])),
            table.count(c["of"]),
            table.count(c["at_start"]),
            table.share(c["at_start_share"]),
            table.count(c["now"]),
            table.share(c["now_share"]),
        ]
        table.add(*cells, *([table.count(c["unrecorded"])] if unrecorded else []))
    labels = [FIELDS.get(c["field"], str(c["field"])) for c in rows]
    start = _series(
        "at the round's start", [c["at_start_share"] for c in rows], percent, charts.LIGHT
    )
    now = _series("now", [c["now_share"] for c in rows], percent, charts.BLUE)
    svg = _chart(
        r,
        "completeness",
        "complete fields at the round's start and now",
        [Panel("", labels, [start, now], share=True)],
    )
    lead = "Share of the round's enrollments with each field complete."
    if unrecorded:
        lead += (
            f" Up to {count(unrecorded)} enrollments were made before the fields at enrolment"
            ' were recorded: "at start" counts only the others.'
        )
    return Block("completeness", "Completeness", table, svg, lead)


def _cost(r: Mapping[str, Any]) -> Block:
    cost = r["cost"]
    currency, steps = cost["currency"], cost["per_step"]
    if not steps:
        return Block("cost", "Cost", lead="Nothing sent yet.")
    table = Table(["Step", "Messages", "Unit cost", "Spend"])
    for s in steps:
        unit = s["unit_cost"]
        table.add(
            text(step_label(s)),
            table.count(s["messages"]),
            table.dash(NO_COSTS)
            if currency is None or unit is None
            else Cell(money(unit, currency, unit=True)),
            table.money(s["spend"], currency, NO_COSTS),
        )
    table.total = [
        text("total"),
        table.count(sum(s["messages"] for s in steps)),
        text(""),
        table.money(cost["total"], currency),
    ]
    if currency is None:
        lead = "The campaign sets no unit costs (costs in the campaign file), so no spend is shown."
        return Block("cost", "Cost", table, lead=lead)

    def per(value: float | None, of: int, what: str) -> str:
        return f"{DASH if value is None else money(value, currency)} ({count(of)} {what})"

    facts = [
        ("Spend", DASH if cost["total"] is None else money(cost["total"], currency)),
        (
            "Per verified profile",
            per(cost["per_verified_profile"], cost["verified_profiles"], "profiles"),
        ),
        (
            "Per completed enrollment",
            per(cost["per_completed_enrollment"], cost["completed_enrollments"], "enrollments"),
        ),
    ]
    spend = _series("spend", [s["spend"] for s in steps], lambda v: money(v, currency), charts.BLUE)
    panel = Panel("", [step_label(s) for s in steps], [spend], xlabel=f"spend ({currency})")
    facts += incentive_cost_facts(cost)
    svg = _chart(r, "cost", "spend per step and channel", [panel])
    return Block("cost", "Cost", table, svg, facts=facts)


def _time_to_answer(r: Mapping[str, Any]) -> Block:
    rows = r["time_to_answer"]
    if not rows:
        return Block("time-to-answer", "Time to answer", lead="No answers yet.")
    table = Table(["Channel", "Answered", "Median", "90th percentile"])
    for t in rows:
        table.add(
            text(t["channel"]),
            table.count(t["answered"]),
            *(
                table.dash(NO_ANSWERS) if t[k] is None else Cell(hours(t[k]))
                for k in ("median_hours", "p90_hours")
            ),
        )
    if all(t["median_hours"] is None for t in rows):
        return Block("time-to-answer", "Time to answer", table, lead="No answers yet.")
    median = _series("median", [t["median_hours"] for t in rows], hours, charts.BLUE)
    p90 = _series("90th percentile", [t["p90_hours"] for t in rows], hours, charts.SKY)
    panel = Panel(
        "",
        [str(t["channel"]) for t in rows],
        [median, p90],
        xlabel="hours from the message to the answer",
    )
    svg = _chart(r, "time-to-answer", "time to answer per channel", [panel])
    return Block("time-to-answer", "Time to answer", table, svg)


def _results(r: Mapping[str, Any], key: str, name_key: str, head: str) -> Block:
    block_id, title = key.replace("_", "-"), f"Results by {head.lower()}"
    if not r[key]:
        return Block(block_id, title, lead="None.")
    table = Table([head, "Enrolled", "Answered", "Completed", "Completed share"])
    for row in r[key]:
        name = "not recorded" if row[name_key] is None else row[name_key]
        table.add(
            text(name),
            table.count(row["enrolled"]),
            table.count(row["answered"]),
            table.count(row["completed"]),
            table.share(row["completed_share"]),
        )
    return Block(block_id, title, table)


def _forecast(r: Mapping[str, Any]) -> Block:
    title = "Forecast and what happened"
    forecast = r["forecast"]
    if forecast is None:
        return Block("forecast", title, lead="No forecast was stored when this round started.")
    currency, steps = r["cost"]["currency"], forecast["steps"]
    table = Table(
        [
            "Step",
            "Messages forecast",
            "Messages",
            "Verified forecast",
            "Verified",
            "Cost forecast",
            "Cost",
        ]
    )

    def cells(label: str, f: Mapping[str, Any], a: Mapping[str, Any]) -> list[Cell]:
        return [
            text(label),
            table.count(f.get("messages")),
            table.count(a.get("messages")),
            table.count(f.get("verified")),
            table.count(a.get("verified")),
            table.money(f.get("cost"), currency),
            table.money(a.get("cost"), currency),
        ]

    table.rows = [cells(step_label(s), s["forecast"], s["actual"]) for s in steps]
    if total := forecast.get("total"):
        table.total = cells("total", total["forecast"], total["actual"])
    metrics: list[tuple[str, str, Callable[[float], str]]] = [
        ("messages", "Messages", count),
        ("verified", "Verified", count),
    ]
    if currency is not None and any(
        s[side].get("cost") is not None for s in steps for side in ("forecast", "actual")
    ):
        metrics.append(("cost", f"Cost ({currency})", lambda v: money(v, currency)))
    if not steps:
        return Block("forecast", title, table, lead="The forecast holds no step.")
    labels = [step_label(s) for s in steps]
    panels = [
        Panel(
            name,
            labels,
            [
                _series(
                    "forecast", [s["forecast"].get(k) for s in steps], fmt, charts.BLUE, "////"
                ),
                _series("what happened", [s["actual"].get(k) for s in steps], fmt, charts.BLUE),
            ],
        )
        for k, name, fmt in metrics
    ]
    svg = _chart(r, "forecast", "forecast and what happened per step", panels)
    basis = forecast.get("basis")
    lead = f"The forecast made when the round started, {BASES.get(basis, f'basis {basis}')}."
    return Block("forecast", title, table, svg, lead)


def round_view(r: Mapping[str, Any]) -> RoundView:
    """One round's section: its facts and its blocks, charts drawn."""
    cost = r["cost"]
    spend = cost["total"]
    facts = [
        ("Started", f"{when(r['started_at'])} by {r['started_by'] or DASH}"),
        ("Finished", when(r["finished_at"])),
        ("Enrolled", count(r["enrolled"])),
        ("Verified profiles", count(cost["verified_profiles"])),
        ("Completed enrollments", count(cost["completed_enrollments"])),
        (
            "Spend",
            DASH if cost["currency"] is None or spend is None else money(spend, cost["currency"]),
        ),
    ]
    blocks = [
        _funnel(r),
        _drop_off(r),
        _completeness(r),
        _cost(r),
        *(Block("incentive", "Incentive", t, lead=lead) for lead, t in incentive_tables(r)),
        _time_to_answer(r),
        _results(r, "by_country", "country", "Country"),
        _results(r, "by_language", "locale", "Language"),
        _forecast(r),
    ]
    heading = f"Round {r['round_id']} · {campaign_name(r['campaign'])} · {r['status']}"
    return RoundView(anchor(r["round_id"]), heading, facts, blocks)
