"""One budget of attempts per provider request, end to end through the round flow's send task.

A provider that answers 503 to everything gets ENRICH_PROVIDER_MAX_RETRIES + 1 requests for a
failing batch, not that many again for each of Prefect's task retries; the messages stay
pending, and the next run sends each of them once the provider is back.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from flows.round import enrichment_round, resume_round
from flows.tasks import TASK_RETRIES
from models.tables import OUTREACH, Round
from outreach.errors import ProviderUnavailable
from tests.models.rounds.test_selection import COMPLETE, add_profile, replace
from tests.providers.conftest import Setup
from tests.standins.sendgrid import Outcome

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def add_customers(engine: Engine, *, missing: str, count: int) -> None:
    """``count`` profiles missing ``missing``: their first step goes to what they have."""
    with engine.begin() as conn:
        for i in range(count):
            add_profile(conn, f"c{i}", replace(COMPLETE, missing))


def outreach_states(engine: Engine) -> list[tuple[str, str, bool]]:
    """(channel, status, handed to the provider) of every step not skipped."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTREACH.c.channel, OUTREACH.c.status, OUTREACH.c.attempted_at).where(
                OUTREACH.c.status != "skipped"
            )
        )
        return sorted((r.channel, r.status, r.attempted_at is not None) for r in rows)


def only_round(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(Round.id)).scalar_one())  # type: ignore[call-overload]


def test_sendgrid_down_gets_the_budget_of_requests_once_and_the_next_run_sends(
    providers: Setup,
) -> None:
    engine = get_engine(providers.settings)
    budget = providers.settings.provider_max_retries + 1
    add_customers(engine, missing="mobile", count=3)  # one Mail Send request for all three
    # Enough 503s for every attempt the old nesting allowed: budget per task attempt.
    providers.sendgrid.push(*[Outcome.fail(503)] * (budget * (TASK_RETRIES + 1)))

    with pytest.raises(ProviderUnavailable, match=f"SendGrid answered 503 {budget} times"):
        enrichment_round(started_by="tester")

    assert providers.sendgrid.requests_seen == budget
    assert providers.sendgrid.delivered == []
    assert outreach_states(engine) == [("email", "pending", False)] * 3

    with providers.sendgrid.lock:
        providers.sendgrid.script.clear()  # SendGrid is back
    again = resume_round(only_round(engine), started_by="tester")
    assert again["sent"] == 3
    assert providers.sendgrid.requests_seen == budget + 1
    assert sorted(providers.sendgrid.accepted_per_outreach().values()) == [1, 1, 1]


def test_twilio_down_gets_the_budget_of_requests_once_and_the_next_run_sends(
    providers: Setup,
) -> None:
    engine = get_engine(providers.settings)
    budget = providers.settings.provider_max_retries + 1
    add_customers(engine, missing="email", count=1)  # one SMS: one create request, retried
    providers.twilio.fail_next(503, times=budget * (TASK_RETRIES + 1))

    with pytest.raises(ProviderUnavailable, match=f"Twilio unavailable after {budget} attempts"):
        enrichment_round(started_by="tester")

    assert len(providers.twilio.create_times) == budget
    assert providers.twilio.messages == []
    assert outreach_states(engine) == [("sms", "pending", False)]

    while providers.twilio.take_failure("POST") is not None:  # Twilio is back
        pass
    again = resume_round(only_round(engine), started_by="tester")
    assert again["sent"] == 1
    assert len(providers.twilio.create_times) == budget + 1
    assert list(providers.twilio.per_outreach().values()) == [1]
