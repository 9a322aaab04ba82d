"""The forecast from a real database: observed rates where earlier rounds show enough, the
defaults elsewhere (and said so), exact numbers for a small population, costs and JSON."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Connection, Engine

from models.audit_trail.sealing import seal
from models.campaigns.spec import CampaignSpec, Costs, ForecastRates, Step
from models.forecast.basis import describe_basis
from models.forecast.forecast import Forecast, make_forecast
from models.forecast.stored import campaign_version
from models.forecast.waits import SendPace
from models.rounds.selection import plan
from models.scheduling.caps import CapPolicy
from models.scheduling.due_step_release import Respect
from models.scheduling.windows import SendWindow, WindowPolicy
from tests.factories import COOLDOWN, EXHAUSTED_COOLDOWN, MAX_AGE, NOW
from tests.models.forecast.history import (
    Outcome,
    earlier_email_round,
    population,
    scripted_round,
    stored_campaign,
)

ALWAYS = SendWindow(time(0), time(0), frozenset(range(7)))
OPEN_PACE = SendPace(
    Respect(
        WindowPolicy(
            email=ALWAYS,
            sms=ALWAYS,
            letter_days=frozenset(range(7)),
            letter_cutoff=time(0),
            holiday_country=None,
        ),
        CapPolicy(),
        ZoneInfo("Europe/Amsterdam"),
    )
)


def campaign(**extra: object) -> CampaignSpec:
    return CampaignSpec.model_validate(
        {
            "key": "t",
            "name": "T",
            "gaps": ["missing_email", "missing_mobile", "unverified_postal"],
            "ladder": [
                Step(channel="email", wait_days=5),
                Step(channel="sms", wait_days=5),
                Step(channel="letter", wait_days=21),
            ],
            **extra,
        }
    )


ROUND_DEFAULTS = {
    "sms": ForecastRates(answered=0.5, verified=0.25, completed=0.25),
    "letter": ForecastRates(answered=0.5, verified=0.5, completed=0.5),
}
COSTS = Costs(currency="EUR", per_message={"email": 0.01, "sms": 0.05, "letter": 1.0})


def forecast(conn: Connection, spec: CampaignSpec) -> Forecast:
    counted = plan(
        conn=conn,
        spec=spec,
        now=NOW,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
    )
    return make_forecast(
        conn,
        spec=spec,
        plan=counted,
        campaign_version=campaign_version(conn, spec=spec),
        now=NOW,
        pace=OPEN_PACE,
    )


def numbers(result: Forecast) -> list[tuple[object, ...]]:
    return [
        (
            s.rates.basis,
            s.reaching,
            s.messages,
            s.letters,
            s.cost,
            s.answered,
            s.verified,
            s.completed,
        )
        for s in result.steps
    ]


def test_with_no_earlier_round_the_built_in_defaults_are_used_and_said(engine: Engine) -> None:
    with engine.begin() as conn:
        population(conn)
        result = forecast(conn, campaign())
    assert result.basis == "defaults"
    assert result.observed_rounds == []
    assert describe_basis(result) == "No earlier round of campaign t: built-in defaults."
    # Built-in email rates on the 10 with an email: 0.12 answered, 0.10 verified, 0.08 completed.
    first = result.as_dict()["steps"][0]
    assert (first["messages"], first["answered"], first["verified"], first["completed"]) == (
        10,
        1,
        1,
        1,
    )


def test_the_campaign_files_defaults_are_used_where_it_sets_them(engine: Engine) -> None:
    with engine.begin() as conn:
        population(conn)
        result = forecast(conn, campaign(forecast_defaults=ROUND_DEFAULTS))
    assert [s.rates.source for s in result.steps] == ["built-in", "configured", "configured"]
    assert describe_basis(result) == (
        "No earlier round of campaign t: step 1 on built-in defaults; "
        "steps 2, 3 on configured defaults."
    )


def test_observed_rates_drive_the_steps_that_have_enough_of_them(engine: Engine) -> None:
    spec = campaign(forecast_defaults=ROUND_DEFAULTS, costs=COSTS)
    with engine.begin() as conn:
        round_id = earlier_email_round(conn, spec)
        population(conn)
        result = forecast(conn, spec)
    # Step 1, observed: 8 of the 10 emails go out (0.8); 2 answer, 1.6 verify, 0.8 complete.
    # Step 2, configured: 19.2 reach it, the 9.2 left with a mobile get an SMS; 4.6 answer,
    #   2.3 verify, 2.3 complete.
    # Step 3, configured: 16.9 reach it and get a letter (6.9 + the 10 with only an address);
    #   half of them answer, verify and complete: 8.45 each.
    assert numbers(result) == [
        ("observed", 20, 8, 0, 0.08, 2, 2, 1),
        ("defaults", 19, 9, 0, 0.45, 5, 2, 2),
        ("defaults", 17, 17, 17, 17.0, 8, 8, 8),
    ]
    assert result.total() == {
        "messages": 34,
        "letters": 17,
        "cost": 17.53,
        "verified": 12,
        "completed": 11,
        "days": 31.0,
    }
    assert (result.basis, result.observed_rounds, result.currency) == ("mixed", [round_id], "EUR")
    rates = result.as_dict()["steps"][0]["rates"]
    assert rates == {
        "sent_per_reaching": 0.4,
        "answered_per_sent": 0.25,
        "verified_per_sent": 0.2,
        "completed_per_sent": 0.1,
    }
    assert describe_basis(result) == (
        f"Step 1 from round {round_id} of campaign t; steps 2, 3 on configured defaults."
    )


def test_messages_whose_response_window_is_not_over_do_not_count(engine: Engine) -> None:
    spec = campaign()
    with engine.begin() as conn:
        campaign_id = stored_campaign(conn, spec)
        recent = scripted_round(
            conn,
            spec=spec,
            campaign_id=campaign_id,
            at=NOW - timedelta(days=2),
            people=[[Outcome(answered=True, completed=True)]] * 30,
            status="running",
        )
        population(conn)
        result = forecast(conn, spec)
    assert result.basis == "defaults"
    assert describe_basis(result).startswith(
        f"Round {recent} of campaign t: too little to go by yet (fewer than 20 messages"
    )


def test_standing_rounds_and_other_campaigns_are_left_out(engine: Engine) -> None:
    spec = campaign()
    with engine.begin() as conn:
        earlier_email_round(conn, spec, status="standing")
        earlier_email_round(conn, campaign().model_copy(update={"key": "other"}), prefix="other")
        population(conn)
        result = forecast(conn, spec)
    assert (result.basis, result.earlier_rounds) == ("defaults", ())


def test_without_costs_every_cost_is_null(engine: Engine) -> None:
    with engine.begin() as conn:
        population(conn)
        shape = forecast(conn, campaign()).as_dict()
    assert shape["currency"] is None
    assert [s["cost"] for s in shape["steps"]] == [None, None, None]
    assert shape["total"]["cost"] is None


def test_the_forecast_has_the_documented_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        population(conn)
        shape = forecast(conn, campaign(costs=COSTS)).as_dict()
    assert list(shape) == [
        "campaign",
        "made_at",
        "basis",
        "observed_rounds",
        "currency",
        "selected",
        "steps",
        "total",
    ]
    assert shape["campaign"] == {"key": "t", "version": 1}
    assert shape["made_at"] == "2026-11-23T12:00:00+00:00"
    assert shape["selected"] == 20
    assert list(shape["steps"][0]) == [
        "step",
        "channel",
        "basis",
        "reaching",
        "messages",
        "letters",
        "cost",
        "answered",
        "verified",
        "completed",
        "rates",
        "wait_days",
        "send_days",
    ]
    assert list(shape["steps"][0]["rates"]) == [
        "sent_per_reaching",
        "answered_per_sent",
        "verified_per_sent",
        "completed_per_sent",
    ]
    assert list(shape["total"]) == ["messages", "letters", "cost", "verified", "completed", "days"]


def test_a_limit_scales_the_selection_down_evenly(engine: Engine) -> None:
    spec = campaign(forecast_defaults={"email": ForecastRates(answered=0, verified=0, completed=0)})
    with engine.begin() as conn:
        population(conn)
        counted = plan(
            conn=conn,
            spec=spec,
            now=NOW,
            max_age_days=MAX_AGE,
            cooldown_days=COOLDOWN,
            exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        )
        result = make_forecast(
            conn, spec=spec, plan=counted, campaign_version=1, now=NOW, pace=OPEN_PACE, limit=10
        )
    assert (result.selected, result.steps[0].reaching, result.steps[0].messages) == (10, 10, 5)


@pytest.mark.parametrize("stored", ["same", "changed", "none"])
def test_the_campaign_version_is_the_stored_one_or_the_next(engine: Engine, stored: str) -> None:
    spec = campaign()
    with engine.begin() as conn:
        if stored != "none":
            stored_campaign(conn, spec if stored == "same" else campaign(name="Older"))
        version = campaign_version(conn, spec=spec)
    assert version == {"same": 1, "changed": 2, "none": 1}[stored]


def test_verifications_count_the_same_once_the_trail_is_sealed(engine: Engine) -> None:
    spec = campaign()
    with engine.begin() as conn:
        earlier_email_round(conn, spec)
        population(conn)
    assert seal(engine) > 0
    with engine.connect() as conn:
        first = forecast(conn, spec).steps[0]
    assert (first.rates.basis, first.rates.verified) == ("observed", 0.2)
