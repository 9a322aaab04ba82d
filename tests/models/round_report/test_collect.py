"""The report's figures over the scripted round, counted by hand from its customers' stories.

Each number below follows from the table in :mod:`tests.models.round_report.scenario`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from models.round_report import CampaignNotFound, collect_report
from models.rounds.status import RoundNotFound
from tests.models.round_report.population import NOW, T0
from tests.models.round_report.scenario import Scenario

STAGES = (
    "enrolled",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "link_opened",
    "answered",
    "verified",
    "completed",
)


def report(engine: Engine, **kwargs: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        found = collect_report(conn, now=NOW, **kwargs)
    return json.loads(json.dumps(found))  # what --json prints


def the_round(report_world: Scenario) -> dict[str, Any]:
    rounds = report(report_world.engine, round_id=report_world.round_id)["rounds"]
    assert len(rounds) == 1
    return rounds[0]


def test_the_funnel_counts_every_stage_per_step_and_channel(report_world: Scenario) -> None:
    funnel = the_round(report_world)["funnel"]
    got = [(row["step"], row["channel"], *(row[s] for s in STAGES)) for row in funnel]
    assert got == [
        # 11 reached the email step, no-email's was skipped; delivered: answers, late-consent,
        # stops; opened: answers, late-consent; clicked: answers; link opened: the two who
        # answered, and looks-only; both answers verified a contact point, both completed.
        (1, "email", 11, 10, 3, 2, 1, 3, 2, 2, 2),
        # new-york and capped were held; dead-number's undelivered SMS was sent all the same.
        (2, "sms", 8, 8, 1, None, None, 2, 2, 2, 2),
        (3, "letter", 6, 6, None, None, None, 0, 0, 0, 0),
    ]


def test_drop_off_gives_one_reason_per_message_and_per_enrollment_left(
    report_world: Scenario,
) -> None:
    got = [
        (d["step"], d["channel"], d["reason"], d["count"])
        for d in the_round(report_world)["drop_off"]
    ]
    assert got == [
        (1, "email", "skipped", 1),  # no-email
        (1, "email", "failed", 1),  # blocked
        (1, "email", "bounced", 1),  # bounces
        (1, "email", "opted_out", 1),  # unsubscribes
        (1, "email", "capped", 1),  # capped: its SMS held by the cap
        (1, "email", "waiting", 1),  # new-york: its SMS held by quiet hours
        (2, "sms", "invalid", 1),  # dead-number
        (2, "sms", "opted_out", 1),  # stops
        (3, "letter", "exhausted", 6),
    ]


def test_completeness_compares_the_start_with_now(report_world: Scenario) -> None:
    rows = {r["field"]: r for r in the_round(report_world)["completeness"]}
    assert list(rows) == ["email", "mobile", "postal", "consents"]
    # At the start only looks-only had a fresh verified email (bounces' was stale), and
    # dead-number's start was not recorded. Now: looks-only and no-email's new address; the
    # mobiles and addresses of late-consent and no-email; their consents. The erased
    # customer's verified email, address and consent are gone.
    assert rows["email"] == {
        "field": "email",
        "of": 11,
        "at_start": 1,
        "now": 2,
        "at_start_share": 0.1,
        "now_share": 0.1818,
        "unrecorded": 1,
    }
    for field in ("mobile", "postal", "consents"):
        assert (rows[field]["at_start"], rows[field]["now"]) == (0, 2), field


def test_cost_multiplies_the_messages_sent_by_the_unit_costs(report_world: Scenario) -> None:
    cost = the_round(report_world)["cost"]
    assert cost == {
        "currency": "EUR",
        "per_step": [
            {"step": 1, "channel": "email", "messages": 10, "unit_cost": 0.01, "spend": 0.1},
            {"step": 2, "channel": "sms", "messages": 8, "unit_cost": 0.08, "spend": 0.64},
            {"step": 3, "channel": "letter", "messages": 6, "unit_cost": 0.9, "spend": 5.4},
        ],
        "total": 6.14,
        "verified_profiles": 3,  # answers, late-consent, no-email
        "per_verified_profile": 2.0467,
        "completed_enrollments": 3,
        "per_completed_enrollment": 2.0467,
    }


def test_time_to_answer_per_channel(report_world: Scenario) -> None:
    # Email: 3 h and 5 h after sending; SMS: 24 h (no-email) and 2 h (late-consent).
    assert the_round(report_world)["time_to_answer"] == [
        {"channel": "email", "answered": 2, "median_hours": 4.0, "p90_hours": 4.8},
        {"channel": "sms", "answered": 2, "median_hours": 13.0, "p90_hours": 21.8},
    ]


def test_results_by_country_and_language(report_world: Scenario) -> None:
    found = the_round(report_world)
    countries = [tuple(r.values()) for r in found["by_country"]]
    assert countries == [
        ("NL", 7, 1, 1, 0.1429),
        ("BE", 1, 1, 1, 1.0),
        ("DE", 1, 0, 0, 0.0),
        ("US", 1, 0, 0, 0.0),
        (None, 1, 1, 1, 1.0),  # the erased customer: no country any more, results kept
    ]
    languages = [tuple(r.values()) for r in found["by_language"]]
    assert languages == [
        ("nl", 7, 2, 2, 0.2857),
        ("en", 2, 0, 0, 0.0),
        ("de", 1, 0, 0, 0.0),
        ("fr", 1, 1, 1, 1.0),
    ]
    assert (found["enrolled"], found["erased_profiles"]) == (11, 1)


def test_the_forecast_stands_next_to_what_happened(report_world: Scenario) -> None:
    forecast = the_round(report_world)["forecast"]
    assert forecast["basis"] == "defaults"
    got = [(s["step"], s["channel"], s["forecast"], s["actual"]) for s in forecast["steps"]]
    assert got == [
        (1, "email", {"messages": 10, "cost": 0.1, "verified": 3},
         {"messages": 10, "cost": 0.1, "verified": 2}),
        (2, "sms", {"messages": 7, "cost": 0.56, "verified": 1},
         {"messages": 8, "cost": 0.64, "verified": 2}),
        (3, "letter", {"messages": 5, "cost": 4.5, "verified": 1},
         {"messages": 6, "cost": 5.4, "verified": 0}),
    ]  # fmt: skip
    assert forecast["total"] == {
        "forecast": {"messages": 22, "cost": 5.16, "verified": 5},
        "actual": {"messages": 24, "cost": 6.14, "verified": 4},
    }


def test_the_header_names_the_round_and_the_query(report_world: Scenario) -> None:
    found = report(report_world.engine, round_id=report_world.round_id)
    assert found["report"] == {
        "generated_at": NOW.isoformat(),
        "database": report_world.engine.dialect.name,
        "parameters": {"round": report_world.round_id, "campaign": None, "since": None},
    }
    head = {k: v for k, v in found["rounds"][0].items() if not isinstance(v, list | dict)}
    assert head == {
        "round_id": report_world.round_id,
        "status": "finished",
        "started_at": T0.isoformat(),
        "started_by": "steward",
        "finished_at": "2026-11-09T12:00:00+00:00",
        "enrolled": 11,
        "erased_profiles": 1,
        "max_age_days": 730,
        "incentive": None,  # the campaign offers none
    }
    assert found["rounds"][0]["campaign"] == {"key": "report", "version": 1}


def test_a_round_without_costs_purposes_or_a_recorded_start(report_world: Scenario) -> None:
    earlier = report(report_world.engine, round_id=report_world.earlier_round_id)["rounds"][0]
    assert earlier["funnel"] == [
        {"step": 1, "channel": "sms", "enrolled": 1, "sent": 1, "delivered": 0, "opened": None,
         "clicked": None, "link_opened": 0, "answered": 0, "verified": 0, "completed": 0},
    ]  # fmt: skip
    assert earlier["cost"]["currency"] is None
    assert earlier["cost"]["per_step"][0] == {
        "step": 1,
        "channel": "sms",
        "messages": 1,
        "unit_cost": None,
        "spend": None,
    }
    assert (earlier["cost"]["total"], earlier["cost"]["per_completed_enrollment"]) == (None, None)
    # No purposes: no consents field; the start was never recorded: no share of it.
    assert [r["field"] for r in earlier["completeness"]] == ["email", "mobile", "postal"]
    assert earlier["completeness"][0]["unrecorded"] == 1
    assert earlier["completeness"][0]["at_start_share"] is None
    assert (earlier["drop_off"], earlier["time_to_answer"], earlier["forecast"]) == ([], [], None)


def ids(found: dict[str, Any]) -> list[int]:
    return [r["round_id"] for r in found["rounds"]]


def test_which_rounds_a_report_covers(report_world: Scenario) -> None:
    main, earlier, standing = (
        report_world.round_id,
        report_world.earlier_round_id,
        report_world.standing_round_id,
    )
    assert ids(report(report_world.engine)) == [
        earlier,
        main,
    ]  # never the standing round by default
    assert ids(report(report_world.engine, campaign="report")) == [main]
    assert ids(report(report_world.engine, campaign="earlier")) == [earlier]
    assert ids(report(report_world.engine, since=T0.date())) == [main]
    assert ids(report(report_world.engine, since=NOW.date())) == []
    assert ids(report(report_world.engine, campaign="earlier", since=T0.date())) == []
    assert ids(report(report_world.engine, round_id=standing)) == [standing]
    found = report(report_world.engine, campaign="report", since=T0.date())
    assert found["report"]["parameters"] == {
        "round": None,
        "campaign": "report",
        "since": "2026-11-02",
    }


def test_an_unknown_round_or_campaign_and_both_at_once_are_refused(report_world: Scenario) -> None:
    with pytest.raises(RoundNotFound, match="round 999 does not exist"):
        report(report_world.engine, round_id=999)
    with pytest.raises(CampaignNotFound, match="no campaign has the key 'nope'"):
        report(report_world.engine, campaign="nope")
    with pytest.raises(ValueError, match="not both"):
        report(report_world.engine, round_id=report_world.round_id, campaign="report")


def test_the_report_holds_no_personal_data(report_world: Scenario) -> None:
    text = json.dumps(report(report_world.engine))
    for name in report_world.profiles:
        assert f"{name}@example.org" not in text
        assert f"report-{list(report_world.profiles).index(name)}" not in text
    assert "+3161" not in text and "Weg" not in text
