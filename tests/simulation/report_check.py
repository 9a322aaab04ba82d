"""The steward's report and the forecast of the next round, read after the 60 simulated days and
held against what the scripts and the rules-only model say happened."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from models.campaigns.spec import CampaignSpec
from models.forecast.forecast import step_rates
from models.round_report.collect import collect_report
from models.tables import ROUND
from tests.simulation.expected import LADDER, Expected
from tests.simulation.population import Customer

STEP_OF = {channel: index + 1 for index, (channel, _wait) in enumerate(LADDER)}


def _ladder_lines(plan: Expected) -> list[Any]:
    return [line for line in plan.history if line[3] is None]


def _hours(values: list[float]) -> tuple[float, float]:
    if len(values) == 1:
        return round(values[0], 2), round(values[0], 2)
    median = statistics.median(values)
    p90 = statistics.quantiles(values, n=10, method="inclusive")[-1]
    return round(median, 2), round(p90, 2)


def expected_report(customers: list[Customer], plans: dict[str, Expected], spec: CampaignSpec):  # type: ignore[no-untyped-def]
    """The funnel, the answers, the cost and the times worked out from the scripts and the
    model's histories alone."""
    reached: Counter[int] = Counter()
    sent: Counter[int] = Counter()
    answered: Counter[int] = Counter()
    completed: Counter[int] = Counter()
    waited: dict[str, list[float]] = {}
    for c in customers:
        plan = plans[c.external_id]
        lines = _ladder_lines(plan)
        for _t, channel, _template, _context, status in lines:
            reached[STEP_OF[channel]] += 1
            if status in ("sent", "failed"):  # a bounce or a dead number was sent all the same
                sent[STEP_OF[channel]] += 1
        answer = c.script.answer
        if answer is not None and plan.answer is not None:
            answered[STEP_OF[answer.via]] += 1
            if plan.answer == "completed":
                completed[STEP_OF[answer.via]] += 1
            [sent_at] = [t for t, channel, *_ in lines if channel == answer.via]
            waited.setdefault(answer.via, []).append((answer.at - sent_at) / timedelta(hours=1))
    assert spec.costs is not None
    spend = sum(sent[STEP_OF[ch]] * spec.costs.of(ch) for ch, _wait in LADDER)
    states = Counter(plans[c.external_id].state for c in customers)
    return {
        "reached": reached,
        "sent": sent,
        "answered": answered,
        "completed": completed,
        "times": {ch: (len(v), *_hours(v)) for ch, v in waited.items()},
        "spend": round(spend, 4),
        "states": states,
    }


def check_report(
    engine: Engine, customers: list[Customer], plans: dict[str, Expected], spec: CampaignSpec,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    want = expected_report(customers, plans, spec)
    # The scripts answer through email and SMS, complete or not, and leave ladders to run out.
    assert sum(want["answered"].values()) == 12 > sum(want["completed"].values()) > 0
    assert want["states"]["exhausted"] > 0 and set(want["times"]) == {"email", "sms"}
    with engine.connect() as conn:
        round_id = conn.execute(
            select(func.min(ROUND.c.id)).where(ROUND.c.status != "standing")
        ).scalar_one()
        report = collect_report(conn, round_id=round_id, now=now)
    [section] = report["rounds"]
    assert section["enrolled"] == len(customers)
    funnel = {row["step"]: row for row in section["funnel"]}
    assert {s: row["enrolled"] for s, row in funnel.items()} == dict(want["reached"])
    assert {s: row["sent"] for s, row in funnel.items()} == {
        s: want["sent"].get(s, 0) for s in funnel
    }
    assert {s: row["answered"] for s, row in funnel.items()} == {
        s: want["answered"].get(s, 0) for s in funnel
    }
    # Every answer confirmed the customer's address: each answer verified something.
    assert {s: row["verified"] for s, row in funnel.items()} == {
        s: want["answered"].get(s, 0) for s in funnel
    }
    assert {s: row["completed"] for s, row in funnel.items()} == {
        s: want["completed"].get(s, 0) for s in funnel
    }
    for row in funnel.values():
        assert row["link_opened"] >= row["answered"]
        if row["channel"] == "letter":
            assert (row["delivered"], row["opened"], row["clicked"]) == (None, None, None)
    times = {t["channel"]: (t["answered"], t["median_hours"], t["p90_hours"])
             for t in section["time_to_answer"]}  # fmt: skip
    assert times == want["times"]
    cost = section["cost"]
    assert (cost["currency"], cost["total"]) == ("EUR", want["spend"])
    completed_total = sum(want["completed"].values())
    assert cost["completed_enrollments"] == want["states"]["completed"] == completed_total
    reasons = Counter()  # type: ignore[var-annotated]
    for item in section["drop_off"]:
        reasons[item["reason"]] += item["count"]
    assert reasons["exhausted"] == want["states"]["exhausted"]
    assert reasons["waiting"] == reasons["capped"] == 0  # sixty days outlast every ladder
    # Nobody had a verified address at the start; each answer confirmed one.
    postal = next(f for f in section["completeness"] if f["field"] == "postal")
    assert (postal["of"], postal["at_start"], postal["unrecorded"]) == (len(customers), 0, 0)
    assert postal["now"] == sum(want["answered"].values())
    return report


def check_observed_rates(
    engine: Engine, customers: list[Customer], plans: dict[str, Expected], spec: CampaignSpec,
    now: datetime,
) -> None:  # fmt: skip
    """The next round's forecast reads the rates the simulation produced."""
    want = expected_report(customers, plans, spec)
    with engine.connect() as conn:
        rates = step_rates(conn, spec=spec, now=now)
    for step, rate in enumerate(rates, start=1):
        if want["sent"][step] >= 20:
            assert rate.basis == "observed", step
            assert rate.answered == want["answered"][step] / want["sent"][step]
            assert rate.completed == want["completed"][step] / want["sent"][step]
        else:
            assert rate.basis == "defaults", step
    assert any(r.basis == "observed" for r in rates)
