"""The forecast of a round: the ladder projected step by step, its cost and its days.

:func:`make_forecast` reads what earlier rounds showed (:mod:`models.forecast.observed`),
chooses each step's rates (:mod:`models.forecast.rates`), walks the ladder with the plan's
selection (:mod:`models.forecast.projection`) and times it (:mod:`models.forecast.waits`).
Counts are rounded half up to whole messages and profiles; the cost is the rounded messages
times the unit cost, so the table adds up; totals are sums of the steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from models.campaigns.spec import CampaignSpec
from models.forecast.observed import earlier_rounds, observe
from models.forecast.projection import StepProjection, project
from models.forecast.rates import MIN_SENT, MIXED, StepRates, default_rates, observed_rates
from models.forecast.waits import SendPace, step_days
from models.rounds.selection import Plan
from models.vocabulary import LETTER


def _whole(value: float) -> int:
    return math.floor(value + 0.5)


def _share(value: float) -> float:
    return round(value, 4)


@dataclass(frozen=True)
class ForecastStep:
    step: int  # 1-based, as the steward counts them
    channel: str
    rates: StepRates
    reaching: int
    messages: int
    answered: int
    verified: int
    completed: int
    cost: float | None
    sent_per_reaching: float | None
    wait_days: float
    send_days: float

    @property
    def letters(self) -> int:
        return self.messages if self.channel == LETTER else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "channel": self.channel,
            "basis": self.rates.basis,
            "reaching": self.reaching,
            "messages": self.messages,
            "letters": self.letters,
            "cost": self.cost,
            "answered": self.answered,
            "verified": self.verified,
            "completed": self.completed,
            "rates": {
                "sent_per_reaching": self.sent_per_reaching,
                "answered_per_sent": _share(self.rates.answered),
                "verified_per_sent": _share(self.rates.verified),
                "completed_per_sent": _share(self.rates.completed),
            },
            "wait_days": self.wait_days,
            "send_days": self.send_days,
        }


@dataclass(frozen=True)
class Forecast:
    campaign_key: str
    campaign_version: int
    made_at: datetime
    currency: str | None
    selected: int
    steps: tuple[ForecastStep, ...]
    # Every earlier round of the campaign, whether or not it showed enough to count.
    earlier_rounds: tuple[int, ...] = ()

    @property
    def basis(self) -> str:
        found = {step.rates.basis for step in self.steps}
        return found.pop() if len(found) == 1 else MIXED

    @property
    def observed_rounds(self) -> list[int]:
        return sorted({r for step in self.steps for r in step.rates.rounds})

    def total(self) -> dict[str, Any]:
        costs = [step.cost for step in self.steps]
        return {
            "messages": sum(step.messages for step in self.steps),
            "letters": sum(step.letters for step in self.steps),
            "cost": None if self.currency is None else round(sum(c or 0.0 for c in costs), 4),
            "verified": sum(step.verified for step in self.steps),
            "completed": sum(step.completed for step in self.steps),
            "days": round(sum(step.wait_days + step.send_days for step in self.steps), 2),
        }

    def as_dict(self) -> dict[str, Any]:
        """The stored and printed shape (``Round.forecast``, ``enrich round plan --json``)."""
        return {
            "campaign": {"key": self.campaign_key, "version": self.campaign_version},
            "made_at": self.made_at.astimezone(UTC).isoformat(),
            "basis": self.basis,
            "observed_rounds": self.observed_rounds,
            "currency": self.currency,
            "selected": self.selected,
            "steps": [step.as_dict() for step in self.steps],
            "total": self.total(),
        }


def step_rates(
    conn: Connection, *, spec: CampaignSpec, now: datetime, before_round: int | None = None
) -> list[StepRates]:
    """Each ladder step's rates: observed when enough of its messages are old enough, else
    the defaults (:mod:`models.forecast.rates`)."""
    seen = observe(conn, key=spec.key, ladder=spec.ladder, now=now, before_round=before_round)
    rates: list[StepRates] = []
    for index, step in enumerate(spec.ladder):
        found = seen.get(index)
        if found is None or found.sent < MIN_SENT:
            rates.append(default_rates(spec, step.channel))
            continue
        rates.append(
            observed_rates(
                attempted=found.attempted,
                sent=found.sent,
                answered=found.answered,
                verified=found.verified,
                completed=found.completed,
                rounds=found.rounds,
            )
        )
    return rates


def _scaled(per_usable: Mapping[tuple[str, ...], int], total: int, limit: int | None) -> Any:
    if limit is None or limit >= total:
        return dict(per_usable)
    return {combination: n * limit / total for combination, n in per_usable.items()}


def _step(
    spec: CampaignSpec, projected: StepProjection, rates: StepRates, days: tuple[float, float]
) -> ForecastStep:
    messages = _whole(projected.messages)
    cost = None if spec.costs is None else round(messages * spec.costs.of(projected.channel), 4)
    return ForecastStep(
        step=projected.index + 1,
        channel=projected.channel,
        rates=rates,
        reaching=_whole(projected.reaching),
        messages=messages,
        answered=_whole(projected.answered),
        verified=_whole(projected.verified),
        completed=_whole(projected.completed),
        cost=cost,
        sent_per_reaching=(
            _share(projected.messages / projected.reaching) if projected.reaching else None
        ),
        wait_days=round(days[0], 2),
        send_days=round(days[1], 2),
    )


def make_forecast(
    conn: Connection,
    *,
    spec: CampaignSpec,
    plan: Plan,
    campaign_version: int,
    now: datetime,
    pace: SendPace,
    before_round: int | None = None,
    limit: int | None = None,
) -> Forecast:
    """The forecast of a round of ``spec`` over ``plan``'s selection (at most ``limit``
    enrolled, the selection scaled down evenly), from the rounds before ``before_round``
    (all of the campaign's when None). Reads only."""
    rates = step_rates(conn, spec=spec, now=now, before_round=before_round)
    per_usable = _scaled(plan.per_usable, plan.total, limit)
    projected = project(ladder=spec.ladder, per_usable=per_usable, rates=rates)
    days = step_days(
        ladder=spec.ladder, messages=[p.messages for p in projected], now=now, pace=pace
    )
    return Forecast(
        campaign_key=spec.key,
        campaign_version=campaign_version,
        made_at=now,
        currency=spec.costs.currency if spec.costs is not None else None,
        selected=plan.total if limit is None else min(plan.total, limit),
        steps=tuple(_step(spec, p, r, d) for p, r, d in zip(projected, rates, days, strict=True)),
        earlier_rounds=tuple(earlier_rounds(conn, key=spec.key, before_round=before_round)),
    )
